"""Accounts through the API: sign-in throttling per account and per address, logout, password change
and reset by SMS code, phone verification, and the administrator's users and providers."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from core.accounts import MAX_FAILED_LOGINS
from core.models import OutgoingMessage, StatusEvent, User
from core.settings import Settings
from credit_profile.ingestion import sign
from portal.app import create_app
from tests.conftest import make_settings
from tests.factories import PASSWORD, InstitutionFactory, UserFactory
from tests.portal import api_helpers
from tests.portal.api_helpers import assert_error, register_body, sms_code, uscc

DEFAULT_LIMIT = Settings().login_rate_limit


@pytest.fixture
def real_limits_app(session_factory, session):
    """The app with the sign-in limit every deployment gets by default, not the tests' generous one."""
    return create_app(make_settings(login_rate_limit=DEFAULT_LIMIT), session_factory=session_factory)


def token(client, username):
    """Sign a factory-made user in (factories share one password)."""
    return api_helpers.token(client, username, PASSWORD)


def _sign_in(client, username, password=PASSWORD, address="203.0.113.9"):
    return client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def _admin(session, client):
    UserFactory(username="root", admin=True)
    session.flush()
    return token(client, "root")


def test_twenty_officers_of_one_branch_sign_in_from_one_address_within_a_minute(real_limits_app, session):
    bank = InstitutionFactory()
    for i in range(20):
        UserFactory(username=f"teller{i}", officer=True, institution_id=bank.id)
    session.flush()
    client = real_limits_app.test_client()
    assert [_sign_in(client, f"teller{i}").status_code for i in range(20)] == [200] * 20


def test_ten_wrong_passwords_lock_that_account_only(real_limits_app, session):
    bank = InstitutionFactory()
    UserFactory(username="victim", officer=True, institution_id=bank.id)
    UserFactory(username="colleague", officer=True, institution_id=bank.id)
    session.flush()
    client = real_limits_app.test_client()
    codes = [_sign_in(client, "victim", "wrong-guess", f"198.51.100.{i % 5}").status_code for i in range(10)]
    assert codes == [401] * MAX_FAILED_LOGINS
    # The right password, from yet another address, is refused too while the lock lasts.
    locked = _sign_in(client, "victim", PASSWORD, "192.0.2.77")
    error = assert_error(locked, 429, "account_locked")
    assert "锁定" in error["message"]
    assert int(locked.headers["Retry-After"]) >= 5 * 60
    # A colleague behind the same address as the attacker signs in.
    assert _sign_in(client, "colleague", PASSWORD, "198.51.100.0").status_code == 200


def test_a_success_resets_the_count_of_consecutive_failures(client, session):
    UserFactory(username="forgetful")
    session.flush()
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert _sign_in(client, "forgetful", "wrong-guess").status_code == 401
    assert _sign_in(client, "forgetful").status_code == 200
    assert _sign_in(client, "forgetful", "wrong-guess").status_code == 401
    assert _sign_in(client, "forgetful").status_code == 200


def test_an_officer_disabled_by_the_admin_gets_401_with_the_token_they_held(client, session):
    bank = InstitutionFactory()
    officer = UserFactory(username="leaver", officer=True, institution_id=bank.id)
    session.flush()
    admin = _admin(session, client)
    held = token(client, "leaver")
    assert client.get("/api/v1/me", headers=held).status_code == 200
    response = client.patch(f"/api/v1/admin/users/{officer.id}", json={"active": False}, headers=admin)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["active"] is False
    assert_error(client.get("/api/v1/me", headers=held), 401)
    assert_error(_sign_in(client, "leaver"), 401, "invalid_credentials")
    event = session.scalars(select(StatusEvent).where(StatusEvent.entity_type == "user")).all()[-1]
    assert (event.entity_id, event.to_status, event.data["before"]["active"]) == (
        officer.id,
        "disabled",
        True,
    )


def test_admin_cannot_disable_themselves_and_unknown_users_are_404(client, session):
    admin = _admin(session, client)
    me = session.scalar(select(User).where(User.username == "root"))
    error = assert_error(
        client.patch(f"/api/v1/admin/users/{me.id}", json={"active": False}, headers=admin), 422
    )
    assert "active" in error["fields"]
    assert_error(client.patch("/api/v1/admin/users/999999", json={"active": False}, headers=admin), 404)


def test_admin_user_list_filters_and_pages_in_sql(client, session):
    bank = InstitutionFactory(code="GANZHOU")
    for i in range(5):
        UserFactory(username=f"gz_officer{i}", officer=True, institution_id=bank.id, active=i != 0)
    UserFactory(username="someone_else", finance=True)
    session.flush()
    admin = _admin(session, client)
    page = client.get("/api/v1/admin/users?q=gz_&per_page=2&page=2", headers=admin).get_json()
    assert page["total"] == 5 and [u["username"] for u in page["items"]] == ["gz_officer2", "gz_officer3"]
    inactive = client.get("/api/v1/admin/users?institution=GANZHOU&active=false", headers=admin).get_json()
    assert [u["username"] for u in inactive["items"]] == ["gz_officer0"]
    assert inactive["items"][0]["institution"]["code"] == "GANZHOU"
    assert client.get("/api/v1/admin/users?role=finance", headers=admin).get_json()["total"] == 1
    assert_error(client.get("/api/v1/admin/users?role=boss", headers=admin), 422)
    assert_error(client.get("/api/v1/admin/users", headers=token(client, "someone_else")), 403)


def test_admin_reset_gives_a_temporary_password_changed_at_first_sign_in(client, session):
    user = UserFactory(username="forgot_it", finance=True)
    session.flush()
    admin = _admin(session, client)
    held = token(client, "forgot_it")
    temporary = client.post(f"/api/v1/admin/users/{user.id}/reset-password", headers=admin).get_json()[
        "temporary_password"
    ]
    assert_error(client.get("/api/v1/me", headers=held), 401)
    assert_error(_sign_in(client, "forgot_it", PASSWORD), 401)
    signed_in = _sign_in(client, "forgot_it", temporary).get_json()
    assert signed_in["must_change_password"] is True
    headers = {"Authorization": f"Bearer {signed_in['token']}"}
    body = {"current_password": temporary, "new_password": "Brand-new-pass-77"}
    assert client.post("/api/v1/me/password", json=body, headers=headers).status_code == 204
    assert _sign_in(client, "forgot_it", "Brand-new-pass-77").get_json()["must_change_password"] is False


def test_password_change_rules_and_other_sessions_end(client, session):
    UserFactory(username="changer")
    session.flush()
    this, other = token(client, "changer"), token(client, "changer")
    weak = {"password": "too_simple", "changer-2026!": "contains_username", "Ab1!": "too_short"}
    for password, _code in weak.items():
        body = {"current_password": PASSWORD, "new_password": password}
        error = assert_error(client.post("/api/v1/me/password", json=body, headers=this), 422)
        assert error["fields"]["new_password"]
    wrong = {"current_password": "not-it", "new_password": "Brand-new-pass-77"}
    assert (
        "current_password"
        in assert_error(client.post("/api/v1/me/password", json=wrong, headers=this), 422)["fields"]
    )
    body = {"current_password": PASSWORD, "new_password": "Brand-new-pass-77"}
    assert client.post("/api/v1/me/password", json=body, headers=this).status_code == 204
    assert client.get("/api/v1/me", headers=this).status_code == 200
    assert_error(client.get("/api/v1/me", headers=other), 401)


def test_logout_ends_the_token_at_once(client, session):
    UserFactory(username="leaving")
    session.flush()
    held = token(client, "leaving")
    assert client.post("/api/v1/auth/logout", headers=held).status_code == 204
    assert_error(client.get("/api/v1/me", headers=held), 401)
    assert_error(client.post("/api/v1/auth/logout", headers=held), 401)


def test_password_reset_by_sms_code(client, session):
    UserFactory(username="lost", phone="13907961234")
    session.flush()
    held = token(client, "lost")
    known = client.post("/api/v1/auth/password-reset", json={"phone": "13907961234"})
    unknown = client.post("/api/v1/auth/password-reset", json={"phone": "13907969999"})
    assert (known.status_code, unknown.status_code) == (202, 202)
    assert known.get_json() == unknown.get_json()
    texts = session.scalars(select(OutgoingMessage.body)).all()
    assert len(texts) == 1 and "验证码" in texts[0]
    code = sms_code(client, "lost")
    wrong_code = f"{(int(code) + 1) % 1_000_000:06d}"
    body = {"phone": "13907961234", "code": wrong_code, "new_password": "Brand-new-pass-77"}
    assert_error(client.post("/api/v1/auth/password-reset/confirm", json=body), 422, "invalid_code")
    body["code"] = code
    body["new_password"] = "password"
    assert (
        "new_password"
        in assert_error(client.post("/api/v1/auth/password-reset/confirm", json=body), 422)["fields"]
    )
    body["new_password"] = "Brand-new-pass-77"
    assert client.post("/api/v1/auth/password-reset/confirm", json=body).status_code == 204
    assert_error(client.get("/api/v1/me", headers=held), 401)
    assert _sign_in(client, "lost", "Brand-new-pass-77").status_code == 200
    # The code works once.
    assert_error(client.post("/api/v1/auth/password-reset/confirm", json=body), 422, "invalid_code")


def test_a_reset_code_allows_five_tries(client, session):
    UserFactory(username="guessed", phone="13907961235")
    session.flush()
    client.post("/api/v1/auth/password-reset", json={"phone": "13907961235"})
    code = sms_code(client, "guessed")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    body = {"phone": "13907961235", "code": wrong, "new_password": "Brand-new-pass-77"}
    for _ in range(5):
        assert_error(client.post("/api/v1/auth/password-reset/confirm", json=body), 422, "invalid_code")
    body["code"] = code
    assert_error(client.post("/api/v1/auth/password-reset/confirm", json=body), 422, "invalid_code")


def test_registration_verifies_the_phone_before_sign_in(client, session):
    response = client.post("/api/v1/register", json=register_body("newcomer", 31))
    assert response.status_code == 201 and response.get_json()["verification"] == "sms_sent"
    assert_error(_sign_in(client, "newcomer", api_helpers.PASSWORD), 403, "phone_unverified")
    code = sms_code(client, "newcomer")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert_error(client.post("/api/v1/register/verify", json={"username": "newcomer", "code": wrong}), 422)
    assert_error(client.post("/api/v1/register/verify", json={"username": "nobody", "code": code}), 422)
    ok = client.post("/api/v1/register/verify", json={"username": "newcomer", "code": code})
    assert ok.status_code == 200
    assert _sign_in(client, "newcomer", api_helpers.PASSWORD).status_code == 200


def test_admin_verifies_a_phone_in_person(client, session):
    assert client.post("/api/v1/register", json=register_body("walk_in", 32)).status_code == 201
    admin = _admin(session, client)
    user_id = session.scalar(select(User.id).where(User.username == "walk_in"))
    assert client.post(f"/api/v1/admin/users/{user_id}/verify-phone", headers=admin).status_code == 200
    assert _sign_in(client, "walk_in", api_helpers.PASSWORD).status_code == 200


def test_a_registration_that_never_verified_its_phone_does_not_lock_the_owner_out(client, session):
    """The first registration of a USCC gave a mistyped phone and was never verified; the owner who
    registers it again verifies and gets it, and the abandoned registration is the one refused."""
    typo = register_body("typo_phone", 33)
    assert client.post("/api/v1/register", json=typo).status_code == 201
    owner = {**register_body("real_owner", 33), "phone": "13907960033"}
    assert client.post("/api/v1/register", json=owner).status_code == 201
    verified = client.post(
        "/api/v1/register/verify", json={"username": "real_owner", "code": sms_code(client, "real_owner")}
    )
    assert verified.status_code == 200 and verified.get_json() == {"status": "verified"}
    assert _sign_in(client, "real_owner", api_helpers.PASSWORD).status_code == 200
    me = client.get(
        "/api/v1/me", headers=api_helpers.token(client, "real_owner", api_helpers.PASSWORD)
    ).get_json()
    assert me["borrower"]["uscc"] == uscc(33)
    late = {"username": "typo_phone", "code": sms_code(client, "typo_phone")}
    error = assert_error(client.post("/api/v1/register/verify", json=late), 422)
    assert "该证件号码已有账户" in error["fields"]["registration"][0]
    assert_error(_sign_in(client, "typo_phone", api_helpers.PASSWORD), 403, "phone_unverified")


def test_a_verified_holder_keeps_its_uscc_against_a_later_registration(client, session):
    api_helpers.register(client, register_body("first_owner", 34))  # registers and verifies
    assert client.post("/api/v1/register", json=register_body("second", 34)).status_code == 201
    late = {"username": "second", "code": sms_code(client, "second")}
    error = assert_error(client.post("/api/v1/register/verify", json=late), 422)
    assert "该证件号码已有账户" in error["fields"]["registration"][0]
    me = client.get(
        "/api/v1/me", headers=api_helpers.token(client, "first_owner", api_helpers.PASSWORD)
    ).get_json()
    assert me["borrower"]["uscc"] == uscc(34)


def _signed(provider_key, secret, body):
    raw = json.dumps(body).encode()
    ts = str(int(time.time()))
    return raw, {"X-Provider-Key": provider_key, "X-Timestamp": ts, "X-Signature": sign(secret, ts, raw)}


def test_a_rotated_providers_old_secret_gets_401_and_a_deactivated_provider_too(client, session):
    admin = _admin(session, client)
    created = client.post(
        "/api/v1/admin/providers", json={"name": "国网吉安", "source": "electricity"}, headers=admin
    )
    key, old = created.get_json()["key"], created.get_json()["secret"]
    provider_id = created.get_json()["id"]
    # A record of a subject without consent is refused, but the signed request itself is accepted.
    body = {"records": [{"uscc": uscc(1), "period": "2026-01", "kwh": 100, "bill_amount": 50}]}
    raw, headers = _signed(key, old, body)
    response = client.post(
        "/api/v1/data/electricity/records", data=raw, headers=headers, content_type="application/json"
    )
    assert response.status_code == 200, response.get_json()
    listed = client.get("/api/v1/admin/providers", headers=admin).get_json()
    assert listed["items"][0]["last_used_at"] is not None and "secret" not in listed["items"][0]

    rotated = client.post(f"/api/v1/admin/providers/{provider_id}/rotate", headers=admin).get_json()
    assert rotated["key"] == key and rotated["secret"] != old
    raw, headers = _signed(key, old, body)
    response = client.post(
        "/api/v1/data/electricity/records", data=raw, headers=headers, content_type="application/json"
    )
    assert_error(response, 401)
    time.sleep(1)  # a new timestamp, so that the signature differs from the first request's
    raw, headers = _signed(key, rotated["secret"], body)
    response = client.post(
        "/api/v1/data/electricity/records", data=raw, headers=headers, content_type="application/json"
    )
    assert response.status_code == 200

    assert client.post(f"/api/v1/admin/providers/{provider_id}/deactivate", headers=admin).status_code == 200
    time.sleep(1)
    raw, headers = _signed(key, rotated["secret"], body)
    response = client.post(
        "/api/v1/data/electricity/records", data=raw, headers=headers, content_type="application/json"
    )
    assert_error(response, 401)
    actions = session.scalars(
        select(StatusEvent.to_status).where(StatusEvent.entity_type == "provider").order_by(StatusEvent.id)
    ).all()
    assert actions == ["created", "rotated", "deactivated"]


def test_a_deactivated_institution_s_officers_cannot_sign_in(client, session):
    from products.institutions import update_institution

    bank = InstitutionFactory()
    UserFactory(username="bank_officer", officer=True, institution_id=bank.id)
    admin_user = UserFactory(username="root2", admin=True)
    session.flush()
    held = token(client, "bank_officer")
    update_institution(session, bank.id, active=False, actor_id=admin_user.id)
    session.flush()
    assert_error(client.get("/api/v1/me", headers=held), 401)
    assert_error(_sign_in(client, "bank_officer"), 401)


def test_new_endpoints_are_in_the_openapi_document(client):
    paths = set(client.get("/api/v1/openapi.json").get_json()["paths"])
    assert {
        "/api/v1/auth/logout",
        "/api/v1/me/password",
        "/api/v1/auth/password-reset",
        "/api/v1/auth/password-reset/confirm",
        "/api/v1/register/verify",
        "/api/v1/admin/users",
        "/api/v1/admin/users/{user_id}",
        "/api/v1/admin/users/{user_id}/reset-password",
        "/api/v1/admin/users/{user_id}/verify-phone",
        "/api/v1/admin/providers",
        "/api/v1/admin/providers/{provider_id}/deactivate",
        "/api/v1/admin/providers/{provider_id}/rotate",
    } <= paths
