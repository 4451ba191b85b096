"""Helpers for the HTML page tests (no tests here): logging in through the real form, page text."""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy.orm import Session

from core.models import User
from credit_profile.models import Borrower
from tests.factories import PASSWORD, BorrowerFactory, UserFactory

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def text(response: Any) -> str:
    """The response body with entities decoded, so Chinese and quotes compare as typed."""
    return html.unescape(response.get_data(as_text=True))


def csrf_token(response: Any) -> str:
    match = CSRF_INPUT.search(response.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client: Any, username: str, password: str = PASSWORD) -> Any:
    """Log in through the login form; fails the test unless it redirects."""
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, text(response)
    return response


def applicant(session: Session, **borrower: Any) -> tuple[User, Borrower]:
    row = BorrowerFactory(**borrower)
    user = UserFactory(borrower_id=row.id, phone="13912345678")
    return user, row
