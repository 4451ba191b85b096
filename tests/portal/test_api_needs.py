"""The applicant's needs through the API: the duplicate guard, applying for a product, editing a need
before anyone claims it, and the officer and the loan shown on the need."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.types import local_today
from portal.app import create_app
from tests.conftest import make_settings
from tests.factories import PASSWORD, InstitutionFactory, ProductFactory, UserFactory
from tests.portal.api_helpers import register, register_body, snapshot, token

NEED = {"amount": 600000, "term_months": 12, "purpose": "购置设备", "collateral": "credit",
        "declared_prior_loan": False}  # fmt: skip


@pytest.fixture
def app(session_factory, session):
    return create_app(make_settings(dispatch_top_n=2), session_factory=session_factory)


def _applicant(client, n=3):
    assert register(client, register_body("shop", n)).status_code == 201
    return token(client, "shop")


def _banks(session, count=3, **product):
    products = []
    for i in range(count):
        institution = InstitutionFactory(name=f"测试农商银行{i}")
        values = {"rate_min": Decimal(f"3.{i}0"), **product}
        products.append(ProductFactory(institution=institution, published=True, **values))
    session.commit()
    return products


def test_ten_identical_needs_in_a_row_give_one_201_and_nine_duplicate_need(app, session):
    client = app.test_client()
    _banks(session, 1)
    applicant = _applicant(client)
    answers = [client.post("/api/v1/needs", json=NEED, headers=applicant) for _ in range(10)]
    assert [a.status_code for a in answers] == [201] + [409] * 9
    assert {a.get_json()["error"]["code"] for a in answers[1:]} == {"duplicate_need"}
    assert "重复" in answers[1].get_json()["error"]["message"]
    assert client.get("/api/v1/needs", headers=applicant).get_json()["total"] == 1

    # A different term is another need; a fourth open one is refused; withdrawing one frees a place.
    for months in (6, 24):
        assert (
            client.post("/api/v1/needs", json={**NEED, "term_months": months}, headers=applicant).status_code
            == 201
        )
    fourth = client.post("/api/v1/needs", json={**NEED, "term_months": 36}, headers=applicant)
    assert (fourth.status_code, fourth.get_json()["error"]["code"]) == (409, "too_many_open_needs")
    first = answers[0].get_json()["id"]
    assert client.post(f"/api/v1/needs/{first}/withdraw", headers=applicant).status_code == 200
    assert client.post("/api/v1/needs", json=NEED, headers=applicant).status_code == 201


def test_applying_for_a_product_puts_it_first_or_says_why_it_cannot(app, session):
    client = app.test_client()
    cheap, _middle, dear = _banks(session, 3)
    small = ProductFactory(institution=dear.institution, published=True, max_amount=Decimal("300000"),
                           rate_min=Decimal("9.00"), name="小额贷")  # fmt: skip
    session.commit()
    applicant = _applicant(client)

    before = snapshot(session)
    refused = client.post("/api/v1/needs", json={**NEED, "product_id": small.id}, headers=applicant)
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["error"]["fields"]["product_id"] == ["申请金额高于该产品的最高额度"]
    assert snapshot(session) == before
    unknown = client.post("/api/v1/needs", json={**NEED, "product_id": 10**9}, headers=applicant)
    assert unknown.get_json()["error"]["fields"]["product_id"] == ["该产品不存在或已暂停受理"]

    created = client.post("/api/v1/needs", json={**NEED, "product_id": dear.id}, headers=applicant)
    assert created.status_code == 201, created.get_json()
    need = client.get(f"/api/v1/needs/{created.get_json()['id']}", headers=applicant).get_json()
    # Unasked, the two cheapest banks would get it (top 2); asked, the chosen product leads the round.
    assert [lead["product"]["id"] for lead in need["leads"]] == [dear.id, cheap.id]
    assert need["requested_product_id"] == dear.id


def test_editing_a_need_matches_it_again_and_closes_leads_that_no_longer_fit(app, session):
    client = app.test_client()
    big, small = _banks(session, 2)
    big.min_amount, small.max_amount = Decimal("500000"), Decimal("800000")
    session.commit()
    applicant = _applicant(client)
    need_id = client.post("/api/v1/needs", json=NEED, headers=applicant).get_json()["id"]
    need = client.get(f"/api/v1/needs/{need_id}", headers=applicant).get_json()
    assert sorted(lead["product"]["id"] for lead in need["leads"]) == sorted([big.id, small.id])

    edited = client.patch(f"/api/v1/needs/{need_id}", json={"amount": "2000000", "term_months": 24},
                          headers=applicant)  # fmt: skip
    assert edited.status_code == 200, edited.get_json()
    body = edited.get_json()
    assert (body["amount"], body["term_months"], body["status"]) == ("2000000.00", 24, "matched")
    statuses = {lead["product"]["id"]: lead["status"] for lead in body["leads"]}
    assert statuses == {big.id: "pushed", small.id: "closed"}

    # Nothing fits any more: the need is unmatched and says why.
    body = client.patch(f"/api/v1/needs/{need_id}", json={"amount": 50000000}, headers=applicant).get_json()
    assert body["status"] == "unmatched"
    assert all(lead["status"] == "closed" for lead in body["leads"])
    assert body["unmatched_reasons"]

    bad = client.patch(f"/api/v1/needs/{need_id}", json={"amount": 5}, headers=applicant)
    assert bad.status_code == 422
    assert (
        client.patch(f"/api/v1/needs/{need_id}", json={"colour": "red"}, headers=applicant).status_code == 422
    )


def test_a_claimed_need_shows_its_officer_cannot_be_edited_and_shows_its_loan(app, session):
    client = app.test_client()
    (product,) = _banks(session, 1)
    UserFactory(
        username="li_officer", officer=True, institution_id=product.institution_id, phone="13907962222"
    )
    session.commit()
    applicant = _applicant(client)
    need_id = client.post("/api/v1/needs", json=NEED, headers=applicant).get_json()["id"]
    need = client.get(f"/api/v1/needs/{need_id}", headers=applicant).get_json()
    assert need["leads"][0]["officer"] is None
    officer = token(client, "li_officer", PASSWORD)
    lead_id = need["leads"][0]["id"]
    assert client.post(f"/api/v1/leads/{lead_id}/claim", headers=officer).status_code == 200

    need = client.get(f"/api/v1/needs/{need_id}", headers=applicant).get_json()
    assert need["leads"][0]["officer"] == {"name": "li_officer", "phone": "13907962222"}
    refused = client.patch(f"/api/v1/needs/{need_id}", json={"amount": 700000}, headers=applicant)
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (409, "need_claimed")
    assert need["loan"] is None

    disbursed_on = local_today()
    loan = {"amount": "550000", "rate": "3.85", "term_months": 12, "collateral": "credit",
            "disbursed_on": disbursed_on.isoformat(), "first_loan_borrower": False,
            "renewal_without_repayment": False}  # fmt: skip
    for step in ({"to": "contacted"}, {"to": "approved"}, {"to": "disbursed", "loan": loan}):
        answer = client.post(f"/api/v1/leads/{lead_id}/transition", json=step, headers=officer)
        assert answer.status_code == 200, answer.get_json()
    need = client.get(f"/api/v1/needs/{need_id}", headers=applicant).get_json()
    assert need["status"] == "disbursed"
    matures = disbursed_on.replace(year=disbursed_on.year + 1) if not (
        disbursed_on.month == 2 and disbursed_on.day == 29) else dt.date(disbursed_on.year + 1, 2, 28)  # fmt: skip
    assert need["loan"] == {
        "amount": "550000.00", "rate": "3.85", "term_months": 12, "disbursed_on": disbursed_on.isoformat(),
        "matures_on": matures.isoformat(), "institution": {"code": product.institution.code, "name": "测试农商银行0"},
    }  # fmt: skip
