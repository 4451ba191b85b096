"""POST /api/v1/leads/{id}/performance: lenders report how disbursed loans perform."""

from __future__ import annotations

import datetime as dt

import pytest

from core.types import SHANGHAI
from tests.factories import PASSWORD, BorrowerFactory, InstitutionFactory, ProductFactory, UserFactory
from tests.portal.api_helpers import assert_error, need_as_read, snapshot, token

pytestmark = pytest.mark.smoke


@pytest.fixture
def lead(session, client):
    bank = InstitutionFactory(code="BANKA")
    other = InstitutionFactory(code="BANKB")
    ProductFactory(institution=bank, published=True)
    borrower = BorrowerFactory()
    UserFactory(username="applicant1", borrower_id=borrower.id)
    UserFactory(username="officer_a", officer=True, institution_id=bank.id)
    UserFactory(username="officer_a2", officer=True, institution_id=bank.id)
    UserFactory(username="officer_b", officer=True, institution_id=other.id)
    session.flush()
    applicant = token(client, "applicant1", PASSWORD)
    response = client.post(
        "/api/v1/needs",
        json={
            "amount": 200000,
            "term_months": 12,
            "purpose": "周转",
            "collateral": "credit",
            "declared_prior_loan": True,
        },
        headers=applicant,
    )
    need = need_as_read(client, response, applicant)
    lead_id = need["leads"][0]["id"]
    officer = token(client, "officer_a", PASSWORD)
    client.post(f"/api/v1/leads/{lead_id}/claim", headers=officer)
    return lead_id, officer


def disburse(client, lead_id, officer, on: dt.date) -> None:
    for step in ("contacted", "approved"):
        client.post(f"/api/v1/leads/{lead_id}/transition", json={"to": step}, headers=officer)
    loan = {
        "amount": "200000",
        "rate": "3.85",
        "term_months": 12,
        "collateral": "credit",
        "disbursed_on": on.isoformat(),
        "first_loan_borrower": False,
        "renewal_without_repayment": False,
    }
    response = client.post(
        f"/api/v1/leads/{lead_id}/transition", json={"to": "disbursed", "loan": loan}, headers=officer
    )
    assert response.status_code == 200, response.get_json()


def test_any_officer_of_the_bank_reports_on_a_disbursed_loan(client, session, lead):
    lead_id, officer = lead
    today = dt.datetime.now(SHANGHAI).date()
    body = {"as_of": today.isoformat(), "overdue_30": True, "overdue_90": False}
    before = snapshot(session)
    assert_error(
        client.post(f"/api/v1/leads/{lead_id}/performance", json=body, headers=officer),
        409,
        "lead_not_disbursed",
    )
    assert snapshot(session) == before
    disburse(client, lead_id, officer, today)

    colleague = token(client, "officer_a2", PASSWORD)
    response = client.post(f"/api/v1/leads/{lead_id}/performance", json=body, headers=colleague)

    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert (report["lead_id"], report["as_of"], report["overdue_30"], report["overdue_90"]) == (
        lead_id,
        today.isoformat(),
        True,
        False,
    )
    assert report["reported_by"] == "officer_a2"
    detail = client.get(f"/api/v1/leads/{lead_id}", headers=officer).get_json()
    assert [(p["overdue_30"], p["overdue_90"]) for p in detail["loan"]["performance"]] == [(True, False)]


def test_bad_reports_are_refused_and_change_nothing(client, session, lead):
    lead_id, officer = lead
    today = dt.datetime.now(SHANGHAI).date()
    disburse(client, lead_id, officer, today)
    outsider = token(client, "officer_b", PASSWORD)
    applicant = token(client, "applicant1", PASSWORD)
    good = {"as_of": today.isoformat(), "overdue_30": False, "overdue_90": False}
    path = f"/api/v1/leads/{lead_id}/performance"
    before = snapshot(session)
    assert_error(client.post(path, json=good, headers=outsider), 404)
    assert_error(client.post(path, json=good, headers=applicant), 403)
    assert_error(client.post("/api/v1/leads/999999/performance", json=good, headers=officer), 404)
    for bad, field in (
        ({"as_of": (today + dt.timedelta(days=1)).isoformat()}, "as_of"),
        ({"as_of": (today - dt.timedelta(days=1)).isoformat()}, "as_of"),
        ({"overdue_90": True}, "overdue_30"),
        ({"overdue_30": "sometimes"}, "overdue_30"),
        ({"as_of": "2025-02-30"}, "as_of"),
    ):
        error = assert_error(client.post(path, json={**good, **bad}, headers=officer), 422)
        assert list(error["fields"]) == [field]
    assert_error(client.post(path, json={**good, "extra": 1}, headers=officer), 422)
    assert snapshot(session) == before
