"""Usernames: NFKC, no whitespace or invisible characters, nothing that looks like another account."""

from __future__ import annotations

import pytest

from core.accounts import create_user
from core.errors import InvalidInputError
from core.usernames import normalize_username

PASSWORD = "Ji'an-2026-ok"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("zhang_san", "zhang_san"),
        ("ｚｈａｎｇ", "zhang"),
        ("吉安农商行01", "吉安农商行01"),
        ("li.si-2", "li.si-2"),
    ],
)
def test_usernames_are_nfkc(typed, stored) -> None:
    assert normalize_username(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "admin ",  # trailing space
        " admin",
        "ad min",
        "adm\u200bin",  # zero-width space
        "adm\u200din",  # zero-width joiner
        "\ufeffadmin",  # byte-order mark
        "\u0430dmin",  # Cyrillic а
        "αdmin",  # Greek alpha
        "ad\u00admin",  # soft hyphen
        "ad",  # too short
        "a" * 65,
    ],
)
def test_look_alikes_and_invisible_characters_are_refused(typed) -> None:
    with pytest.raises(InvalidInputError) as caught:
        normalize_username(typed)
    assert list(caught.value.fields) == ["username"]


def test_a_username_differing_only_in_case_or_width_is_taken(session) -> None:
    create_user(session, username="admin2", password=PASSWORD, role="admin")
    for other in ("Admin2", "ＡＤＭＩＮ２"):
        with pytest.raises(InvalidInputError) as caught:
            create_user(session, username=other, password=PASSWORD, role="admin")
        assert caught.value.fields == {"username": ["taken"]}


def test_the_api_refuses_a_look_alike_username(client) -> None:
    from tests.portal.api_helpers import register_body

    for name in ("admin ", "\u0430dmin", "adm\u200bin"):
        response = client.post("/api/v1/register", json=register_body(name, 77))
        assert response.status_code == 422, response.get_json()
        assert "username" in response.get_json()["error"]["fields"]
    response = client.post("/api/v1/register", json={**register_body("phone_x", 78), "phone": "00000000000"})
    assert response.status_code == 422
    assert "phone" in response.get_json()["error"]["fields"]
