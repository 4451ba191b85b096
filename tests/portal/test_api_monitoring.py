"""Post-loan monitoring through the JSON API: an officer's warnings and steps, the applicant's monitoring
consent and pause/resume, the finance figures in scope, the admin's rules."""

from __future__ import annotations

import pytest

from tests.factories import (
    PASSWORD,
    ConsentFactory,
    CoverFactory,
    EarlyWarningFactory,
    SchemeFactory,
    UserFactory,
)
from tests.factories.monitoring import claimed_loan
from tests.portal.api_helpers import assert_error, token

pytestmark = pytest.mark.smoke


@pytest.fixture
def world(session):
    loan, officer = claimed_loan()
    warning = EarlyWarningFactory(loan=loan, red=True, officer_id=officer.id)
    applicant = UserFactory(borrower_id=loan.borrower_id)
    stranger_loan, stranger_officer = claimed_loan()
    session.flush()
    return {
        "loan": loan,
        "warning": warning,
        "officer": officer,
        "applicant": applicant,
        "stranger_officer": stranger_officer,
        "stranger_loan": stranger_loan,
    }


def test_an_officer_reads_acts_on_and_closes_a_warning(client, world):
    headers = token(client, world["officer"].username, PASSWORD)
    wid = world["warning"].id

    listed = client.get("/api/v1/warnings?level=red", headers=headers).get_json()
    assert [w["id"] for w in listed["items"]] == [wid] and listed["items"][0]["mine"] is True
    assert client.get(f"/api/v1/warnings/{wid}", headers=headers).get_json()["evidence"][0]["text"]
    assert_error(
        client.post(f"/api/v1/warnings/{wid}/close", json={"outcome": "resolved"}, headers=headers), 409
    )
    assert (
        client.post(f"/api/v1/warnings/{wid}/acknowledge", headers=headers).get_json()["status"]
        == "acknowledged"
    )
    assert_error(client.post(f"/api/v1/warnings/{wid}/action", json={"action": "nap"}, headers=headers), 422)
    acted = client.post(
        f"/api/v1/warnings/{wid}/action", json={"action": "site_visit", "note": "走访"}, headers=headers
    )
    assert acted.get_json()["status"] == "actioned"
    closed = client.post(f"/api/v1/warnings/{wid}/close", json={"outcome": "false_positive"}, headers=headers)
    assert (closed.get_json()["status"], closed.get_json()["outcome"]) == ("closed", "false_positive")


def test_another_banks_officer_sees_nothing(client, world):
    headers = token(client, world["stranger_officer"].username, PASSWORD)
    wid = world["warning"].id

    assert client.get("/api/v1/warnings", headers=headers).get_json()["items"] == []
    assert_error(client.get(f"/api/v1/warnings/{wid}", headers=headers), 404, "warning_not_found")
    assert_error(client.post(f"/api/v1/warnings/{wid}/acknowledge", headers=headers), 404)


def test_the_applicant_consents_to_monitoring_for_their_own_loan_only(client, world, session):
    headers = token(client, world["applicant"].username, PASSWORD)
    ConsentFactory(borrower_id=world["loan"].borrower_id)
    session.flush()

    loans = client.get("/api/v1/monitoring/loans", headers=headers).get_json()["items"]
    assert [(item["loan_id"], item["covered"]) for item in loans] == [(world["loan"].id, False)]
    granted = client.post("/api/v1/monitoring/consents", json={"loan_id": world["loan"].id}, headers=headers)
    assert granted.status_code == 201
    body = granted.get_json()
    assert (body["purpose_code"], body["recipient_ids"], body["data_life_months"]) == (
        "monitoring",
        [world["loan"].institution_id],
        12,
    )
    assert client.get("/api/v1/monitoring/loans", headers=headers).get_json()["items"][0]["covered"] is True
    assert_error(
        client.post(
            "/api/v1/monitoring/consents", json={"loan_id": world["stranger_loan"].id}, headers=headers
        ),
        404,
    )

    paused = client.post(f"/api/v1/consents/{body['id']}/pause", headers=headers)
    assert paused.get_json()["status"] == "paused"
    assert client.get("/api/v1/monitoring/loans", headers=headers).get_json()["items"][0]["covered"] is False
    assert_error(client.post(f"/api/v1/consents/{body['id']}/pause", headers=headers), 409)
    # A paused consent is resumed, not granted a second time beside it.
    again = client.post("/api/v1/monitoring/consents", json={"loan_id": world["loan"].id}, headers=headers)
    assert_error(again, 409)
    assert again.get_json()["error"]["code"] == "monitoring_consent_paused"
    assert client.get("/api/v1/monitoring/loans", headers=headers).get_json()["items"][0]["covered"] is False
    assert (
        client.post(f"/api/v1/consents/{body['id']}/resume", headers=headers).get_json()["status"] == "active"
    )


def test_finance_figures_stay_in_the_office_county(client, world, session):
    county = UserFactory(finance=True, region_code="360821")
    city = UserFactory(finance=True)
    session.flush()

    city_figures = client.get(
        "/api/v1/stats/warnings", headers=token(client, city.username, PASSWORD)
    ).get_json()
    assert city_figures["active_red"] == 1 and city_figures["named_red"] == []
    assert city_figures["schemes_connected"] is True
    # Once a public scheme stands behind the loan, the office sees the red warning by name.
    scheme = SchemeFactory(name="科贷通风险补偿资金")
    CoverFactory(scheme=scheme, loan=world["loan"])
    session.flush()
    named = client.get("/api/v1/stats/warnings", headers=token(client, city.username, PASSWORD)).get_json()
    assert [(w["warning_id"], w["scheme"]) for w in named["named_red"]] == [
        (world["warning"].id, "科贷通风险补偿资金")
    ]
    county_headers = token(client, county.username, PASSWORD)
    assert client.get("/api/v1/stats/warnings", headers=county_headers).get_json()["active_red"] == 0
    assert_error(client.get("/api/v1/stats/warnings?region_code=360802", headers=county_headers), 403)


def test_the_admin_tunes_a_rule_and_gets_the_figures_back(client, session):
    admin = UserFactory(admin=True)
    session.flush()
    headers = token(client, admin.username, PASSWORD)

    changed = client.patch("/api/v1/monitoring/rules/elec_drop", json={"yellow": -0.2}, headers=headers)
    assert changed.status_code == 200
    assert next(r for r in changed.get_json()["items"] if r["code"] == "elec_drop")["yellow"] == -0.2
    assert_error(
        client.patch("/api/v1/monitoring/rules/elec_drop", json={"yellow": -0.9}, headers=headers), 422
    )
    assert_error(client.patch("/api/v1/monitoring/rules/nope", json={}, headers=headers), 404)
