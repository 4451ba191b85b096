"""Notifications through the API, fed by a product published after a need found nothing."""

from __future__ import annotations

from tests.factories import PASSWORD, InstitutionFactory, UserFactory
from tests.portal.api_helpers import product_body, register, register_body, token

NEED = {
    "amount": 300000,
    "term_months": 12,
    "purpose": "补充流动资金",
    "collateral": "credit",
    "declared_prior_loan": True,
}


def test_publishing_a_product_matches_a_waiting_need_and_everyone_concerned_is_told(client, session):
    institution = InstitutionFactory(name="吉安测试银行")
    UserFactory(username="pm", role="product_manager", institution_id=institution.id)
    UserFactory(username="officer", role="officer", institution_id=institution.id)
    session.commit()
    assert register(client, register_body("firm", 11)).status_code == 201
    applicant = token(client, "firm")
    need_id = client.post("/api/v1/needs", json=NEED, headers=applicant).get_json()["id"]
    assert client.get(f"/api/v1/needs/{need_id}", headers=applicant).get_json()["status"] == "unmatched"

    pm = token(client, "pm", PASSWORD)
    response = client.post("/api/v1/products", json=product_body(follow_up_hours=300), headers=pm)
    assert response.status_code == 422 and "follow_up_hours" in response.get_json()["error"]["fields"]
    product = client.post("/api/v1/products", json=product_body(follow_up_hours=12), headers=pm).get_json()
    assert product["follow_up_hours"] == 12
    assert client.post(f"/api/v1/products/{product['id']}/publish", headers=pm).status_code == 200

    need = client.get(f"/api/v1/needs/{need_id}", headers=applicant).get_json()
    assert need["status"] == "matched"
    assert [lead["product"]["id"] for lead in need["leads"]] == [product["id"]]
    assert need["events"][-1]["note"] == "有新产品上架或产品调整，已匹配并推送给1家机构"

    officer_token = token(client, "officer", PASSWORD)
    inbox = client.get("/api/v1/notifications", headers=officer_token).get_json()
    assert (inbox["total"], inbox["unread"]) == (1, 1)
    note = inbox["items"][0]
    assert note["kind"] == "lead_pushed" and note["need_id"] == need_id and note["read"] is False
    assert note["text"].startswith("新线索待认领：30万元融资需求")

    mine = client.get("/api/v1/notifications?unread=true", headers=applicant).get_json()
    texts = [n["text"] for n in mine["items"]]
    assert "有新产品上架或产品调整，已匹配并推送给1家机构" in texts
    assert "已推送至吉安测试银行（吉安首贷通）" in texts
    assert client.post(f"/api/v1/notifications/{note['id']}/read", headers=applicant).status_code == 404
    read = client.post(f"/api/v1/notifications/{note['id']}/read", headers=officer_token).get_json()
    assert read["read"] is True and read["read_at"]
    inbox = client.get("/api/v1/notifications?unread=true", headers=officer_token).get_json()
    assert (inbox["total"], inbox["unread"]) == (0, 0)

    assert client.get("/api/v1/notifications").status_code == 401
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/notifications", "/api/v1/notifications/{notification_id}/read", "/api/v1/alerts"} <= set(
        paths
    )
