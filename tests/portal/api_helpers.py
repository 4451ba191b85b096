"""Small helpers for driving the JSON API in tests."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from core.db import Base
from core.identifiers import id_check_char, uscc_check_char

ADMIN_PASSWORD = "Admin-pass-2026"
PASSWORD = "Secret-pass-2026"


def uscc(n: int, region: str = "360802") -> str:
    first17 = f"91{region}MA{n:07d}"[:17]
    return first17 + uscc_check_char(first17)


def id_number(n: int, region: str = "360821") -> str:
    first17 = f"{region}19800101{n % 1000:03d}"
    return first17 + id_check_char(first17)


def sms_code(client: Any, username: str) -> str:
    """The last code texted to the user, read from the SMS outbox (as their phone would show it)."""
    from core.models import OutgoingMessage, User

    with client.application.extensions["jihuitong.session_factory"]() as s:
        user_id = s.scalar(select(User.id).where(User.username == username))
        body = s.scalar(
            select(OutgoingMessage.body)
            .where(OutgoingMessage.user_id == user_id)
            .order_by(OutgoingMessage.id.desc())
            .limit(1)
        )
    found = re.search(r"\b(\d{6})\b", body or "")
    assert found, body
    return found.group(1)


def register(client: Any, body: dict[str, Any]) -> Any:
    """Register through the API and verify the phone with the texted code; the registration's response."""
    response = client.post("/api/v1/register", json=body)
    if response.status_code == 201:
        verified = client.post(
            "/api/v1/register/verify",
            json={"username": body["username"], "code": sms_code(client, body["username"])},
        )
        assert verified.status_code == 200, verified.get_json()
    return response


def token(client: Any, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def need_as_read(client: Any, response: Any, headers: dict[str, str]) -> dict[str, Any]:
    """A need just submitted, as its applicant reads it next. The POST answers with what its own
    transaction wrote; matching is a job, run after that commit, so its leads show on the next read."""
    assert response.status_code == 201, response.get_json()
    need: dict[str, Any] = client.get(
        f"/api/v1/needs/{response.get_json()['id']}", headers=headers
    ).get_json()
    return need


def product_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "吉安首贷通",
        "min_amount": "10000",
        "max_amount": 2000000,
        "min_term_months": 3,
        "max_term_months": 36,
        "rate_min": "3.45",
        "rate_max": "4.80",
        "collateral": ["credit", "guarantee"],
        "borrower_kinds": ["enterprise", "individual_business"],
        "region_codes": [],
        "industries_excluded": ["K"],
        "tags": ["first_loan", "credit"],
        "sla_hours": 8,
    }
    body.update(overrides)
    return body


def register_body(username: str, n: int, **borrower: Any) -> dict[str, Any]:
    b = {
        "kind": "enterprise",
        "name": f"吉安测试{n}有限公司",
        "uscc": uscc(n),
        "region_code": "360802",
        "industry_code": "C39",
        "employees": 20,
    }
    b.update(borrower)
    return {"username": username, "password": PASSWORD, "phone": "13907960000", "borrower": b}


def snapshot(session, *, ignore=("provider_nonces",)) -> dict[str, int]:
    return {
        t.name: session.scalar(select(func.count()).select_from(t))
        for t in Base.metadata.sorted_tables
        if t.name not in ignore
    }


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]
