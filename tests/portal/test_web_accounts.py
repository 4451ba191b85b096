"""Public pages, login/logout, applicant registration and CSRF on the HTML side."""

from __future__ import annotations

import itertools
from decimal import Decimal

from sqlalchemy import func, select

from core.models import User
from credit_profile.models import Borrower
from matching.models import Need
from matching.needs import NeedInput, submit_need
from tests.factories import PASSWORD, InstitutionFactory, ProductFactory, UserFactory, make_uscc
from tests.portal.api_helpers import sms_code
from tests.portal.test_web_support import applicant, csrf_token, login, text


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


_names = itertools.count(1)


def registration(**overrides):
    data = {
        "username": f"jiazhang{next(_names)}",
        "password": "Ji'an-2026-ok",
        "password_again": "Ji'an-2026-ok",
        "phone": "13970000001",
        "kind": "enterprise",
        "name": "吉安市井冈蜜柚合作社有限公司",
        "uscc": make_uscc(),
        "id_number": "",
        "region_code": "360821",
        "industry_code": "A",
        "established_on": "2018-05-01",
        "employees": "8",
    }
    data.update(overrides)
    return data


def test_home_and_supermarket_are_chinese(client, session):
    institution = InstitutionFactory(name="吉安农商银行")
    ProductFactory(institution=institution, name="蜜柚贷", published=True, tags=["agri"])
    ProductFactory(institution=institution, name="草稿贷")

    home = client.get("/")
    assert home.status_code == 200
    assert "普惠金融一站式服务平台" in text(home)
    assert "合成演示数据" in text(home)

    market = client.get("/products")
    assert market.status_code == 200
    assert "金融超市" in text(market)
    assert "蜜柚贷" in text(market)
    assert "草稿贷" not in text(market)

    filtered = client.get("/products", query_string={"tag": "tech"})
    assert "蜜柚贷" not in text(filtered)
    assert "蜜柚贷" in text(client.get("/products", query_string={"tag": "agri", "amount": "50000"}))


def test_product_detail_only_for_published(client, session):
    published = ProductFactory(name="蜜柚贷", published=True, collateral=["credit"])
    draft = ProductFactory(name="草稿贷")
    page = client.get(f"/products/{published.id}")
    assert page.status_code == 200
    assert "信用" in text(page)
    assert client.get(f"/products/{draft.id}").status_code == 404


def test_supermarket_rejects_nan_amount(client, session):
    ProductFactory(name="蜜柚贷", published=True)
    page = client.get("/products", query_string={"amount": "NaN"})
    assert page.status_code == 200
    assert "请输入有效的数字" in text(page)


def test_register_with_bad_uscc_check_character_creates_nothing(client, session):
    good = make_uscc()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    users, borrowers = _count(session, User), _count(session, Borrower)

    response = client.post("/register", data=registration(uscc=bad))

    assert response.status_code == 422
    assert "统一社会信用代码校验位不正确" in text(response)
    assert _count(session, User) == users
    assert _count(session, Borrower) == borrowers


def test_register_refuses_a_registration_date_before_1900_in_chinese(client, session):
    users = _count(session, User)
    response = client.post("/register", data=registration(established_on="0001-01-01"))
    assert response.status_code == 422
    assert "不能早于 1900 年 1 月 1 日" in text(response)
    assert _count(session, User) == users
    assert client.post("/register", data=registration(established_on="1900-01-01")).status_code == 302


def test_register_requires_the_identifier_of_the_chosen_kind(client, session):
    data = registration(kind="farmer", uscc="", id_number="")
    response = client.post("/register", data=data)
    assert response.status_code == 422
    assert "此项必填" in text(response)
    assert session.scalar(select(User).where(User.username == data["username"])) is None


def test_register_accepts_full_width_code_and_logs_in(client, session):
    code = make_uscc()
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)

    data = registration(uscc=full_width)
    response = client.post("/register", data=data)

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/register/verify")
    assert client.get("/me/").status_code == 302  # not signed in before the phone is verified
    verified = client.post("/register/verify", data={"code": sms_code(client, data["username"])})
    assert verified.headers["Location"].endswith("/me/consents")
    user = session.scalar(select(User).where(User.username == data["username"]))
    borrower = session.get(Borrower, user.borrower_id)
    assert borrower.uscc == code
    profile = client.get("/me/")
    assert profile.status_code == 200
    assert code in text(profile)  # the owner sees the full code on the own profile page


def test_login_with_wrong_password_shows_chinese_error(client, session):
    UserFactory(username="officer1", officer=True)
    response = client.post("/login", data={"username": "officer1", "password": "wrong-password"})
    assert response.status_code == 422
    assert "用户名或密码不正确" in text(response)
    assert client.get("/officer/leads").status_code == 302


def test_login_redirects_to_role_home_and_ignores_foreign_next(client, session):
    institution = InstitutionFactory()
    UserFactory(username="officer1", officer=True, institution_id=institution.id)
    response = client.post(
        "/login?next=https://evil.example/steal", data={"username": "officer1", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/officer/leads"


def test_pages_need_login_and_the_right_role(client, session):
    assert client.get("/me/needs").status_code == 302
    assert "/login" in client.get("/me/needs").headers["Location"]
    user, _borrower = applicant(session)
    login(client, user.username)
    assert client.get("/me/needs").status_code == 200
    for path in ("/officer/leads", "/manage/products", "/finance/", "/admin/users"):
        assert client.get(path).status_code == 403, path


def test_logout_ends_the_session_for_a_copied_cookie(client, session):
    user, _borrower = applicant(session)
    login(client, user.username)
    assert client.get("/me/").status_code == 200
    stolen = client.get_cookie("session").value

    assert client.post("/logout").status_code == 302
    assert client.get("/me/").status_code == 302

    client.set_cookie("session", stolen)
    response = client.get("/me/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_post_without_csrf_token_is_refused_and_changes_nothing(csrf_app, session):
    client = csrf_app.test_client()
    user, borrower = applicant(session)
    ProductFactory(published=True)
    need = submit_need(
        session,
        borrower_id=borrower.id,
        actor_id=user.id,
        data=NeedInput(
            amount=Decimal(100000),
            term_months=12,
            purpose="采购化肥",
            collateral="credit",
            declared_prior_loan=False,
        ),
    )
    session.flush()

    assert client.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 400
    page = client.get("/login")
    response = client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302

    session.expire_all()
    before = session.get(Need, need.id).status
    assert before != "withdrawn"

    refused = client.post(f"/me/needs/{need.id}/withdraw")
    assert refused.status_code == 400
    assert "页面已过期" in text(refused)
    session.expire_all()
    assert session.get(Need, need.id).status == before

    detail = client.get(f"/me/needs/{need.id}")
    accepted = client.post(f"/me/needs/{need.id}/withdraw", data={"csrf_token": csrf_token(detail)})
    assert accepted.status_code == 302
    session.expire_all()
    assert session.get(Need, need.id).status == "withdrawn"


def test_register_with_taken_username_keeps_no_borrower(client, session):
    taken = UserFactory()
    borrowers = _count(session, Borrower)
    code = make_uscc()

    response = client.post("/register", data=registration(username=taken.username, uscc=code))

    assert response.status_code == 422
    assert "用户名已被占用" in text(response)
    assert _count(session, Borrower) == borrowers
    assert session.scalar(select(Borrower).where(Borrower.uscc == code)) is None


def test_weak_password_and_phone_are_checked_by_the_form(client, session):
    response = client.post(
        "/register", data=registration(password="12345678", password_again="12345678", phone="1234")
    )
    assert response.status_code == 422
    assert "密码过于简单" in text(response)
    assert "请输入 11 位手机号码" in text(response)


def test_registering_over_a_live_session_ends_it_as_logging_in_does(client, session):
    institution = InstitutionFactory()
    UserFactory(username="officer1", officer=True, institution_id=institution.id)
    login(client, "officer1")
    assert client.get("/register").headers["Location"] == "/officer/leads"
    stolen = client.get_cookie("session").value

    data = registration()
    response = client.post("/register", data=data)
    assert response.status_code == 302
    client.post("/register/verify", data={"code": sms_code(client, data["username"])})
    assert client.get("/me/").status_code == 200  # now the new applicant

    client.set_cookie("session", stolen)
    response = client.get("/officer/leads")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_control_characters_are_refused_in_chinese_not_a_503(client, session):
    # PostgreSQL refuses NUL in text: it once reached the database, a 503 for what is bad input.
    users = _count(session, User)
    for data in ({"username": "a\x00b", "password": PASSWORD}, {"username": "ab", "password": "x\x01y"}):
        response = client.post("/login", data=data)
        assert response.status_code == 422
        assert "不能包含控制字符" in text(response)
    response = client.post("/register", data=registration(name="吉安\x00有限公司"))
    assert response.status_code == 422
    assert "不能包含控制字符" in text(response)
    assert _count(session, User) == users


def test_the_owner_registers_on_the_page_over_a_registration_that_never_verified(app, session):
    """Page flow of credit_profile.registration's take-over: a first registration of the USCC with a
    mistyped phone, never verified; the owner registers it again on the page, enters the code and is
    signed in with it; the abandoned registration is refused in Chinese; the administrator's audit
    trail says where the USCC went."""
    code = make_uscc()
    first, owner = app.test_client(), app.test_client()
    typo = registration(username="typo_phone", uscc=code, phone="13970000009")
    assert first.post("/register", data=typo).status_code == 302
    again = registration(username="real_owner", uscc=code)
    assert owner.post("/register", data=again).status_code == 302
    response = owner.post("/register/verify", data={"code": sms_code(owner, "real_owner")})
    assert response.status_code == 302 and response.headers["Location"] == "/me/consents"
    assert owner.get("/me/").status_code == 200
    owner_id = session.scalar(select(User.id).where(User.username == "real_owner"))
    typo_id = session.scalar(select(User.id).where(User.username == "typo_phone"))
    holder = session.scalar(select(User.username).join(Borrower, Borrower.id == User.borrower_id)
                            .where(Borrower.uscc == code))  # fmt: skip
    assert holder == "real_owner"

    refused = first.post("/register/verify", data={"code": sms_code(first, "typo_phone")})
    assert refused.status_code == 422 and "该证件号码已有账户" in text(refused)

    UserFactory(username="root", admin=True)
    session.flush()
    admin = app.test_client()
    login(admin, "root")
    trail = text(admin.get(f"/admin/audit?entity_type=user&entity_id={owner_id}"))
    assert "证件号码转入（原持有的注册从未验证手机）" in trail and f"原持有账号 #{typo_id}" in trail
    trail = text(admin.get(f"/admin/audit?entity_type=user&entity_id={typo_id}"))
    assert "证件号码转出（本注册从未验证手机）" in trail and f"转给账号 #{owner_id}" in trail
