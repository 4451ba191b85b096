"""The guarantees API: a cover from request to recovery and a bridge from application to return, each
step by the role that owns it; another bank's or guarantor's records are 404; bad input is a 422 that
changes nothing; the figures are scoped to the office's county."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from core.types import local_today
from tests.factories import (
    PASSWORD,
    InstitutionFactory,
    LeadFactory,
    NeedFactory,
    SchemeFactory,
    UserFactory,
)
from tests.portal.api_helpers import assert_error, snapshot, token

pytestmark = pytest.mark.smoke


@pytest.fixture
def people(client, session):
    scheme = SchemeFactory()
    fund = SchemeFactory(bridge=True)
    lead = LeadFactory(approved=True, need=NeedFactory(amount=D("1000000.00")))
    other_bank = InstitutionFactory()
    users = {
        "officer": UserFactory(officer=True, institution_id=lead.institution_id),
        "other_officer": UserFactory(officer=True, institution_id=other_bank.id),
        "guarantor": UserFactory(role="guarantor", institution_id=scheme.operator_id),
        "bridge_operator": UserFactory(role="guarantor", institution_id=fund.operator_id),
        "finance": UserFactory(finance=True),
        "county": UserFactory(role="finance", region_code="360826"),
    }
    applicant = UserFactory(borrower_id=lead.borrower_id)
    users["applicant"] = applicant
    session.flush()
    headers = {name: token(client, u.username, PASSWORD) for name, u in users.items()}
    return {"scheme": scheme, "fund": fund, "lead": lead, "users": users, "h": headers}


def test_an_approved_cover_is_active_as_soon_as_the_officer_records_the_loan(client, session, people) -> None:
    h, lead, scheme = people["h"], people["lead"], people["scheme"]
    lead.need.status = "in_progress"  # as the claim left it (the fixture's need was built on its own)
    session.flush()
    body = {"lead_id": lead.id, "scheme_id": scheme.id, "fee_rate": "0.008"}
    cover_id = client.post("/api/v1/guarantees/covers", json=body, headers=h["officer"]).get_json()["id"]
    decided = client.post(
        f"/api/v1/guarantees/covers/{cover_id}/decision", json={"approve": True}, headers=h["guarantor"]
    )
    assert decided.get_json()["status"] == "approved"
    loan = {
        "amount": "1000000.00", "rate": "3.85", "term_months": 12, "collateral": "credit",
        "disbursed_on": local_today().isoformat(), "first_loan_borrower": True,
        "renewal_without_repayment": False,
    }  # fmt: skip
    moved = client.post(
        f"/api/v1/leads/{lead.id}/transition", json={"to": "disbursed", "loan": loan}, headers=h["officer"]
    )
    assert moved.status_code == 200, moved.get_json()
    # No sweep has run: the disbursement itself made the cover active, with the loan's figures.
    cover = client.get(f"/api/v1/guarantees/covers/{cover_id}", headers=h["officer"]).get_json()
    assert cover["status"] == "active"
    assert cover["amount"] == "1000000.00"


def test_a_cover_from_request_to_recovery(client, session, people) -> None:
    h, lead, scheme = people["h"], people["lead"], people["scheme"]
    body = {"lead_id": lead.id, "scheme_id": scheme.id, "fee_rate": "0.008"}
    assert_error(client.post("/api/v1/guarantees/covers", json=body, headers=h["other_officer"]), 404)
    created = client.post("/api/v1/guarantees/covers", json=body, headers=h["officer"])
    assert created.status_code == 201, created.get_json()
    cover_id = created.get_json()["id"]
    queue = client.get("/api/v1/guarantees/covers?status=requested", headers=h["guarantor"]).get_json()
    assert [row["id"] for row in queue["items"]] == [cover_id]
    before = snapshot(session)
    assert_error(
        client.post(
            f"/api/v1/guarantees/covers/{cover_id}/decision", json={"approve": False}, headers=h["guarantor"]
        ),
        422,
    )
    assert snapshot(session) == before
    decided = client.post(
        f"/api/v1/guarantees/covers/{cover_id}/decision", json={"approve": True}, headers=h["guarantor"]
    )
    assert decided.get_json()["status"] == "approved"
    # The loan is disbursed afterwards: the sweep makes the cover active.
    from guarantees.covers import activate_disbursed_covers
    from tests.factories import LoanFactory

    lead.status = "disbursed"
    LoanFactory(lead=lead, amount=D("1000000.00"), disbursed_on=local_today() - dt.timedelta(days=3))
    assert activate_disbursed_covers(session) == 1
    # The borrower sees their cover, and was told of each change of its status; another bank does not.
    assert client.get(f"/api/v1/guarantees/covers/{cover_id}", headers=h["applicant"]).status_code == 200
    told = client.get("/api/v1/notifications", headers=h["applicant"]).get_json()["items"]
    assert [n["text"] for n in told if n["kind"] == "guarantee_cover"] == [
        f"您的贷款担保/补偿#{cover_id}：在保", f"您的贷款担保/补偿#{cover_id}：已同意，待放款",
        f"您的贷款担保/补偿#{cover_id}：待审核",
    ]  # fmt: skip
    assert_error(client.get(f"/api/v1/guarantees/covers/{cover_id}", headers=h["other_officer"]), 404)
    filed = client.post(
        "/api/v1/guarantees/covers/filings", json={"cover_ids": [cover_id]}, headers=h["guarantor"]
    )
    assert filed.status_code == 201, filed.get_json()
    # A zero too many in the interest or the collateral recovered: 422 on that field, nothing written.
    for slip, field, says in (
        ({"interest": "40000.01"}, "interest", "逾期利息不能超过逾期本金"),
        ({"interest": "12345.00"}, "interest", "逾期利息超过按年利率 36% 自放款日计算的上限"),
        ({"interest": "123.45", "collateral_realised": "401234.50"}, "collateral_realised",
         "抵质押物回收不能超过逾期本金与利息之和"),
    ):  # fmt: skip
        body = {"overdue_since": local_today().isoformat(), "principal": "40000.00", **slip}
        before = snapshot(session)
        refused = client.post(
            f"/api/v1/guarantees/covers/{cover_id}/default", json=body, headers=h["officer"]
        )
        fields = assert_error(refused, 422)["fields"]
        assert list(fields) == [field] and says in fields[field][0] and "万元" in fields[field][0]
        assert snapshot(session) == before
    report = client.post(
        f"/api/v1/guarantees/covers/{cover_id}/default",
        json={"overdue_since": local_today().isoformat(), "principal": "40000.00", "interest": "123.45"},
        headers=h["officer"],
    )
    assert report.status_code == 201, report.get_json()
    default = report.get_json()["default"]
    assert default["loss"] == "40000.00"
    assert default["shares"] == {
        "bank": "8000.00",
        "guarantor": "16000.00",
        "reguarantor": "12000.00",
        "fund": "4000.00",
    }
    assert default["workings"][0]["label"] == "loss"
    (due,) = default["payments"]
    paid = client.post(
        f"/api/v1/guarantees/compensations/{due['id']}/payment",
        json={"amount": "32000.00", "paid_on": local_today().isoformat()},
        headers=h["guarantor"],
    )
    assert paid.status_code == 200, paid.get_json()
    assert {p["party"] for p in paid.get_json()["default"]["payments"]} == {
        "guarantor",
        "reguarantor",
        "fund",
    }
    recovered = client.post(
        f"/api/v1/guarantees/covers/{cover_id}/recoveries",
        json={"amount": "10000.00", "recovered_on": local_today().isoformat(), "method": "litigation"},
        headers=h["guarantor"],
    )
    assert recovered.status_code == 201, recovered.get_json()
    # Only the bank and the guarantor have borne anything yet (the claims are unpaid): 8000 : 32000.
    assert recovered.get_json()["default"]["recoveries"][0]["split"] == {
        "bank": "2000.00", "guarantor": "8000.00", "reguarantor": "0.00", "fund": "0.00",
    }  # fmt: skip
    figures = client.get(
        f"/api/v1/guarantees/figures?from={local_today().replace(day=1).isoformat()}&to={local_today().isoformat()}"
        "&by=scheme",
        headers=h["finance"],
    )
    assert figures.status_code == 200, figures.get_json()
    by_scheme = {g["key"]: g["figures"] for g in figures.get_json()["covers"]}
    assert by_scheme[str(scheme.id)]["compensation_amount"] == "32000.00"
    assert_error(client.get("/api/v1/guarantees/figures?from=2026-01-01&to=2026-01-31&region_code=360802",
                            headers=h["county"]), 403)  # fmt: skip


def test_a_bridge_needs_the_commitment_and_pays_its_fee(client, session, people) -> None:
    h, fund = people["h"], people["fund"]
    bank = people["users"]["officer"].institution_id
    from products.models import Institution

    code = session.get(Institution, bank).code
    applied = client.post(
        "/api/v1/guarantees/bridges",
        json={"scheme_id": fund.id, "amount": "900000.00", "institution_code": code, "contract_no": "C-1",
              "maturing_principal": "1000000.00", "matures_on": (local_today() + dt.timedelta(days=5)).isoformat()},
        headers=h["applicant"],
    )  # fmt: skip
    assert applied.status_code == 201, applied.get_json()
    bridge_id = applied.get_json()["id"]
    assert_error(
        client.post(f"/api/v1/guarantees/bridges/{bridge_id}/approve", headers=h["bridge_operator"]),
        409,
        "commitment_missing",
    )
    assert_error(client.post(f"/api/v1/guarantees/bridges/{bridge_id}/approve", headers=h["guarantor"]), 404)
    assert_error(
        client.post(
            f"/api/v1/guarantees/bridges/{bridge_id}/commitment",
            json={
                "amount": "1000000",
                "renewal_on": local_today().isoformat(),
                "signer": "张",
                "document_sha256": "xyz",
            },
            headers=h["officer"],
        ),
        422,
    )
    committed = client.post(
        f"/api/v1/guarantees/bridges/{bridge_id}/commitment",
        json={
            "amount": "1000000",
            "renewal_on": local_today().isoformat(),
            "signer": "张行长",
            "document_sha256": "a" * 64,
        },
        headers=h["officer"],
    )
    assert committed.status_code == 200, committed.get_json()
    assert (
        client.post(
            f"/api/v1/guarantees/bridges/{bridge_id}/approve", headers=h["bridge_operator"]
        ).status_code
        == 200
    )
    out = client.post(
        f"/api/v1/guarantees/bridges/{bridge_id}/disburse",
        json={"on": local_today().isoformat()},
        headers=h["bridge_operator"],
    ).get_json()
    assert out["clock"] == {"days_used": 1, "days_left": 10, "fee_so_far": "180.00"}
    for path, body in (("old-loan-repaid", {"on": local_today().isoformat()}),
                       ("renewal", {"on": local_today().isoformat(), "amount": "1000000"})):  # fmt: skip
        assert (
            client.post(
                f"/api/v1/guarantees/bridges/{bridge_id}/{path}", json=body, headers=h["officer"]
            ).status_code
            == 200
        )
    back = client.post(
        f"/api/v1/guarantees/bridges/{bridge_id}/return",
        json={"on": local_today().isoformat()},
        headers=h["bridge_operator"],
    ).get_json()
    assert (back["status"], back["days_used"], back["fee"]) == ("returned", 1, "180.00")


def test_the_scheme_list_names_each_schemes_own_products(client, session, people) -> None:
    from guarantees.schemes import link_products
    from tests.factories import ProductFactory

    first, second, third = ProductFactory(), ProductFactory(), ProductFactory()
    link_products(session, people["scheme"], [third.id, first.id])
    link_products(session, people["fund"], [second.id])
    session.flush()
    listed = client.get("/api/v1/guarantees/schemes", headers=people["h"]["finance"])
    assert listed.status_code == 200
    by_id = {item["id"]: item["product_ids"] for item in listed.get_json()["items"]}
    assert by_id[people["scheme"].id] == sorted([first.id, third.id])
    assert by_id[people["fund"].id] == [second.id]
    renamed = client.patch(
        f"/api/v1/guarantees/schemes/{people['fund'].id}",
        json={"name": "改名周转金"},
        headers=people["h"]["finance"],
    )
    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["product_ids"] == [second.id]
