"""What the platform administrator does to accounts: find them, change their role or institution,
disable them (every session and token ends at once), reset their password, and read the audit trail of
what administrators did. Every change is recorded as a status event (entity `user`) with the actor.
Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Integer, String, column, func, or_, select, table
from sqlalchemy.orm import Session, aliased

from core.accounts import hash_password, revoke_user_sessions
from core.errors import InvalidInputError, NotFoundError
from core.events import record_event
from core.models import Role, StatusEvent, User
from core.reference import CITY_CODE, REGIONS

# Institutions live in `products`; the kernel refers to their table by name only.
INSTITUTIONS = table(
    "institutions",
    column("id", Integer),
    column("code", String),
    column("name", String),
    column("active", Boolean),
)
STAFF_ROLES = (Role.OFFICER.value, Role.PRODUCT_MANAGER.value, Role.FINANCE.value, Role.ADMIN.value)
INSTITUTION_ROLES = (Role.OFFICER.value, Role.PRODUCT_MANAGER.value)


class UserNotFoundError(NotFoundError):
    code = "user_not_found"


@dataclass(frozen=True, slots=True)
class UserView:
    """One account as the administrator's list shows it."""

    id: int
    username: str
    role: str
    active: bool
    phone_verified: bool
    must_change_password: bool
    locked_until: dt.datetime | None
    institution_id: int | None
    institution_code: str | None
    institution_name: str | None
    region_code: str | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class UserFilter:
    q: str | None = None
    role: str | None = None
    institution_code: str | None = None
    active: bool | None = None


def search_users(
    session: Session, filters: UserFilter, *, page: int = 1, per_page: int = 20, user_id: int | None = None
) -> tuple[list[UserView], int]:
    """Accounts matching the filters (`q` is a part of the username), oldest first, paged in SQL;
    and how many match."""
    stmt = select(
        User.id,
        User.username,
        User.role,
        User.active,
        User.phone_verified,
        User.must_change_password,
        User.locked_until,
        User.institution_id,
        INSTITUTIONS.c.code,
        INSTITUTIONS.c.name,
        User.region_code,
        User.created_at,
    ).outerjoin(INSTITUTIONS, INSTITUTIONS.c.id == User.institution_id)
    if user_id is not None:
        stmt = stmt.where(User.id == user_id)
    if filters.q:
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(User.username.ilike(f"%{escaped}%", escape="\\"))
    if filters.role:
        stmt = stmt.where(User.role == filters.role)
    if filters.institution_code:
        stmt = stmt.where(INSTITUTIONS.c.code == filters.institution_code)
    if filters.active is not None:
        stmt = stmt.where(User.active.is_(filters.active))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(User.id).limit(per_page).offset((page - 1) * per_page)).all()
    return [UserView(*row) for row in rows], total


def record_admin_action(
    session: Session, entity_type: str, entity_id: int, action: str, *, actor_id: int
) -> None:
    """Record what an administrator did (created an account, an institution, a provider)."""
    record_event(session, entity_type=entity_type, entity_id=entity_id, to_status=action, actor_id=actor_id)


def get_user(session: Session, user_id: int) -> User:
    """Raises UserNotFoundError."""
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFoundError(str(user_id))
    return user


def institution_id_by_code(session: Session, code: str) -> int | None:
    found = session.scalar(select(INSTITUTIONS.c.id).where(INSTITUTIONS.c.code == code))
    return int(found) if found is not None else None


@dataclass(frozen=True, slots=True)
class UserChange:
    """What the administrator changes; None leaves a field as it is."""

    active: bool | None = None
    role: str | None = None
    institution_id: int | None = None
    region_code: str | None = None


def update_user(session: Session, user_id: int, change: UserChange, *, actor_id: int) -> User:
    """Change an account's state, role, institution or region. Disabling ends every session and
    token of the account at once. An administrator cannot disable or demote themselves. Raises
    UserNotFoundError, InvalidInputError."""
    user = get_user(session, user_id)
    before = _state(user)
    role = change.role or user.role
    errors: dict[str, list[str]] = {}
    if change.role is not None and change.role not in STAFF_ROLES and change.role != user.role:
        errors["role"] = ["invalid_choice"]
    if user.id == actor_id and (change.active is False or (change.role and change.role != user.role)):
        errors["active" if change.active is False else "role"] = ["own_account"]
    if user.role == Role.APPLICANT and change.role and change.role != Role.APPLICANT:
        errors["role"] = ["invalid_choice"]
    institution_id = change.institution_id if change.institution_id is not None else user.institution_id
    region_code = change.region_code if change.region_code is not None else user.region_code
    if role in INSTITUTION_ROLES:
        if institution_id is None:
            errors["institution_code"] = ["required"]
        region_code = None
    elif role == Role.FINANCE:
        if region_code not in (*REGIONS, CITY_CODE):
            errors["region_code"] = ["required" if not region_code else "invalid_choice"]
        institution_id = None
    elif role == Role.ADMIN:
        institution_id = region_code = None
    if errors:
        raise InvalidInputError(errors)
    user.role = role
    user.institution_id = institution_id
    user.region_code = region_code
    if change.active is not None:
        user.active = change.active
    session.flush()
    after = _state(user)
    if after != before:
        if change.active is False and before["active"]:
            revoke_user_sessions(session, [user.id])
        to_status = "disabled" if change.active is False and before["active"] else "updated"
        if change.active is True and not before["active"]:
            to_status = "enabled"
        record_event(
            session,
            entity_type="user",
            entity_id=user.id,
            from_status=None,
            to_status=to_status,
            actor_id=actor_id,
            data={"before": before, "after": after},
        )
    return user


def _state(user: User) -> dict[str, Any]:
    return {
        "active": user.active,
        "role": user.role,
        "institution_id": user.institution_id,
        "region_code": user.region_code,
    }


def reset_password_by_admin(session: Session, user_id: int, *, actor_id: int) -> str:
    """A temporary password for the account, to be changed at its first sign-in; every session and
    token of the account ends, and a lock is lifted. Returns the password (shown once). Raises
    UserNotFoundError."""
    user = get_user(session, user_id)
    # Four groups of letters and digits: strong, and readable out over the phone.
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    temporary = "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))
    user.password_hash = hash_password(temporary)
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    revoke_user_sessions(session, [user.id])
    record_event(
        session, entity_type="user", entity_id=user.id, to_status="password_reset", actor_id=actor_id
    )
    return temporary


# --- the audit trail of administrators' actions -----------------------------------------------------

ADMIN_ENTITIES = ("user", "institution", "provider")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str | None
    entity_type: str
    entity_id: int
    to_status: str
    note: str | None
    data: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    entity_type: str | None = None
    entity_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def audit_entries(
    session: Session, filters: AuditFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[AuditEntry], int]:
    """Events of the trail, newest first, paged in SQL: by default those of what administrators
    manage (accounts, institutions, providers) and everything any administrator did."""
    actor = aliased(User)
    stmt = select(
        StatusEvent.id,
        StatusEvent.at,
        actor.username,
        StatusEvent.entity_type,
        StatusEvent.entity_id,
        StatusEvent.to_status,
        StatusEvent.note,
        StatusEvent.data,
    ).outerjoin(actor, actor.id == StatusEvent.actor_id)
    if filters.entity_type:
        stmt = stmt.where(StatusEvent.entity_type == filters.entity_type)
    else:
        stmt = stmt.where(or_(StatusEvent.entity_type.in_(ADMIN_ENTITIES), actor.role == Role.ADMIN.value))
    if filters.entity_id is not None:
        stmt = stmt.where(StatusEvent.entity_id == filters.entity_id)
    if filters.actor:
        stmt = stmt.where(actor.username == filters.actor)
    if filters.since is not None:
        stmt = stmt.where(StatusEvent.at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(StatusEvent.at < filters.until)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(StatusEvent.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return [AuditEntry(*row) for row in rows], total


def users_by_ids(session: Session, ids: Sequence[int]) -> dict[int, str]:
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).tuples().all())
