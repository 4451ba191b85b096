"""Scorecard versions for administrators, through the JSON API and the admin page: quality side by
side with the active version, the reason a worse version needs, and the expert card's return."""

from __future__ import annotations

from sqlalchemy import select

from core.models import StatusEvent
from credit_profile.expert import EXPERT_VERSION
from credit_profile.scorecards import register_scorecard
from tests.credit_profile.helpers import trained_artefact
from tests.factories import PASSWORD, UserFactory
from tests.portal.api_helpers import assert_error, token
from tests.portal.test_web_support import login, text


def _register(session) -> None:
    register_scorecard(session, trained_artefact("good", 0.78), note="首个统计版本")
    register_scorecard(session, trained_artefact("worse", 0.70))
    session.flush()


def test_api_shows_quality_beside_the_active_version_and_gates_activation(client, session):
    _register(session)
    admin = token(client, UserFactory(admin=True).username, PASSWORD)
    listed = client.get("/api/v1/admin/scorecards", headers=admin).get_json()
    assert listed["active_version"] == EXPERT_VERSION
    assert (listed["active"]["kind"], listed["active"]["active"], listed["total"]) == ("expert", True, 2)
    assert client.post("/api/v1/admin/scorecards/good/activate", json={}, headers=admin).status_code == 200

    listed = client.get("/api/v1/admin/scorecards", headers=admin).get_json()
    assert listed["active_version"] == "good"
    assert (listed["active"]["validation_auc"], listed["active"]["method"]) == (0.78, "ebm")
    worse = next(i for i in listed["items"] if i["version"] == "worse")
    assert worse["validation_auc"] == 0.70 and worse["needs_reason"] is True
    assert worse["training_fingerprint"].startswith("sha256:") and worse["reference_auc"] == 0.77

    refused = assert_error(
        client.post("/api/v1/admin/scorecards/worse/activate", json={}, headers=admin), 422
    )
    assert "理由" in str(refused)
    response = client.post(
        "/api/v1/admin/scorecards/worse/activate", json={"reason": "试行县域新模型"}, headers=admin
    )
    assert response.status_code == 200 and response.get_json()["version"] == "worse"
    event = session.scalars(
        select(StatusEvent)
        .where(StatusEvent.entity_type == "scorecard_version")
        .order_by(StatusEvent.id.desc())
    ).first()
    assert event.note == "试行县域新模型" and event.data["below_quality_gate"] is True

    response = client.post(f"/api/v1/admin/scorecards/{EXPERT_VERSION}/activate", json={}, headers=admin)
    assert response.status_code == 200
    assert (
        client.get("/api/v1/admin/scorecards", headers=admin).get_json()["active_version"] == EXPERT_VERSION
    )


def test_admin_page_compares_versions_and_needs_a_reason_for_a_worse_one(client, session):
    _register(session)
    login(client, UserFactory(admin=True).username)
    page = text(client.get("/admin/scorecards"))
    assert "评分卡版本" in page and "0.7800" in page and "0.7000" in page and "内置专家评分卡" in page
    assert client.post("/admin/scorecards", data={"version": "good", "reason": ""}).status_code == 302

    page = text(client.get("/admin/scorecards"))
    assert "-0.0800" in page  # the worse version read against the active one
    refused = client.post("/admin/scorecards", data={"version": "worse", "reason": " "})
    assert refused.status_code == 422 and "启用须填写理由" in text(refused)
    done = client.post("/admin/scorecards", data={"version": "worse", "reason": "试行"})
    assert done.status_code == 302
    assert client.post("/admin/scorecards", data={"version": EXPERT_VERSION, "reason": ""}).status_code == 302
    assert client.post("/admin/scorecards", data={"version": "nope", "reason": ""}).status_code == 422
