"""Registration and phone verification: an identifier held by a registration that never verified its
phone goes to the first registration of it that does (credit_profile.registration)."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.accounts import authenticate
from core.errors import InvalidInputError
from core.models import OutgoingMessage, StatusEvent, User
from core.types import utcnow
from credit_profile.borrowers import BorrowerInput
from credit_profile.models import Borrower
from credit_profile.registration import register_applicant, verify_applicant_phone
from credit_profile.retention import purge_unverified_registrations
from tests.credit_profile.helpers import grant
from tests.factories import PASSWORD, BorrowerFactory, NeedFactory, bind_factories
from tests.factories.base import make_id_number, make_uscc

pytestmark = pytest.mark.smoke


def _register(session: Session, username: str, identifier: str, phone: str, *, farmer: bool = True) -> User:
    data = BorrowerInput(
        kind="farmer" if farmer else "enterprise",
        name="某某" if farmer else "吉安某某有限公司",
        region_code="360824",
        industry_code="A",
        id_number=identifier if farmer else None,
        uscc=None if farmer else identifier,
    )
    return register_applicant(session, data, username=username, password=PASSWORD, phone=phone).user


def _code(session: Session, user: User) -> str:
    """The last code texted to the user (as their phone shows it)."""
    body = session.scalar(
        select(OutgoingMessage.body)
        .where(OutgoingMessage.user_id == user.id)
        .order_by(OutgoingMessage.id.desc())
        .limit(1)
    )
    found = re.search(r"\b(\d{6})\b", body or "")
    assert found, body
    return found.group(1)


def _verify(session: Session, user: User) -> User:
    return verify_applicant_phone(session, user.username, _code(session, user))


def _refused(session: Session, user: User) -> None:
    with pytest.raises(InvalidInputError) as refused:
        _verify(session, user)
    assert refused.value.fields == {"registration": ["identifier_taken"]}
    assert not session.get(User, user.id).phone_verified


@pytest.mark.parametrize("farmer", [True, False], ids=["resident_id", "uscc"])
def test_a_newcomer_who_verifies_takes_the_identifier_of_a_registration_that_never_did(session, farmer):
    identifier = make_id_number() if farmer else make_uscc()
    field = "id_number" if farmer else "uscc"
    typo = _register(session, "typo_phone", identifier, "13907960001", farmer=farmer)
    owner = _register(session, "real_owner", identifier, "13907960002", farmer=farmer)
    typo_borrower, owner_borrower = typo.borrower_id, owner.borrower_id
    assert getattr(session.get(Borrower, owner_borrower), field) is None
    # The unverified holder's phone is not known to be the owner's: it gets its code and no notice.
    texts = session.scalars(select(OutgoingMessage.body).where(OutgoingMessage.user_id == typo.id)).all()
    assert len(texts) == 1 and "验证码" in texts[0]

    _verify(session, owner)

    session.expire_all()
    assert getattr(session.get(Borrower, owner_borrower), field) == identifier
    assert session.get(Borrower, owner_borrower).pending_identifier is None
    released = session.get(Borrower, typo_borrower)
    assert getattr(released, field) is None and released.pending_identifier == identifier
    assert authenticate(session, "real_owner", PASSWORD).id == owner.id
    events = session.execute(
        select(StatusEvent.entity_id, StatusEvent.to_status, StatusEvent.actor_id, StatusEvent.data)
        .where(StatusEvent.entity_type == "user")
        .order_by(StatusEvent.id)
    ).all()
    assert [tuple(e[:3]) for e in events] == [
        (owner.id, "identifier_claimed", owner.id),
        (typo.id, "identifier_released", owner.id),
    ]
    assert events[0].data["from_user_id"] == typo.id and events[1].data["to_user_id"] == owner.id
    # The registration that lost it is now an ordinary duplicate: refused once its code is right, and
    # swept after the retention period.
    _refused(session, typo)
    assert purge_unverified_registrations(session, now=utcnow() + dt.timedelta(days=8)) == 1
    assert session.get(Borrower, typo_borrower) is None
    assert getattr(session.get(Borrower, owner_borrower), field) == identifier


def test_a_verified_holder_keeps_the_identifier(session):
    identifier = make_id_number()
    holder = _register(session, "holder", identifier, "13907960001")
    _verify(session, holder)
    newcomer = _register(session, "newcomer", identifier, "13907960002")
    notices = session.scalars(select(OutgoingMessage.body).where(OutgoingMessage.user_id == holder.id)).all()
    assert any("有人正在用您的证件号码注册" in body for body in notices)

    _refused(session, newcomer)
    session.expire_all()
    assert session.get(Borrower, holder.borrower_id).id_number == identifier
    assert session.get(Borrower, newcomer.borrower_id).id_number is None


@pytest.mark.parametrize("reference", ["need", "consent", "event"])
def test_a_holder_that_anything_refers_to_keeps_the_identifier(session, reference):
    identifier = make_id_number()
    holder = _register(session, "holder", identifier, "13907960001")
    borrower = session.get(Borrower, holder.borrower_id)
    if reference == "need":
        NeedFactory(borrower_id=borrower.id)
    elif reference == "consent":
        grant(session, borrower)
    else:
        session.add(StatusEvent(entity_type="user", entity_id=holder.id, to_status="x", actor_id=holder.id))
    session.flush()
    newcomer = _register(session, "newcomer", identifier, "13907960002")

    _refused(session, newcomer)
    session.expire_all()
    assert session.get(Borrower, holder.borrower_id).id_number == identifier


def test_a_borrower_without_an_account_keeps_the_identifier(session):
    identifier = make_id_number()
    BorrowerFactory(farmer=True, id_number=identifier, region_code="360824")
    session.flush()
    newcomer = _register(session, "newcomer", identifier, "13907960002")
    _refused(session, newcomer)


def test_an_identifier_freed_by_the_sweep_goes_to_the_registration_waiting_for_it(session):
    identifier = make_id_number()
    typo = _register(session, "typo_phone", identifier, "13907960001")
    typo.created_at = utcnow() - dt.timedelta(days=8)
    owner = _register(session, "real_owner", identifier, "13907960002")
    assert purge_unverified_registrations(session) == 1
    assert session.get(User, typo.id) is None

    _verify(session, owner)
    session.expire_all()
    assert session.get(Borrower, owner.borrower_id).id_number == identifier
    # Nobody held it any more: nothing moved, nothing to record.
    assert session.scalar(select(StatusEvent.id).where(StatusEvent.entity_type == "user")) is None


def test_a_holder_younger_than_the_registration_waiting_is_released_too(session):
    """The first holder was swept, a later registration took the identifier afresh and abandoned it as
    well: its borrower row is newer than the waiting one's, and the identifier still moves."""
    identifier = make_id_number()
    first = _register(session, "first_typo", identifier, "13907960001")
    first.created_at = utcnow() - dt.timedelta(days=8)
    owner = _register(session, "real_owner", identifier, "13907960002")
    assert purge_unverified_registrations(session) == 1
    later = _register(session, "later_typo", identifier, "13907960003")
    assert later.borrower_id > owner.borrower_id
    assert session.get(Borrower, later.borrower_id).id_number == identifier

    _verify(session, owner)
    session.expire_all()
    assert session.get(Borrower, owner.borrower_id).id_number == identifier
    assert session.get(Borrower, later.borrower_id).id_number is None


def test_a_duplicate_written_before_identifiers_could_move_stays_refused(session):
    identifier = make_id_number()
    _register(session, "typo_phone", identifier, "13907960001")
    old = _register(session, "old_duplicate", identifier, "13907960002")
    session.get(Borrower, old.borrower_id).pending_identifier = None
    session.flush()
    _refused(session, old)


# --- two verifications at once -------------------------------------------------------------------


def _race(factory: sessionmaker[Session], usernames: list[str], codes: dict[str, str]) -> dict[str, str]:
    barrier = threading.Barrier(len(usernames))
    outcomes: dict[str, str] = {}
    lock = threading.Lock()

    def verify(username: str) -> None:
        barrier.wait(timeout=30)
        with factory() as s:
            try:
                verify_applicant_phone(s, username, codes[username])
                s.commit()
                result = "verified"
            except InvalidInputError as exc:
                s.rollback()
                result = next(iter(exc.fields.values()))[0]
            except BaseException as exc:  # reported, not swallowed
                s.rollback()
                result = repr(exc)
        with lock:
            outcomes[username] = result

    threads = [threading.Thread(target=verify, args=(name,)) for name in usernames]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.parametrize("holder_races", [False, True], ids=["two_newcomers", "holder_and_newcomer"])
def test_of_two_verifications_racing_for_one_identifier_exactly_one_wins(committed_db, holder_races):
    """Two newcomers verify at once against an abandoned holder, or the holder verifies at the same time
    as a newcomer: exactly one ends verified with the identifier, the other is refused. Each thread has
    its own session and connection on the suite's database (PostgreSQL in CI)."""
    _engine, factory = committed_db
    rounds = 5
    for n in range(rounds):
        identifier = make_id_number()
        names = [f"holder{n}", f"first{n}", f"second{n}"]
        with factory() as s:
            bind_factories(s)
            users = [_register(s, name, identifier, f"1390796{n:02d}{i:02d}") for i, name in enumerate(names)]
            codes = {u.username: _code(s, u) for u in users}
            s.commit()
        racing = names[:2] if holder_races else names[1:]
        outcomes = _race(factory, racing, codes)
        assert sorted(outcomes.values()) == ["identifier_taken", "verified"], outcomes
        (winner,) = [name for name, result in outcomes.items() if result == "verified"]
        with factory() as s:
            holders = s.scalars(
                select(User.username)
                .join(Borrower, Borrower.id == User.borrower_id)
                .where(Borrower.id_number == identifier)
            ).all()
            verified = s.scalars(
                select(User.username).where(User.username.in_(names), User.phone_verified.is_(True))
            ).all()
        assert holders == [winner] and verified == [winner]
