"""GET /api/v1/reference/calendar (public) and PUT /api/v1/admin/calendar/{year} (admin)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import PASSWORD, UserFactory
from tests.portal.api_helpers import token


@pytest.fixture
def admin(session, client):
    UserFactory(username="admin1", admin=True)
    return token(client, "admin1", PASSWORD)


def _days(body):
    return {d["date"]: d for d in body["days"]}


def test_2027_is_provisional_with_the_statutory_holidays_off(client) -> None:
    response = client.get("/api/v1/reference/calendar?year=2027")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["year"] == 2027 and body["status"] == "provisional"
    days = _days(body)
    assert len(days) == 365
    assert days["2027-10-01"] == {"date": "2027-10-01", "working": False, "name": "国庆节"}
    assert days["2027-02-08"]["working"] is False and days["2027-02-08"]["name"] == "春节"
    assert days["2027-03-08"] == {"date": "2027-03-08", "working": True, "name": None}


def test_2026_is_official(client) -> None:
    body = client.get("/api/v1/reference/calendar?year=2026").get_json()
    assert body["status"] == "official"
    assert _days(body)["2026-02-28"]["working"] is True  # a make-up Saturday


def test_admin_loads_the_arrangement_and_it_becomes_official(client, admin) -> None:
    holidays = [f"2027-02-{d:02d}" for d in range(5, 14)]
    response = client.put(
        "/api/v1/admin/calendar/2027",
        json={"holidays": holidays, "workdays": ["2027-01-31", "2027-02-20"]},
        headers=admin,
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "official"
    body = client.get("/api/v1/reference/calendar?year=2027").get_json()
    assert body["status"] == "official"
    days = _days(body)
    assert days["2027-01-31"] == {"date": "2027-01-31", "working": True, "name": "调休上班"}
    assert days["2027-02-12"] == {"date": "2027-02-12", "working": False, "name": "春节"}
    assert days["2027-10-01"]["working"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"holidays": ["2026-10-01"], "workdays": []}, "holidays"),
        ({"holidays": ["2027-10-01"], "workdays": ["2027-10-01"]}, "workdays"),
        ({"holidays": ["not a date"], "workdays": []}, "holidays"),
        ({"workdays": []}, "holidays"),
    ],
)
def test_a_bad_arrangement_is_422(client, admin, body, field) -> None:
    response = client.put("/api/v1/admin/calendar/2027", json=body, headers=admin)
    assert response.status_code == 422, response.get_json()
    assert any(key.split(".")[0] == field for key in response.get_json()["error"]["fields"])
    assert client.get("/api/v1/reference/calendar?year=2027").get_json()["status"] == "provisional"


def test_only_admins_load_the_arrangement(client, session) -> None:
    UserFactory(username="finance1", finance=True)
    body = {"holidays": ["2027-10-01"], "workdays": []}
    assert client.put("/api/v1/admin/calendar/2027", json=body).status_code == 401
    response = client.put(
        "/api/v1/admin/calendar/2027", json=body, headers=token(client, "finance1", PASSWORD)
    )
    assert response.status_code == 403


@pytest.mark.parametrize("query", ["", "?year=abc", "?year=1900", "?year=99999", "?year=2101"])
def test_a_bad_year_is_422(client, query) -> None:
    response = client.get(f"/api/v1/reference/calendar{query}")
    assert response.status_code in (400, 422)
    assert "error" in response.get_json()


def test_dates_are_iso(client) -> None:
    body = client.get("/api/v1/reference/calendar?year=2027").get_json()
    assert dt.date.fromisoformat(body["days"][0]["date"]) == dt.date(2027, 1, 1)
