"""Who is asking: web sessions (Flask-Login over server-side session rows) and API bearer tokens."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from apiflask import HTTPTokenAuth
from flask import abort, current_app, redirect, request, session, url_for
from flask_login import UserMixin, current_user, login_user, logout_user

from core.accounts import open_session, resolve_session, resolve_session_unread, revoke_session
from core.errors import PermissionDeniedError
from core.i18n import N_
from core.models import Role, User
from portal.db import db
from portal.extensions import login_manager

F = TypeVar("F", bound=Callable[..., Any])
# What a user whose password an administrator reset may reach before choosing a new one.
PASSWORD_CHANGE_ENDPOINTS = frozenset({"account.password", "account.logout"})
API_PASSWORD_CHANGE_ENDPOINTS = frozenset({"api.change_my_password", "api.logout", "api.me"})
WEB_SESSION_TTL = dt.timedelta(hours=12)


class Principal(UserMixin):  # type: ignore[misc]
    """The logged-in user as Flask-Login sees it; its id is the server-side session token."""

    def __init__(self, user: User, token: str, unread: int | None = None) -> None:
        self.user = user
        self.token = token
        # The user's unread notifications when the session was loaded (None: not counted then).
        self.unread = unread

    def get_id(self) -> str:
        return self.token

    @property
    def role(self) -> str:
        return self.user.role


@login_manager.user_loader
def _load(token: str) -> Principal | None:
    # One statement: the user, and the unread count the header of every page shows.
    found = resolve_session_unread(db(), token, kind="web")
    return Principal(found[0], token, unread=found[1]) if found else None


def start_web_session(user: User) -> None:
    """Log the user in with a fresh server-side session row (a new id also defeats session fixation)."""
    session.clear()
    token, _row = open_session(db(), user, kind="web", ttl=WEB_SESSION_TTL)
    login_user(Principal(user, token))


def end_web_session() -> None:
    """Revoke the session row, so a copied cookie is useless after logout."""
    if current_user.is_authenticated:
        revoke_session(db(), current_user.token)
    logout_user()
    session.clear()


def web_user() -> User:
    """The logged-in user; only call behind `role_required`."""
    principal: Principal = current_user
    return principal.user


def role_required(*roles: str) -> Callable[[F], F]:
    """A page for these roles only: anonymous users go to the login page, other roles get 403."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if roles and current_user.role not in roles:
                abort(403)
            if current_user.user.must_change_password and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
                # A temporary password set by an administrator is changed before anything else.
                return redirect(url_for("account.password"))
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


token_auth = HTTPTokenAuth(scheme="Bearer", description=N_("POST /api/v1/auth/token 获取的访问令牌"))


class PasswordChangeRequiredError(PermissionDeniedError):
    code = "password_change_required"


@token_auth.verify_token
def _verify(token: str) -> User | None:
    user = resolve_session(db(), token, kind="api")
    if (
        user is not None
        and user.must_change_password
        and request.endpoint not in API_PASSWORD_CHANGE_ENDPOINTS
    ):
        raise PasswordChangeRequiredError()
    return user


@token_auth.get_user_roles
def _roles(user: User) -> list[str]:
    return [user.role]


def api_user() -> User:
    user: User = token_auth.current_user
    return user


def api_token() -> str:
    """The bearer token of the current API request (verified by `token_auth`)."""
    auth = request.authorization
    return (auth.token or "") if auth is not None else ""


ROLES = tuple(r.value for r in Role)
