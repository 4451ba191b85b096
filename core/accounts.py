"""Accounts: users, passwords, signing in (with per-account locks), and the authentication sessions of
pages and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Integer, bindparam, column, func, select, table, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import AuthenticationError, InvalidInputError, PermissionDeniedError, TooManyAttemptsError
from core.models import AuthSession, Notification, Role, User
from core.passwords import check_password_strength
from core.phones import normalize_mobile
from core.types import utcnow
from core.usernames import casefold_username, normalize_username, typed_username

_hasher = PasswordHasher()
# Verified against when the username does not exist, so a wrong name costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

# After this many consecutive failed sign-ins an account is locked for LOCK_DURATION, whatever the
# address and even with the right password (docs/api.md "Accounts and sign-in").
MAX_FAILED_LOGINS = 10
LOCK_DURATION = dt.timedelta(minutes=15)


class AccountLockedError(TooManyAttemptsError):
    """Too many consecutive failed sign-ins; `until` is when the lock ends (HTTP 429)."""

    code = "account_locked"
    until: dt.datetime


class PhoneUnverifiedError(PermissionDeniedError):
    """An applicant whose phone has not been verified by its SMS code yet."""

    code = "phone_unverified"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


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
    phone_verified: bool = True,
) -> User:
    """Create an account. Raises InvalidInputError(username=['taken']) or (password=[...]); the username
    and phone are normalised or refused by core.usernames and core.phones."""
    weak = check_password_strength(password, username=username)
    if weak:
        raise InvalidInputError({"password": weak})
    username = normalize_username(username)
    phone = normalize_mobile(phone) if phone else None
    taken = select(User.id).where(User.username_key == casefold_username(username))
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
        phone_verified=phone_verified,
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise InvalidInputError({"username": ["taken"]}) from exc
    return user


def find_user(session: Session, typed: str) -> User | None:
    """The account a typed username names (core.usernames.typed_username, compared by its key), or None."""
    name = typed_username(typed)
    if name is None:
        return None
    return session.scalar(select(User).where(User.username_key == casefold_username(name)))


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with these credentials.

    Raises AccountLockedError while the account is locked (checked before the password, so the right
    one is refused too), AuthenticationError for a wrong name or password, an inactive account or one of
    a deactivated institution, and PhoneUnverifiedError for an applicant whose phone is not verified.
    A wrong password counts towards the lock: the caller must keep that write although it answers with
    an error (portal.db.keep_on_error).
    """
    user = find_user(session, username)
    now = utcnow()
    if user is not None and user.locked_until is not None and _aware(user.locked_until) > now:
        raise AccountLockedError(until=_aware(user.locked_until))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError) as exc:
        if user is not None:
            _count_failure(session, user, now)
        raise AuthenticationError() from exc
    if user is None or not user.active or not _institution_active(session, user):
        raise AuthenticationError()
    if user.failed_logins or user.locked_until is not None:
        user.failed_logins = 0
        user.locked_until = None
        session.flush()
    if user.role == Role.APPLICANT and not user.phone_verified:
        raise PhoneUnverifiedError()
    return user


def _count_failure(session: Session, user: User, now: dt.datetime) -> None:
    """One more consecutive failure, counted in the database (concurrent failures all count)."""
    failures = session.scalar(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
        .execution_options(synchronize_session=False)
    )
    if failures is not None and failures >= MAX_FAILED_LOGINS:
        session.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=0, locked_until=now + LOCK_DURATION)
            .execution_options(synchronize_session=False)
        )
    session.expire(user, ["failed_logins", "locked_until"])


# Institutions live in `products`; the kernel refers to their table by name only.
_INSTITUTIONS = table("institutions", column("id", Integer), column("active", Boolean))


def _institution_active(session: Session, user: User) -> bool:
    if user.institution_id is None:
        return True
    return bool(
        session.scalar(select(_INSTITUTIONS.c.active).where(_INSTITUTIONS.c.id == user.institution_id))
    )


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


_UNREAD = (
    select(func.count())
    .where(Notification.user_id == User.id, Notification.read_at.is_(None))
    .correlate(User)
    .scalar_subquery()
)
_LIVE_USER_UNREAD = select(User, _UNREAD).where(*_LIVE)


def resolve_session_unread(session: Session, token: str, *, kind: str) -> tuple[User, int] | None:
    """`resolve_session`, with the user's unread notifications counted by the same statement (every page's
    header shows them; core.notifications.unread_count counts the same rows)."""
    row = session.execute(_LIVE_USER_UNREAD, _live(token, kind)).first()
    return (row[0], int(row[1])) if row else None


def revoke_session(session: Session, token: str) -> None:
    """End a session or token server-side; a no-op for an unknown token."""
    session.execute(
        update(AuthSession)
        .where(AuthSession.token_hash == _digest(token), AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_user_sessions(session: Session, user_ids: list[int], *, keep_token: str | None = None) -> None:
    """End every live session and token of these users at once (but `keep_token`, the caller's own)."""
    stmt = update(AuthSession).where(AuthSession.user_id.in_(user_ids), AuthSession.revoked_at.is_(None))
    if keep_token is not None:
        stmt = stmt.where(AuthSession.token_hash != _digest(keep_token))
    session.execute(stmt.values(revoked_at=utcnow()).execution_options(synchronize_session=False))


def set_password(session: Session, user: User, new_password: str, *, keep_token: str | None = None) -> None:
    """Replace the password after checking its strength; every other session and token of the user
    ends. Raises InvalidInputError(new_password=[...])."""
    weak = check_password_strength(new_password, username=user.username)
    if weak:
        raise InvalidInputError({"new_password": weak})
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    revoke_user_sessions(session, [user.id], keep_token=keep_token)


def change_password(
    session: Session, user: User, *, current_password: str, new_password: str, keep_token: str | None = None
) -> None:
    """The user changes their own password. Raises InvalidInputError(current_password=['wrong']) or
    (new_password=[...]); see `set_password`."""
    try:
        _hasher.verify(user.password_hash, current_password)
    except (VerificationError, InvalidHashError) as exc:
        raise InvalidInputError({"current_password": ["wrong_password"]}) from exc
    if current_password == new_password:
        raise InvalidInputError({"new_password": ["same_as_current"]})
    set_password(session, user, new_password, keep_token=keep_token)
