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


def test_the_index_refuses_a_second_spelling_that_raced_past_the_check(session, monkeypatch) -> None:
    import core.accounts

    create_user(session, username="alice", password=PASSWORD, role="admin")
    # Another sign-up's check ran before this row existed: only the unique key can refuse it now.
    monkeypatch.setattr(core.accounts, "casefold_username", lambda _name: "#no-such-key")
    with pytest.raises(InvalidInputError) as caught:
        create_user(session, username="Alice", password=PASSWORD, role="admin")
    assert caught.value.fields == {"username": ["taken"]}


@pytest.mark.parametrize("typed", ["alice", "Alice", "ａｌｉｃｅ", " alice ", "ali\u200bce", "\ufeffalice"])
def test_sign_in_normalises_the_typed_username(session, typed) -> None:
    from core.accounts import authenticate

    user = create_user(session, username="alice", password=PASSWORD, role="admin")
    assert authenticate(session, typed, PASSWORD).id == user.id


@pytest.mark.parametrize("typed", ["\ud800alice", "a", "al ice", "\u0430lice"])
def test_sign_in_with_an_impossible_username_is_a_plain_failure(session, typed) -> None:
    from core.accounts import authenticate
    from core.errors import AuthenticationError

    create_user(session, username="alice", password=PASSWORD, role="admin")
    with pytest.raises(AuthenticationError):
        authenticate(session, typed, PASSWORD)


def test_two_concurrent_sign_ups_of_one_name_one_wins(committed_db) -> None:
    import threading

    from portal.app import create_app
    from tests.conftest import make_settings
    from tests.portal.api_helpers import register_body

    _engine, factory = committed_db
    app = create_app(make_settings(), session_factory=factory)
    barrier = threading.Barrier(2)
    answers: list[tuple[int, dict]] = []

    def sign_up(name: str, n: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/v1/register", json=register_body(name, n))
        answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=sign_up, args=(name, n)) for name, n in (("Racer", 81), ("racer", 82))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _body in answers)
    assert statuses == [201, 422], answers
    refused = next(body for status, body in answers if status == 422)
    assert refused["error"]["fields"]["username"] == ["用户名已被占用"], refused
