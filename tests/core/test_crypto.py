"""Identifiers and contacts are encrypted at rest, looked up through keyed blind indexes, and rotatable."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from core import crypto
from core.db import Base
from core.identifiers import IDENTIFIER_PATTERN
from core.settings import Settings
from credit_profile.borrowers import find_borrower
from credit_profile.models import Borrower
from tests.conftest import TEST_DATA_KEY
from tests.factories import BorrowerFactory, UserFactory, make_id_number, make_uscc
from tests.portal.api_helpers import register, register_body, sms_code, uscc

pytestmark = pytest.mark.smoke


@pytest.fixture
def restore_keys():
    yield
    crypto.configure((TEST_DATA_KEY,))


def raw(session, sql: str, **params):
    return session.execute(text(sql), params).one()


def test_identifiers_and_phone_are_ciphertext_in_the_database(session):
    code, person = make_uscc(), make_id_number()
    enterprise = BorrowerFactory(uscc=code)
    farmer = BorrowerFactory(farmer=True, id_number=person)
    user = UserFactory(phone="13907961234", borrower_id=enterprise.id)
    session.flush()
    stored_uscc, uscc_index = raw(
        session, "SELECT uscc, uscc_index FROM borrowers WHERE id = :i", i=enterprise.id
    )
    stored_id, id_index = raw(
        session, "SELECT id_number, id_number_index FROM borrowers WHERE id = :i", i=farmer.id
    )
    (stored_phone,) = raw(session, "SELECT phone FROM users WHERE id = :i", i=user.id)
    for plaintext, stored in ((code, stored_uscc), (person, stored_id), ("13907961234", stored_phone)):
        assert plaintext not in stored
        assert crypto.current().decrypt(stored) == plaintext
    assert uscc_index == crypto.current().blind_index(code) and len(uscc_index) == 64
    assert id_index == crypto.current().blind_index(person)
    session.expire_all()
    assert session.get(Borrower, enterprise.id).uscc == code
    assert session.get(Borrower, farmer.id).id_number == person


def test_same_value_encrypts_differently_but_indexes_the_same(session):
    keys = crypto.current()
    assert keys.encrypt("91360802MA35ABCD1X") != keys.encrypt("91360802MA35ABCD1X")
    assert keys.blind_index("91360802MA35ABCD1X") == keys.blind_index("91360802MA35ABCD1X")
    assert keys.blind_index("91360802MA35ABCD1X") != keys.blind_index("91360802MA35ABCD2X")


def test_lookups_and_uniqueness_work_through_the_blind_index(client, session):
    code = uscc(41)
    assert register(client, register_body("enc_user1", 41)).status_code == 201
    found = find_borrower(session, uscc=code.lower())
    assert found is not None and found.uscc == code
    assert session.scalar(select(Borrower.id).where(Borrower.uscc == code)) == found.id
    assert session.scalar(select(Borrower.id).where(Borrower.uscc != code, Borrower.id == found.id)) is None
    assert session.scalar(select(Borrower.id).where(Borrower.id_number.is_(None), Borrower.id == found.id))
    # A second registration of the code is answered as any other (no oracle) and refused at verification.
    again = client.post("/api/v1/register", json=register_body("enc_user2", 41))
    assert again.status_code == 201
    refused = client.post(
        "/api/v1/register/verify", json={"username": "enc_user2", "code": sms_code(client, "enc_user2")}
    )
    assert refused.status_code == 422
    assert "registration" in refused.get_json()["error"]["fields"]
    assert session.get(Borrower, again.get_json()["borrower_id"]).uscc is None
    # The database itself refuses a second row with the same identifier, whatever Python checked.
    with pytest.raises(IntegrityError), session.begin_nested():
        BorrowerFactory(name="重复", uscc=code)


def test_other_comparisons_on_encrypted_columns_are_refused():
    with pytest.raises(NotImplementedError):
        select(Borrower.id).where(Borrower.uscc.like("9136%"))
    with pytest.raises(NotImplementedError):
        select(Borrower.id).where(Borrower.uscc > "9")


def test_nothing_identifying_is_stored_in_clear_after_registration(client, session):
    register(client, register_body("enc_user3", 42))
    client.post(
        "/api/v1/register",
        json=register_body(
            "enc_farmer", 43, kind="farmer", uscc=None, id_number=make_id_number(7), industry_code="A"
        ),
    )
    leaks = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(text(f'SELECT * FROM "{table.name}"')).all():
            for value in row:
                if isinstance(value, str) and (IDENTIFIER_PATTERN.search(value) or "13907960000" in value):
                    leaks.append((table.name, value))
    assert leaks == []


def test_rotation_re_encrypts_everything_under_the_new_key(runner, session, restore_keys):
    old, new = TEST_DATA_KEY, crypto.generate_key()
    code = make_uscc()
    borrower = BorrowerFactory(uscc=code)
    user = UserFactory(phone="13907965555")
    session.flush()
    (before,) = raw(session, "SELECT uscc FROM borrowers WHERE id = :i", i=borrower.id)

    crypto.configure((new, old))
    # Half-way: rows still indexed under the old key are found, and new rows use the new key.
    assert find_borrower(session, uscc=code).id == borrower.id
    result = runner.invoke(args=["rotate-data-key"])
    assert result.exit_code == 0, result.output
    assert "borrowers" in result.output and "users" in result.output

    after, index = raw(session, "SELECT uscc, uscc_index FROM borrowers WHERE id = :i", i=borrower.id)
    (phone,) = raw(session, "SELECT phone FROM users WHERE id = :i", i=user.id)
    assert after != before
    only_new = crypto.DataKeys((new,))
    assert only_new.decrypt(after) == code and only_new.decrypt(phone) == "13907965555"
    assert index == only_new.blind_index(code)

    crypto.configure((new,))  # the old key is gone: everything still reads and is still found
    session.expire_all()
    assert find_borrower(session, uscc=code).uscc == code
    with pytest.raises(crypto.DataKeyError):
        crypto.DataKeys((old,)).decrypt(after)


def test_rotation_refuses_when_a_value_opens_with_no_key(runner, session, restore_keys):
    BorrowerFactory()
    session.flush()
    crypto.configure((crypto.generate_key(),))
    result = runner.invoke(args=["rotate-data-key"])
    assert result.exit_code != 0
    assert "旧密钥" in result.output


def test_data_key_settings(tmp_path, monkeypatch):
    from core import settings as settings_module

    first, second = crypto.generate_key(), crypto.generate_key()
    parsed = Settings.from_env(
        {"DATA_KEY": f" {first} , {second} ", "DATABASE_URL": "postgresql+psycopg://x/y"}
    )
    assert parsed.data_keys == (first, second)
    monkeypatch.setattr(settings_module, "INSTANCE_DIR", tmp_path)
    with pytest.raises(ValueError, match="DATA_KEY"):
        Settings.from_env({"DATABASE_URL": "postgresql+psycopg://x/y"})
    embedded = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    assert len(embedded.data_keys) == 1
    assert (tmp_path / "data_key").stat().st_mode & 0o777 == 0o600
    assert Settings.from_env({}).data_keys == embedded.data_keys  # kept, not made up again
    with pytest.raises(crypto.DataKeyError):
        crypto.DataKeys(("not-a-fernet-key",))
    with pytest.raises(crypto.DataKeyError):
        crypto.DataKeys(())
