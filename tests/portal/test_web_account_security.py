"""The account pages: a 429 keeps what was typed, the lock message, password change and reset by SMS
code, phone change, temporary passwords, and the notification centre."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.accounts import MAX_FAILED_LOGINS
from core.models import Notification, User
from core.notifications import notify
from portal.app import create_app
from tests.conftest import make_settings
from tests.factories import PASSWORD, InstitutionFactory, UserFactory
from tests.portal.api_helpers import sms_code
from tests.portal.test_web_accounts import registration
from tests.portal.test_web_support import login, text


@pytest.fixture
def tight_client(session_factory, session):
    app = create_app(make_settings(login_rate_limit="2 per minute"), session_factory=session_factory)
    app.config.update(WTF_CSRF_ENABLED=False)
    return app.test_client()


def test_a_429_on_the_registration_form_keeps_what_was_typed_but_never_the_password(tight_client, session):
    for _ in range(2):  # invalid attempts (the passwords differ) use up the address's window
        data = registration(password_again="something-else-2026")
        assert tight_client.post("/register", data=data).status_code == 422
    data = registration(name="吉安市半填表单测试有限公司", phone="13970000123")
    response = tight_client.post("/register", data=data)
    assert response.status_code == 429
    page = text(response)
    assert "操作过于频繁" in page
    assert "吉安市半填表单测试有限公司" in page and data["username"] in page and "13970000123" in page
    assert data["password"] not in page
    assert int(response.headers["Retry-After"]) > 0
    assert session.scalar(select(User).where(User.username == data["username"])) is None


def test_failed_sign_ins_of_many_people_do_not_lock_out_the_colleagues_successes(tight_client, session):
    bank = InstitutionFactory()
    for i in range(6):
        UserFactory(username=f"branch{i}", officer=True, institution_id=bank.id)
    session.flush()
    # Successes are not counted against the address: six sign-ins under a limit of two a minute.
    for i in range(6):
        assert (
            tight_client.post("/login", data={"username": f"branch{i}", "password": PASSWORD}).status_code
            == 302
        )
    for _ in range(2):
        assert (
            tight_client.post("/login", data={"username": "branch0", "password": "nope"}).status_code == 422
        )
    response = tight_client.post("/login", data={"username": "branch1", "password": PASSWORD})
    assert response.status_code == 429 and 'value="branch1"' in response.get_data(as_text=True)


def test_the_lock_message_says_when_it_ends(client, session):
    UserFactory(username="locked_out")
    session.flush()
    for _ in range(MAX_FAILED_LOGINS):
        assert client.post("/login", data={"username": "locked_out", "password": "nope"}).status_code == 422
    response = client.post("/login", data={"username": "locked_out", "password": PASSWORD})
    assert response.status_code == 429
    assert "已锁定至" in text(response) and "分钟后解除" in text(response)


def test_password_change_page_ends_other_sessions(client, app, session):
    UserFactory(username="changer", finance=True)
    session.flush()
    other = app.test_client()
    login(other, "changer")
    login(client, "changer")
    weak = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": "password1", "new_password_again": "password1"},
    )
    assert weak.status_code == 422 and "常见" in text(weak)
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "Ganjiang-river-77",
            "new_password_again": "Ganjiang-river-77",
        },
    )
    assert response.status_code == 302
    assert client.get("/finance/").status_code == 200
    assert "/login" in other.get("/finance/").headers["Location"]
    login(client, "changer", "Ganjiang-river-77")


def test_reset_by_sms_code_on_the_pages(client, session):
    UserFactory(username="forgot", phone="13970000555")
    session.flush()
    response = client.post("/password/forgot", data={"phone": "13970000555"})
    assert response.headers["Location"].endswith("/password/reset")
    assert 'value="13970000555"' in client.get("/password/reset").get_data(as_text=True)
    data = {
        "phone": "13970000555",
        "code": "000000",
        "new_password": "Jinggang-hills-9",
        "new_password_again": "Jinggang-hills-9",
    }
    code = sms_code(client, "forgot")
    data["code"] = "111111" if code != "111111" else "222222"
    wrong = client.post("/password/reset", data=data)
    assert wrong.status_code == 422 and "验证码不正确" in text(wrong)
    data["code"] = code
    assert client.post("/password/reset", data=data).headers["Location"].endswith("/login")
    login(client, "forgot", "Jinggang-hills-9")


def test_a_temporary_password_must_be_changed_before_anything_else(client, session):
    from core.administration import reset_password_by_admin

    admin = UserFactory(username="boss", admin=True)
    user = UserFactory(username="temp_user", finance=True)
    session.flush()
    temporary = reset_password_by_admin(session, user.id, actor_id=admin.id)
    session.flush()
    assert (
        client.post("/login", data={"username": "temp_user", "password": temporary})
        .headers["Location"]
        .endswith("/account/password")
    )
    assert client.get("/finance/").headers["Location"].endswith("/account/password")


def test_applicant_changes_phone_and_verifies_it_again(client, session):
    from tests.portal.test_web_support import applicant

    user, _borrower = applicant(session)
    session.flush()
    login(client, user.username)
    response = client.post("/account/phone", data={"phone": "13970000777"})
    assert response.headers["Location"].endswith("/register/verify")
    session.refresh(user)
    assert user.phone == "13970000777" and user.phone_verified is False
    assert client.post("/register/verify", data={"code": sms_code(client, user.username)}).status_code == 302
    session.refresh(user)
    assert user.phone_verified is True


def test_notification_centre_lists_links_and_marks_read(client, session):
    bank = InstitutionFactory()
    officer = UserFactory(username="reader", officer=True, institution_id=bank.id)
    session.flush()
    notify(
        session,
        [officer.id],
        kind="lead_pushed",
        lead_id=41,
        data={"amount": "300000.00", "product": "吉安首贷通"},
    )
    notify(session, [officer.id], kind="lead_closed", lead_id=42)
    session.flush()
    login(client, "reader")
    page = text(client.get("/notifications"))
    assert "新线索待认领：30万元融资需求（吉安首贷通）" in page
    assert 'class="count"' in client.get("/notifications").get_data(as_text=True)
    first = session.scalars(select(Notification).where(Notification.lead_id == 41)).one()
    response = client.post(f"/notifications/{first.id}/read", data={"go": "1"})
    assert response.headers["Location"].endswith("/officer/leads/41")
    session.refresh(first)
    assert first.read_at is not None
    assert client.post("/notifications/read-all").status_code == 302
    assert (
        session.scalar(
            select(Notification.id).where(Notification.user_id == officer.id, Notification.read_at.is_(None))
        )
        is None
    )
    assert 'class="count"' not in client.get("/notifications").get_data(as_text=True)
    # Someone else's notification cannot be marked.
    other = UserFactory(username="someone", officer=True, institution_id=bank.id)
    session.flush()
    theirs = notify(session, [other.id], kind="lead_closed", lead_id=43)[0]
    session.flush()
    assert client.post(f"/notifications/{theirs.id}/read").status_code == 404


def test_applicant_corrects_their_profile_but_not_their_identifiers(client, session):
    from credit_profile.models import Borrower
    from tests.portal.test_web_support import applicant

    user, borrower = applicant(session)
    session.flush()
    login(client, user.username)
    code = borrower.uscc
    future = client.post(
        "/account/profile", data={"name": "新名称有限公司", "established_on": "2999-01-01", "employees": "5"}
    )
    assert future.status_code == 422 and "不能晚于今天" in text(future)
    response = client.post(
        "/account/profile",
        data={"name": "新名称有限公司", "established_on": "2015-03-01", "employees": "12", "uscc": "X"},
    )
    assert response.headers["Location"].endswith("/me/")
    session.expire_all()
    row = session.get(Borrower, borrower.id)
    assert (row.name, row.employees, row.uscc) == ("新名称有限公司", 12, code)
