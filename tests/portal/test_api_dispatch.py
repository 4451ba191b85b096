"""Through the API: a need nobody claims moves round by round, then opens to all; the county office sees it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import update

from core.types import utcnow
from matching import jobs
from matching.models import Lead, LeadStatus
from portal.app import create_app
from tests.conftest import make_settings
from tests.factories import PASSWORD, InstitutionFactory, ProductFactory, UserFactory
from tests.portal.api_helpers import register, register_body, token

NEED = {
    "amount": 600000,
    "term_months": 12,
    "purpose": "购置设备",
    "collateral": "credit",
    "declared_prior_loan": False,
}


@pytest.fixture
def dispatch_app(session_factory, session):
    return create_app(make_settings(dispatch_top_n=2, dispatch_max_rounds=2), session_factory=session_factory)


def _expire_round(session):
    """Every pushed lead's SLA has passed; then the scheduled sweep runs."""
    session.execute(
        update(Lead)
        .where(Lead.status == LeadStatus.PUSHED)
        .values(sla_due_at=utcnow() - dt.timedelta(minutes=1))
    )
    session.commit()
    jobs.expire_overdue_leads()


def test_unclaimed_need_moves_on_each_round_then_opens_to_all_and_alerts_its_county(dispatch_app, session):
    client = dispatch_app.test_client()
    banks = []
    for i in range(5):
        institution = InstitutionFactory(name=f"测试农商银行{i}")
        ProductFactory(institution=institution, published=True, rate_min=Decimal(f"3.{i}0"))
        banks.append(institution)
    for username, region in (("fin_jizhou", "360802"), ("fin_taihe", "360826"), ("fin_city", "360800")):
        UserFactory(username=username, role="finance", region_code=region)
    session.commit()
    assert register(client, register_body("shop", 3)).status_code == 201
    applicant = token(client, "shop")

    need_id = client.post("/api/v1/needs", json=NEED, headers=applicant).get_json()["id"]
    need = client.get(f"/api/v1/needs/{need_id}", headers=applicant).get_json()
    assert (need["status"], need["dispatch_round"], need["open_to_all"]) == ("matched", 1, False)
    assert [lead["institution"]["name"] for lead in need["leads"]] == ["测试农商银行0", "测试农商银行1"]

    _expire_round(session)
    need = client.get(f"/api/v1/needs/{need_id}", headers=applicant).get_json()
    assert need["status"] == "matched" and need["dispatch_round"] == 2
    pushed = [lead["institution"]["name"] for lead in need["leads"] if lead["status"] == "pushed"]
    assert pushed == ["测试农商银行2", "测试农商银行3"]
    notes = [event["note"] for event in need["events"]]
    assert "测试农商银行0未在时限内认领，线索已失效" in notes
    assert "原推送机构未在时限内认领，已进入第2轮，转推给2家机构" in notes
    county = token(client, "fin_jizhou", PASSWORD)
    assert client.get("/api/v1/alerts", headers=county).get_json()["total"] == 0

    _expire_round(session)
    need = client.get(f"/api/v1/needs/{need_id}", headers=applicant).get_json()
    assert need["open_to_all"] is True and need["dispatch_round"] == 3
    assert [lead["institution"]["name"] for lead in need["leads"] if lead["status"] == "pushed"] == [
        "测试农商银行4"
    ]
    assert need["events"][-1]["note"] == (
        "已连续2轮无机构认领，需求已开放给所有符合条件的机构（新推送1家），并已提请县区金融办关注"
    )

    alerts = client.get("/api/v1/alerts", headers=county).get_json()
    assert alerts["total"] == 1
    alert = alerts["items"][0]
    assert (alert["kind"], alert["region_code"], alert["need"]["id"]) == ("open_to_all", "360802", need_id)
    assert alert["need"]["open_to_all"] is True and "吉州区" in alert["text"] and "连续2轮" in alert["text"]
    other_county = token(client, "fin_taihe", PASSWORD)
    assert client.get("/api/v1/alerts", headers=other_county).get_json()["total"] == 0
    assert client.get("/api/v1/alerts?region_code=360802", headers=other_county).status_code == 403
    city = token(client, "fin_city", PASSWORD)
    assert client.get("/api/v1/alerts", headers=city).get_json()["total"] == 1
    assert client.get("/api/v1/alerts?region_code=360826", headers=city).get_json()["total"] == 0
    assert client.get("/api/v1/alerts", headers=applicant).status_code == 403

    county_notes = client.get("/api/v1/notifications", headers=county).get_json()
    assert [n["kind"] for n in county_notes["items"]] == ["need_open_to_all"]
