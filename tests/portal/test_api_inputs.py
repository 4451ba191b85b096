"""Bad input anywhere gets a 4xx with the error body and changes nothing; no input produces a 500."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from core.db import Base
from core.types import SHANGHAI
from tests.factories import (
    PASSWORD,
    BorrowerFactory,
    ConsentFactory,
    InstitutionFactory,
    ProductFactory,
    UserFactory,
)
from tests.portal.api_helpers import id_number, need_as_read, register, register_body, sms_code, token, uscc

pytestmark = pytest.mark.smoke

NASTY_STRINGS = [
    "'; DROP TABLE needs; --",
    '" OR 1=1 --',
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "ＡＢＣ１２３",
    "\u202e\u0000\ufeff",
    "吉安" * 400,
]


def snapshot(session) -> dict[str, int]:
    return {t.name: session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


@pytest.fixture
def world(session):
    bank = InstitutionFactory(code="BANKA")
    other = InstitutionFactory(code="BANKB")
    ProductFactory(institution=bank, published=True)
    borrower = BorrowerFactory()
    ConsentFactory(borrower_id=borrower.id)
    applicant = UserFactory(username="applicant1", borrower_id=borrower.id)
    officer_a = UserFactory(username="officer_a", officer=True, institution_id=bank.id)
    officer_b = UserFactory(username="officer_b", officer=True, institution_id=other.id)
    UserFactory(username="pm_a", product_manager=True, institution_id=bank.id)
    UserFactory(username="admin1", admin=True)
    session.flush()
    return {"bank": bank, "other": other, "applicant": applicant, "a": officer_a, "b": officer_b}


def need_body(**overrides):
    body = {
        "amount": 500000,
        "term_months": 12,
        "purpose": "购买设备",
        "collateral": "credit",
        "declared_prior_loan": False,
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("uscc", uscc(5)[:-1] + ("0" if uscc(5)[-1] != "0" else "1")),
        ("uscc", "91360802MA35XXXXXX"),
        ("uscc", "１２３"),
        ("region_code", "110101"),
        ("industry_code", "Z99"),
        ("kind", "bank"),
        ("employees", -1),
        ("employees", "many"),
        ("name", ""),
        ("established_on", "0001-01-01"),
        ("established_on", "1899-12-31"),
        ("established_on", "2999-01-01"),
    ],
)
def test_register_rejects_bad_borrower_fields(client, session, field, value):
    before = snapshot(session)
    body = register_body("newuser1", 5, **{field: value})
    error = assert_error(register(client, body), 422, "validation_error")
    assert any(key.endswith(field) for key in error["fields"]), error
    assert snapshot(session) == before


def test_register_farmer_with_wrong_id_check_digit_is_refused_in_chinese(client, session):
    valid = id_number(1)
    wrong = valid[:-1] + ("1" if valid[-1] != "1" else "2")
    ok_body = register_body("farmer0", 1, kind="farmer", uscc=None, id_number=valid, industry_code="A")
    bad_body = register_body("farmer1", 2, kind="farmer", uscc=None, id_number=wrong, industry_code="A")
    before = snapshot(session)
    error = assert_error(register(client, bad_body), 422)
    assert "身份证" in error["fields"]["borrower.id_number"][0]
    assert snapshot(session) == before
    assert register(client, ok_body).status_code == 201


def test_register_duplicate_username_and_uscc(client, session, world):
    body = register_body("applicant1", 77)
    assert_error(register(client, body), 422)
    ok = register(client, register_body("fresh_user", 78))
    assert ok.status_code == 201
    # The same code again: answered as a new registration (no oracle), refused once the phone is proven.
    again = client.post("/api/v1/register", json=register_body("fresh_user2", 78))
    assert again.status_code == 201
    verify = {"username": "fresh_user2", "code": sms_code(client, "fresh_user2")}
    error = assert_error(client.post("/api/v1/register/verify", json=verify), 422)
    assert "该证件号码已有账户" in error["fields"]["registration"][0]


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount": -1},
        {"amount": 0},
        {"amount": "1e30"},
        {"amount": "NaN"},
        {"amount": "Infinity"},
        {"amount": "12.345"},
        {"amount": True},
        {"amount": [1]},
        {"term_months": 0},
        {"term_months": 10000},
        {"term_months": "12"},
        {"term_months": 1.5},
        {"collateral": "house"},
        {"declared_prior_loan": "maybe"},
        {"purpose": ""},
        {"purpose": "x" * 10_000},
        {"renewal": {"current_amount": 100, "matures_on": "2020-01-01"}},
        {"renewal": {"current_amount": -5, "matures_on": "2099-01-01"}},
        {"renewal": {"current_amount": 5, "matures_on": "not a date"}},
        {"renewal": "yes"},
        {"unexpected": 1},
    ],
)
def test_need_validation(client, session, world, overrides):
    headers = token(client, "applicant1", PASSWORD)
    before = snapshot(session)
    assert_error(client.post("/api/v1/needs", json=need_body(**overrides), headers=headers), 422)
    assert snapshot(session) == before


@pytest.mark.parametrize("text", NASTY_STRINGS)
def test_injection_strings_are_data_not_code(client, session, world, text):
    headers = token(client, "applicant1", PASSWORD)
    response = client.post("/api/v1/needs", json=need_body(purpose=text), headers=headers)
    if len(text) > 500 or "\x00" in text:
        assert_error(response, 422)
        return
    assert response.status_code == 201, response.get_json()
    need = client.get(f"/api/v1/needs/{response.get_json()['id']}", headers=headers).get_json()
    assert need["purpose"] == text.strip()


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ("[]", "application/json"),
        ('"a string"', "application/json"),
        ("null", "application/json"),
        ("amount=5", "application/x-www-form-urlencoded"),
        (json.dumps(need_body()).encode("utf-16"), "application/json"),
    ],
)
def test_malformed_bodies(client, session, world, data, content_type):
    headers = token(client, "applicant1", PASSWORD)
    before = snapshot(session)
    response = client.post("/api/v1/needs", data=data, content_type=content_type, headers=headers)
    assert response.status_code in (400, 415, 422), response.get_data(as_text=True)
    assert "error" in response.get_json()
    assert snapshot(session) == before


def test_ten_megabyte_body_is_refused(client, session, world):
    headers = token(client, "applicant1", PASSWORD)
    before = snapshot(session)
    response = client.post(
        "/api/v1/needs", json=need_body(purpose="吉" * (10 * 1024 * 1024 // 3)), headers=headers
    )
    assert_error(response, 413, "payload_too_large")
    assert snapshot(session) == before


def test_another_banks_lead_is_not_found(client, session, world):
    applicant = token(client, "applicant1", PASSWORD)
    need = need_as_read(client, client.post("/api/v1/needs", json=need_body(), headers=applicant), applicant)
    lead_id = need["leads"][0]["id"]
    outsider = token(client, "officer_b", PASSWORD)
    before = snapshot(session)
    for method, path, body in (
        ("get", f"/api/v1/leads/{lead_id}", None),
        ("post", f"/api/v1/leads/{lead_id}/claim", None),
        ("post", f"/api/v1/leads/{lead_id}/transition", {"to": "contacted"}),
        ("get", f"/api/v1/leads/{lead_id}/credit-profile", None),
    ):
        response = getattr(client, method)(path, json=body, headers=outsider)
        assert_error(response, 404)
    assert client.get("/api/v1/leads", headers=outsider).get_json()["total"] == 0
    assert snapshot(session) == before


@pytest.mark.parametrize(
    "path", ["/api/v1/leads/999999/claim", "/api/v1/leads/abc/claim", "/api/v1/leads/-1/claim"]
)
def test_unknown_lead_ids(client, world, path):
    headers = token(client, "officer_a", PASSWORD)
    assert_error(client.post(path, headers=headers), 404)


def test_illegal_transitions_are_conflicts_and_change_nothing(client, session, world):
    applicant = token(client, "applicant1", PASSWORD)
    need = need_as_read(client, client.post("/api/v1/needs", json=need_body(), headers=applicant), applicant)
    lead_id = need["leads"][0]["id"]
    officer = token(client, "officer_a", PASSWORD)
    assert_error(
        client.post(f"/api/v1/leads/{lead_id}/transition", json={"to": "contacted"}, headers=officer), 409
    )
    assert client.post(f"/api/v1/leads/{lead_id}/claim", headers=officer).status_code == 200
    assert_error(client.post(f"/api/v1/leads/{lead_id}/claim", headers=officer), 409, "already_claimed")
    before = snapshot(session)
    assert_error(
        client.post(f"/api/v1/leads/{lead_id}/transition", json={"to": "approved"}, headers=officer), 409
    )
    assert_error(
        client.post(f"/api/v1/leads/{lead_id}/transition", json={"to": "rejected"}, headers=officer), 422
    )
    assert_error(
        client.post(
            f"/api/v1/leads/{lead_id}/transition",
            json={"to": "rejected", "reason_code": "bribe"},
            headers=officer,
        ),
        422,
    )
    assert_error(
        client.post(f"/api/v1/leads/{lead_id}/transition", json={"to": "disbursed"}, headers=officer), 422
    )
    assert snapshot(session) == before


def test_disbursement_loan_validation(client, session, world):
    applicant = token(client, "applicant1", PASSWORD)
    need = need_as_read(client, client.post("/api/v1/needs", json=need_body(), headers=applicant), applicant)
    lead_id = need["leads"][0]["id"]
    officer = token(client, "officer_a", PASSWORD)
    client.post(f"/api/v1/leads/{lead_id}/claim", headers=officer)
    for step in ("contacted", "approved"):
        client.post(f"/api/v1/leads/{lead_id}/transition", json={"to": step}, headers=officer)
    today = dt.datetime.now(SHANGHAI).date()
    good = {
        "amount": "500000",
        "rate": "3.85",
        "term_months": 12,
        "collateral": "credit",
        "disbursed_on": today.isoformat(),
        "first_loan_borrower": True,
        "renewal_without_repayment": False,
    }
    before = snapshot(session)
    for bad in (
        {"amount": "-5"},
        {"rate": "99"},
        {"rate": "3.855"},
        {"disbursed_on": (today + dt.timedelta(days=2)).isoformat()},
        {"disbursed_on": "2020-01-01"},
        {"first_loan_borrower": None},
        {"collateral": "gold"},
    ):
        body = {"to": "disbursed", "loan": {**good, **bad}}
        assert_error(client.post(f"/api/v1/leads/{lead_id}/transition", json=body, headers=officer), 422)
    assert snapshot(session) == before
    ok = client.post(
        f"/api/v1/leads/{lead_id}/transition", json={"to": "disbursed", "loan": good}, headers=officer
    )
    assert ok.status_code == 200, ok.get_json()


def test_roles_are_enforced(client, world):
    applicant = token(client, "applicant1", PASSWORD)
    officer = token(client, "officer_a", PASSWORD)
    assert_error(
        client.post(
            "/api/v1/admin/institutions", json={"code": "X1", "name": "x", "kind": "bank"}, headers=officer
        ),
        403,
    )
    assert_error(client.get("/api/v1/leads", headers=applicant), 403)
    assert_error(client.post("/api/v1/needs", json=need_body(), headers=officer), 403)
    assert_error(client.get("/api/v1/stats/summary?from=2026-01-01&to=2026-01-31", headers=officer), 403)
    assert_error(client.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"}), 401)
    assert_error(client.get("/api/v1/me"), 401)


def test_bad_credentials(client, world):
    assert_error(client.post("/api/v1/auth/token", json={"username": "applicant1", "password": "wrong"}), 401)
    assert_error(client.post("/api/v1/auth/token", json={"username": "nobody", "password": "wrong"}), 401)
    assert_error(client.post("/api/v1/auth/token", json={"username": 5, "password": []}), 422)


def test_product_manager_only_touches_own_products(client, session, world):
    other_product = ProductFactory(institution=world["other"])
    session.flush()
    pm = token(client, "pm_a", PASSWORD)
    assert_error(client.post(f"/api/v1/products/{other_product.id}/publish", headers=pm), 404)
    assert_error(client.patch(f"/api/v1/products/{other_product.id}", json={"name": "偷改"}, headers=pm), 404)
    body = {
        "name": "新产品",
        "min_amount": 500000,
        "max_amount": 100000,
        "min_term_months": 1,
        "max_term_months": 12,
        "rate_min": "3",
        "rate_max": "4",
        "collateral": ["credit"],
        "borrower_kinds": ["enterprise"],
    }
    error = assert_error(client.post("/api/v1/products", json=body, headers=pm), 422)
    assert "max_amount" in error["fields"]


def test_stats_scope_for_county_office(client, session, world):
    UserFactory(username="county_a", finance=True, region_code="360802")
    session.flush()
    county = token(client, "county_a", PASSWORD)
    ok = client.get("/api/v1/stats/summary?from=2026-01-01&to=2026-12-31", headers=county)
    assert ok.status_code == 200 and ok.get_json()["region_code"] == "360802"
    assert_error(
        client.get("/api/v1/stats/summary?from=2026-01-01&to=2026-12-31&region_code=360803", headers=county),
        403,
    )
    assert_error(
        client.get("/api/v1/stats/summary?from=2026-01-01&to=2026-12-31&region_code=360800", headers=county),
        403,
    )
    assert_error(client.get("/api/v1/stats/summary?from=2026-12-31&to=2026-01-01", headers=county), 422)
    assert_error(client.get("/api/v1/stats/summary?from=yesterday&to=2026-01-01", headers=county), 422)


@pytest.mark.parametrize("mark", ["\u202e", "\u2066", "\u0085", "\x7f"])
def test_text_direction_and_control_marks_are_refused_in_api_and_pages(client, session, mark):
    """A name shown reversed to a bank officer (U+202E) is a spoof, not a name: both doors refuse it."""
    from tests.portal.test_web_support import text

    before = snapshot(session)
    body = register_body("bidi_user", 88, name=f"吉安{mark}司公限有")
    response = register(client, body)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["borrower.name"] == ["不能包含控制字符"]
    page = client.post("/register", data={
        "username": "bidi_page", "password": "Ji'an-2026-ok", "password_again": "Ji'an-2026-ok",
        "phone": "13970000002", "kind": "enterprise", "name": f"吉安{mark}司公限有", "uscc": uscc(89),
        "id_number": "", "region_code": "360802", "industry_code": "A",
    })  # fmt: skip
    assert page.status_code == 422 and "不能包含控制字符" in text(page)
    assert snapshot(session) == before
    ok = register(client, register_body("plain_user", 90, name="吉安\t蜜柚合作社"))
    assert ok.status_code == 201
