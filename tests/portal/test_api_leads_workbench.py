"""The officer's workbench through the JSON API: decline, hand-over, notes, the plausibility rules of a
disbursement and the correction of a loan, which the statistics follow."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.models import StatusEvent
from core.types import local_today
from matching.models import Loan
from tests.factories import (
    PASSWORD,
    BorrowerFactory,
    InstitutionFactory,
    LoanFactory,
    ProductFactory,
    UserFactory,
)
from tests.portal.api_helpers import assert_error, need_as_read, snapshot, token

pytestmark = pytest.mark.smoke

NEED_AMOUNT = 300000


@pytest.fixture
def bank(session, client):
    """One bank (a product up to 100万元), its two officers, another bank's officer, the city office and an
    applicant with a 30万元 need pushed to the bank."""
    bank = InstitutionFactory(code="BANKA")
    other = InstitutionFactory(code="BANKB")
    ProductFactory(institution=bank, published=True, max_amount=Decimal("1000000.00"))
    borrower = BorrowerFactory(region_code="360802")
    UserFactory(username="applicant1", borrower_id=borrower.id)
    UserFactory(username="officer_a", officer=True, institution_id=bank.id)
    UserFactory(username="officer_a2", officer=True, institution_id=bank.id)
    UserFactory(username="officer_b", officer=True, institution_id=other.id)
    UserFactory(username="city", finance=True)
    session.flush()
    return borrower


def post_need(client, *, declared_prior_loan=False, renewal=None) -> int:
    applicant = token(client, "applicant1", PASSWORD)
    body = {
        "amount": NEED_AMOUNT,
        "term_months": 12,
        "purpose": "周转",
        "collateral": "credit",
        "declared_prior_loan": declared_prior_loan,
    }
    if renewal:
        body["renewal"] = renewal
    need = need_as_read(client, client.post("/api/v1/needs", json=body, headers=applicant), applicant)
    return int(need["leads"][0]["id"])


def approved_lead(client, **need) -> tuple[int, dict[str, str]]:
    lead_id = post_need(client, **need)
    officer = token(client, "officer_a", PASSWORD)
    assert client.post(f"/api/v1/leads/{lead_id}/claim", headers=officer).status_code == 200
    for step in ("contacted", "approved"):
        response = client.post(f"/api/v1/leads/{lead_id}/transition", json={"to": step}, headers=officer)
        assert response.status_code == 200, response.get_json()
    return lead_id, officer


def loan(**overrides) -> dict:
    body = {
        "amount": str(NEED_AMOUNT),
        "rate": "3.85",
        "term_months": 12,
        "collateral": "credit",
        "disbursed_on": local_today().isoformat(),
        "first_loan_borrower": False,
        "renewal_without_repayment": False,
    }
    body.update(overrides)
    return body


def disburse(client, lead_id, officer, confirm=None, **overrides):
    body = {"to": "disbursed", "loan": loan(**overrides)}
    if confirm is not None:
        body["confirm_outlier"] = confirm
    return client.post(f"/api/v1/leads/{lead_id}/transition", json=body, headers=officer)


def codes(response) -> list[str]:
    error = assert_error(response, 422, "implausible_loan")
    return error["fields"]["loan"]


# --- plausibility -------------------------------------------------------------------------------


def test_each_plausibility_code_is_returned_for_its_case_and_refuses_the_loan(client, session, bank):
    lead_id, officer = approved_lead(client)
    before = snapshot(session)
    # 99,999,999 yuan on a product capped at 1,000,000: above the maximum (and an outlier).
    assert codes(disburse(client, lead_id, officer, amount="99999999")) == [
        "amount_above_product_max",
        "amount_outlier",
    ]
    # Confirming the outlier does not lift the product's cap.
    assert codes(disburse(client, lead_id, officer, True, amount="1000000.01")) == [
        "amount_above_product_max"
    ]
    # 70万元 on a 30万元 need: more than twice the need.
    assert codes(disburse(client, lead_id, officer, amount="600000.01")) == ["amount_outlier"]
    # A 无还本续贷 flag on a need that is not a renewal.
    assert codes(disburse(client, lead_id, officer, renewal_without_repayment=True)) == ["renewal_conflict"]
    assert snapshot(session) == before
    assert client.get(f"/api/v1/leads/{lead_id}", headers=officer).get_json()["status"] == "approved"
    # Both can be confirmed.
    response = disburse(client, lead_id, officer, True, amount="600000.01", renewal_without_repayment=True)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["loan"]["amount"] == "600000.01"


def test_a_first_loan_flag_conflicts_with_a_declared_prior_loan(client, session, bank):
    lead_id, officer = approved_lead(client, declared_prior_loan=True)
    assert codes(disburse(client, lead_id, officer, True, first_loan_borrower=True)) == [
        "first_loan_conflict"
    ]
    assert disburse(client, lead_id, officer, first_loan_borrower=False).status_code == 200


def test_a_first_loan_flag_conflicts_with_an_earlier_loan_on_the_platform(client, session, bank):
    lead_id, officer = approved_lead(client)
    # Another borrower's loan does not count.
    other = LoanFactory(disbursed_on=local_today() - dt.timedelta(days=400))
    assert other.borrower_id != bank.id
    assert disburse(client, lead_id, officer, first_loan_borrower=True).status_code == 200
    # The next need of the same borrower, after that loan: no longer a first loan.
    second, _officer = approved_lead(client)
    assert codes(disburse(client, second, officer, first_loan_borrower=True)) == ["first_loan_conflict"]


def test_a_renewal_flag_on_a_renewal_need_is_plausible(client, session, bank):
    renewal = {
        "current_amount": NEED_AMOUNT,
        "matures_on": (local_today() + dt.timedelta(days=30)).isoformat(),
    }
    lead_id, officer = approved_lead(client, renewal=renewal)
    assert disburse(client, lead_id, officer, renewal_without_repayment=True).status_code == 200


# --- correction ---------------------------------------------------------------------------------


def summary(client) -> dict:
    city = token(client, "city", PASSWORD)
    day = local_today().isoformat()
    response = client.get(f"/api/v1/stats/summary?from={day}&to={day}", headers=city)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_corrected_loan_moves_the_statistics_and_keeps_the_old_values(client, session, bank):
    lead_id, officer = approved_lead(client)
    # The slip: 500万 typed for a 30万 need, confirmed as an outlier (the product allows it here).
    response = disburse(
        client, lead_id, officer, True, amount="1000000", rate="4.35", first_loan_borrower=True
    )
    assert response.status_code == 200, response.get_json()
    before = summary(client)
    assert (before["loans"], Decimal(before["loans_amount"]), before["first_loan_borrowers"]) == (
        1,
        Decimal("1000000"),
        1,
    )
    body = {"amount": "300000", "first_loan_borrower": False, "reason": "金额录入多了一个零"}
    response = client.patch(f"/api/v1/leads/{lead_id}/loan", json=body, headers=officer)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["loan"]["amount"] == "300000.00"
    after = summary(client)
    assert (after["loans"], Decimal(after["loans_amount"]), after["first_loan_borrowers"]) == (
        1,
        Decimal("300000"),
        0,
    )
    assert after["avg_rate"] == "4.35"
    [event] = [e for e in response.get_json()["events"] if e["kind"] == "loan_corrected"]
    assert event["note"] == "金额录入多了一个零" and event["actor"] == "officer_a"
    assert event["data"]["previous"] == {"amount": "1000000.00", "first_loan_borrower": True}
    assert event["data"]["corrected"] == {"amount": "300000.00", "first_loan_borrower": False}
    # The audit trail holds it too (status events are append-only and hash-chained).
    row = session.scalar(select(StatusEvent).where(StatusEvent.data["kind"].as_string() == "loan_corrected"))
    assert row is not None and row.data["previous"]["amount"] == "1000000.00"


def test_a_correction_follows_the_same_rules_and_needs_a_reason(client, session, bank):
    lead_id, officer = approved_lead(client)
    assert disburse(client, lead_id, officer).status_code == 200
    url = f"/api/v1/leads/{lead_id}/loan"
    colleague = token(client, "officer_a2", PASSWORD)
    other_bank = token(client, "officer_b", PASSWORD)
    before = snapshot(session)
    assert_error(client.patch(url, json={"amount": "250000"}, headers=officer), 422)
    assert_error(client.patch(url, json={"amount": "250000", "reason": "  "}, headers=officer), 422)
    assert codes(client.patch(url, json={"amount": "900000", "reason": "x"}, headers=officer)) == [
        "amount_outlier"
    ]
    assert codes(
        client.patch(url, json={"renewal_without_repayment": True, "reason": "x"}, headers=officer)
    ) == ["renewal_conflict"]
    assert_error(client.patch(url, json={"amount": "300000", "reason": "x"}, headers=officer), 422)
    assert_error(
        client.patch(url, json={"amount": "250000", "reason": "x"}, headers=colleague), 409, "not_claimant"
    )
    assert_error(client.patch(url, json={"amount": "250000", "reason": "x"}, headers=other_bank), 404)
    assert snapshot(session) == before


def test_a_loan_cannot_be_corrected_after_thirty_days(client, session, bank):
    lead_id, officer = approved_lead(client)
    assert disburse(client, lead_id, officer).status_code == 200
    # Counted from the disbursement as first recorded.
    row = session.scalar(select(Loan))
    row.created_at = row.created_at - dt.timedelta(days=31)
    session.flush()
    response = client.patch(
        f"/api/v1/leads/{lead_id}/loan", json={"amount": "250000", "reason": "x"}, headers=officer
    )
    assert_error(response, 409, "correction_window_closed")
    row.created_at = row.created_at + dt.timedelta(days=1)
    session.flush()
    response = client.patch(
        f"/api/v1/leads/{lead_id}/loan", json={"amount": "250000", "reason": "x"}, headers=officer
    )
    assert response.status_code == 200, response.get_json()


# --- decline, hand-over, notes ------------------------------------------------------------------


def test_any_officer_declines_a_pushed_lead_with_a_reason(client, session, bank):
    lead_id = post_need(client)
    colleague = token(client, "officer_a2", PASSWORD)
    url = f"/api/v1/leads/{lead_id}/decline"
    assert_error(client.post(url, json={}, headers=colleague), 422)
    assert_error(client.post(url, json={"reason_code": "nonsense"}, headers=colleague), 422)
    assert_error(
        client.post(
            url, json={"reason_code": "policy_restricted"}, headers=token(client, "officer_b", PASSWORD)
        ),
        404,
    )
    response = client.post(
        url, json={"reason_code": "policy_restricted", "note": "限制类行业"}, headers=colleague
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "declined"
    assert response.get_json()["reason_code"] == "policy_restricted"
    # Declined is final: it cannot be claimed or declined again.
    assert_error(client.post(f"/api/v1/leads/{lead_id}/claim", headers=colleague), 409)
    assert_error(client.post(url, json={"reason_code": "policy_restricted"}, headers=colleague), 409)
    listed = client.get("/api/v1/leads?status=declined", headers=colleague).get_json()
    assert [item["id"] for item in listed["items"]] == [lead_id]


def test_a_claimed_lead_is_handed_over_to_a_colleague_only(client, session, bank):
    lead_id = post_need(client)
    officer = token(client, "officer_a", PASSWORD)
    client.post(f"/api/v1/leads/{lead_id}/claim", headers=officer)
    url = f"/api/v1/leads/{lead_id}/assign"
    colleague = token(client, "officer_a2", PASSWORD)
    assert_error(client.post(url, json={"username": "officer_a2"}, headers=colleague), 409, "not_claimant")
    error = assert_error(client.post(url, json={"username": "officer_b"}, headers=officer), 422)
    assert "username" in error["fields"]
    assert_error(client.post(url, json={"username": "officer_a"}, headers=officer), 422)
    response = client.post(url, json={"username": "officer_a2"}, headers=officer)
    assert response.status_code == 200, response.get_json()
    # The former claimant now sees the lead as a colleague's; the new one sees the borrower.
    assert response.get_json()["claimed_by"] == "officer_a2" and response.get_json()["borrower"] is None
    mine = client.get(f"/api/v1/leads/{lead_id}", headers=colleague).get_json()
    assert mine["borrower"]["id"] == bank.id
    [event] = [e for e in mine["events"] if e["kind"] == "assigned"]
    assert event["data"] == {"from": "officer_a", "to": "officer_a2"} and event["actor"] == "officer_a"
    ok = client.post(f"/api/v1/leads/{lead_id}/transition", json={"to": "contacted"}, headers=colleague)
    assert ok.status_code == 200


def test_notes_are_kept_in_the_leads_history_for_whoever_holds_it(client, session, bank):
    lead_id = post_need(client)
    officer = token(client, "officer_a", PASSWORD)
    client.post(f"/api/v1/leads/{lead_id}/claim", headers=officer)
    url = f"/api/v1/leads/{lead_id}/notes"
    colleague = token(client, "officer_a2", PASSWORD)
    assert_error(client.post(url, json={"text": "x"}, headers=colleague), 409, "not_claimant")
    assert_error(client.post(url, json={"text": ""}, headers=officer), 422)
    assert_error(client.post(url, json={"text": "长" * 501}, headers=officer), 422)
    response = client.post(url, json={"text": "客户约周三下午面谈"}, headers=officer)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["note"] == "客户约周三下午面谈" and response.get_json()["kind"] == "note"
    client.post(
        f"/api/v1/leads/{lead_id}/transition", json={"to": "contacted", "note": "已电话联系"}, headers=officer
    )
    events = client.get(f"/api/v1/leads/{lead_id}", headers=officer).get_json()["events"]
    assert [(e["kind"], e["status"], e["note"]) for e in events] == [
        ("status", "pushed", None),
        ("status", "claimed", None),
        ("note", "claimed", "客户约周三下午面谈"),
        ("status", "contacted", "已电话联系"),
    ]
    # A colleague sees that things happened, not what the holder wrote.
    seen = client.get(f"/api/v1/leads/{lead_id}", headers=colleague).get_json()["events"]
    assert [e["note"] for e in seen] == [None, None, None, None]
    # The applicant's timeline does not carry the institution's notes.
    applicant = token(client, "applicant1", PASSWORD)
    need_id = client.get(f"/api/v1/leads/{lead_id}", headers=officer).get_json()["need_id"]
    timeline = client.get(f"/api/v1/needs/{need_id}", headers=applicant).get_json()["events"]
    assert not any("周三" in (e["note"] or "") for e in timeline)


def test_the_new_endpoints_are_documented(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in (
        ("/api/v1/leads/{lead_id}/decline", "post"),
        ("/api/v1/leads/{lead_id}/assign", "post"),
        ("/api/v1/leads/{lead_id}/notes", "post"),
        ("/api/v1/leads/{lead_id}/loan", "patch"),
    ):
        assert method in paths[path], path
