"""The app boots, migrates and serves its OpenAPI document on whichever database the run uses."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.smoke


def test_openapi_document_lists_the_contract_paths(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.get_json()["paths"]
    for path in (
        "/api/v1/auth/token",
        "/api/v1/needs",
        "/api/v1/leads/{lead_id}/claim",
        "/api/v1/stats/summary",
    ):
        assert path in paths


def test_home_page_is_chinese(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "吉惠通" in response.get_data(as_text=True)
