"""Accounts: users, passwords, signing in, and the authentication sessions of pages and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import AuthenticationError, InvalidInputError
from core.models import AuthSession, Role, User
from core.phones import normalize_mobile
from core.types import utcnow
from core.usernames import casefold_username, normalize_username

_hasher = PasswordHasher()
# Verified against when the username does not exist, so a wrong name costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str) -> list[str]:
    """Error codes for a password that is too weak: `too_short`, `too_simple`."""
    errors = []
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append("too_short")
    if len(set(password)) < 4 or (password.isdigit() and len(password) < 12):
        errors.append("too_simple")
    return errors


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role | str,
    phone: str | None = None,
    institution_id: int | None = None,
    region_code: str | None = None,
    borrower_id: int | None = None,
) -> User:
    """Create an account. Raises InvalidInputError(username=['taken']) or (password=[...]); the username
    and phone are normalised or refused by core.usernames and core.phones."""
    weak = check_password_strength(password)
    if weak:
        raise InvalidInputError({"password": weak})
    username = normalize_username(username)
    phone = normalize_mobile(phone) if phone else None
    taken = select(User.id).where(func.lower(User.username) == casefold_username(username))
    if session.scalar(taken) is not None:
        raise InvalidInputError({"username": ["taken"]})
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=str(Role(role)),
        phone=phone,
        institution_id=institution_id,
        region_code=region_code,
        borrower_id=borrower_id,
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise InvalidInputError({"username": ["taken"]}) from exc
    return user


def list_users(session: Session) -> list[User]:
    """Every account, oldest first (the admin's user list)."""
    return list(session.scalars(select(User).order_by(User.id)))


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with these credentials. Raises AuthenticationError otherwise."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError) as exc:
        raise AuthenticationError() from exc
    if user is None or not user.active:
        raise AuthenticationError()
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: User, *, kind: str, ttl: dt.timedelta) -> tuple[str, AuthSession]:
    """Start a web session or issue an API token; returns the secret (shown once) and its row."""
    token = secrets.token_urlsafe(32)
    row = AuthSession(user_id=user.id, kind=kind, token_hash=_digest(token), expires_at=utcnow() + ttl)
    session.add(row)
    session.flush()
    return token, row


# The conditions of a live token, built once with parameters (building a statement costs more than
# running it, and these run on every signed-in request): the session row is of the kind asked for,
# neither revoked nor expired, and its user is active.
_LIVE = (
    AuthSession.user_id == User.id,
    AuthSession.token_hash == bindparam("token_hash"),
    AuthSession.kind == bindparam("kind"),
    AuthSession.revoked_at.is_(None),
    AuthSession.expires_at > bindparam("now", type_=AuthSession.expires_at.type),
    User.active.is_(True),
)
_LIVE_USER = select(User).where(*_LIVE)


def _live(token: str, kind: str) -> dict[str, Any]:
    return {"token_hash": _digest(token), "kind": kind, "now": utcnow()}


def resolve_session(session: Session, token: str, *, kind: str) -> User | None:
    """The user behind a live token of this kind, or None (unknown, expired, revoked, inactive)."""
    return session.scalar(_LIVE_USER, _live(token, kind))


def revoke_session(session: Session, token: str) -> None:
    """End a session or token server-side; a no-op for an unknown token."""
    session.execute(
        update(AuthSession)
        .where(AuthSession.token_hash == _digest(token), AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
