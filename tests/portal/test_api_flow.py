"""The whole loop through the JSON API alone, on committed data, with 20 officers claiming at once."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest

from core.accounts import create_user
from core.types import SHANGHAI
from portal.app import create_app
from tests.conftest import make_settings
from tests.portal.api_helpers import ADMIN_PASSWORD, PASSWORD, product_body, register, register_body, token

pytestmark = pytest.mark.slow


@pytest.fixture
def live_app(committed_db):
    _engine, factory = committed_db
    app = create_app(make_settings(), session_factory=factory)
    with factory() as session:
        create_user(session, username="root", password=ADMIN_PASSWORD, role="admin")
        session.commit()
    return app


def test_whole_loop_through_the_api(live_app):
    client = live_app.test_client()
    admin = token(client, "root", ADMIN_PASSWORD)

    response = client.post(
        "/api/v1/admin/institutions",
        json={"code": "JARCB", "name": "江西吉安农商银行", "kind": "bank"},
        headers=admin,
    )
    assert response.status_code == 201, response.get_json()
    for i in range(20):
        response = client.post(
            "/api/v1/admin/users",
            json={
                "username": f"officer{i}",
                "password": PASSWORD,
                "role": "officer",
                "institution_code": "JARCB",
            },
            headers=admin,
        )
        assert response.status_code == 201, response.get_json()
    for body in (
        {"username": "pm1", "password": PASSWORD, "role": "product_manager", "institution_code": "JARCB"},
        {"username": "city", "password": PASSWORD, "role": "finance", "region_code": "360800"},
    ):
        assert client.post("/api/v1/admin/users", json=body, headers=admin).status_code == 201

    pm = token(client, "pm1")
    response = client.post("/api/v1/products", json=product_body(), headers=pm)
    assert response.status_code == 201, response.get_json()
    product = response.get_json()
    assert product["status"] == "draft"
    assert client.get("/api/v1/products").get_json()["total"] == 0
    assert client.post(f"/api/v1/products/{product['id']}/publish", headers=pm).status_code == 200
    listed = client.get("/api/v1/products?borrower_kind=enterprise&amount=500000").get_json()
    assert [p["id"] for p in listed["items"]] == [product["id"]]

    response = register(client, register_body("applicant", 7))
    assert response.status_code == 201, response.get_json()
    applicant = token(client, "applicant")
    response = client.post(
        "/api/v1/needs",
        json={
            "amount": 800000,
            "term_months": 12,
            "purpose": "采购原材料",
            "collateral": "credit",
            "declared_prior_loan": False,
        },
        headers=applicant,
    )
    assert response.status_code == 201, response.get_json()
    need_id = response.get_json()["id"]
    need = client.get(f"/api/v1/needs/{need_id}", headers=applicant).get_json()
    assert need["status"] == "matched"
    assert [(lead["product"]["id"], lead["status"]) for lead in need["leads"]] == [(product["id"], "pushed")]
    lead_id = need["leads"][0]["id"]

    officers = [token(client, f"officer{i}") for i in range(20)]
    barrier = threading.Barrier(len(officers))
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def claim(headers: dict[str, str]) -> None:
        c = live_app.test_client()
        barrier.wait()
        r = c.post(f"/api/v1/leads/{lead_id}/claim", headers=headers)
        with lock:
            results.append((r.status_code, r.get_json()))

    threads = [threading.Thread(target=claim, args=(h,)) for h in officers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(code for code, _ in results)
    print(f"concurrent claims: {codes.count(200)}×200, {codes.count(409)}×409")
    assert codes == [200] + [409] * 19
    winner_body = next(body for code, body in results if code == 200)
    assert {body["error"]["code"] for code, body in results if code == 409} == {"already_claimed"}
    winner = officers[int(winner_body["claimed_by"].removeprefix("officer"))]

    today = dt.datetime.now(SHANGHAI).date().isoformat()
    for step in ("contacted", "approved"):
        r = client.post(f"/api/v1/leads/{lead_id}/transition", json={"to": step}, headers=winner)
        assert r.status_code == 200, r.get_json()
    r = client.post(
        f"/api/v1/leads/{lead_id}/transition",
        json={
            "to": "disbursed",
            "loan": {
                "amount": "800000.00",
                "rate": "3.85",
                "term_months": 12,
                "collateral": "credit",
                "disbursed_on": today,
                "first_loan_borrower": True,
                "renewal_without_repayment": False,
            },
        },
        headers=winner,
    )
    assert r.status_code == 200, r.get_json()
    need = client.get(f"/api/v1/needs/{need_id}", headers=applicant).get_json()
    assert need["status"] == "disbursed"
    assert [e["status"] for e in need["events"] if e["entity"] == "lead"] == [
        "pushed",
        "claimed",
        "contacted",
        "approved",
        "disbursed",
    ]

    city = token(client, "city")
    stats = client.get(f"/api/v1/stats/summary?from={today}&to={today}", headers=city).get_json()
    assert stats["needs"] == 1
    assert Decimal(stats["needs_amount"]) == Decimal("800000")
    assert (stats["leads_pushed"], stats["leads_claimed"]) == (1, 1)
    assert stats["median_hours_to_claim"] is not None
    assert (stats["loans"], stats["loans_amount"], stats["borrowers"]) == (1, "800000.00", 1)
    assert (stats["first_loan_borrowers"], stats["first_loan_share"]) == (1, "1.0000")
    assert (stats["renewal_loans"], stats["renewal_requests"], stats["renewal_success_rate"]) == (0, 0, None)
    assert (stats["credit_loan_share"], stats["avg_rate"]) == ("1.0000", "3.85")
    assert (stats["inclusive_loans_pboc"], stats["inclusive_loans_nfra"]) == (1, 1)
    assert (stats["farmer_loans"], stats["farmer_amount"]) == (0, "0.00")
