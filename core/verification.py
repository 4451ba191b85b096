"""Codes sent by SMS: verifying an applicant's phone, and resetting a forgotten password.

A code is 6 digits, valid CODE_TTL, allows MAX_ATTEMPTS tries and works once; only its keyed hash is
stored. The SMS goes through the outbox (core.notifications.queue_message), delivered by the configured
sender after the commit. Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.accounts import find_user, revoke_user_sessions, set_password
from core.errors import InvalidInputError
from core.events import record_event
from core.i18n import N_
from core.models import Role, User, VerificationCode
from core.notifications import queue_message
from core.passwords import check_password_strength
from core.types import utcnow

CODE_TTL = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5
PHONE = "phone"
RESET = "reset"
SMS_TEXT = {
    PHONE: N_("【吉惠通】您的注册验证码为 {code}，10 分钟内有效。如非本人操作，请忽略本短信。"),
    RESET: N_("【吉惠通】您正在重置密码，验证码为 {code}，10 分钟内有效。验证码请勿告诉他人。"),
}


class InvalidCodeError(InvalidInputError):
    """A wrong, used, expired or unknown code (one error for all, so nothing is revealed)."""

    code = "invalid_code"

    def __init__(self) -> None:
        super().__init__({"code": ["invalid_code"]})


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def send_code(session: Session, user: User, purpose: str) -> str | None:
    """Send a fresh code to the user's phone (earlier unused codes of the purpose stop working).
    Returns the code (for the caller's tests and logs; never shown to anyone), or None without a phone."""
    if not user.phone:
        return None
    now = utcnow()
    session.execute(
        update(VerificationCode)
        .where(
            VerificationCode.user_id == user.id,
            VerificationCode.purpose == purpose,
            VerificationCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    row = VerificationCode(
        user_id=user.id, purpose=purpose, code_hash=_hash(code), created_at=now, expires_at=now + CODE_TTL
    )
    session.add(row)
    session.flush()
    queue_message(
        session,
        channel="sms",
        to=user.phone,
        body=SMS_TEXT[purpose].format(code=code),
        dedup_key=f"code:{row.id}",
        user_id=user.id,
    )
    return code


def _live_code(session: Session, user: User, purpose: str) -> VerificationCode | None:
    return session.scalar(
        select(VerificationCode)
        .where(
            VerificationCode.user_id == user.id,
            VerificationCode.purpose == purpose,
            VerificationCode.used_at.is_(None),
            VerificationCode.expires_at > utcnow(),
            VerificationCode.attempts < MAX_ATTEMPTS,
        )
        .order_by(VerificationCode.id.desc())
        .limit(1)
    )


def _matches(row: VerificationCode | None, code: str) -> bool:
    return row is not None and hmac.compare_digest(row.code_hash, _hash(code.strip()))


def _consume(session: Session, user: User, purpose: str, code: str) -> bool:
    """True when `code` is the user's live code of this purpose (which then stops working). A wrong
    code uses up one of its tries."""
    row = _live_code(session, user, purpose)
    if row is None:
        return False
    if not _matches(row, code):
        row.attempts += 1
        session.flush()
        return False
    row.used_at = utcnow()
    session.flush()
    return True


def verify_phone(
    session: Session, username: str, code: str, *, admit: Callable[[User], None] | None = None
) -> User:
    """Mark the applicant's phone verified with the code sent at registration (or a new one).
    Raises InvalidInputError(code=['invalid_code']) for any wrong, used, expired or unknown code; a wrong
    code's try must be kept by the caller although it answers with an error. `admit`, called once the
    code is right and before the phone counts as verified, may refuse the account by raising."""
    user = find_user(session, username)
    if user is None or user.role != Role.APPLICANT or not _consume(session, user, PHONE, code):
        raise InvalidCodeError()
    if admit is not None:
        admit(user)
    user.phone_verified = True
    session.flush()
    return user


def mark_phone_verified(session: Session, user: User, *, actor_id: int) -> None:
    """Staff verified the phone in person (a service hall); recorded in the audit trail."""
    if not user.phone_verified:
        user.phone_verified = True
        session.flush()
        record_event(
            session, entity_type="user", entity_id=user.id, to_status="phone_verified", actor_id=actor_id
        )


def request_password_reset(session: Session, phone: str) -> None:
    """Send a reset code to each active account with this phone; nothing at all when there is none
    (the caller answers the same either way, so the phone's owner is not revealed)."""
    users = session.scalars(select(User).where(User.phone == phone, User.active.is_(True))).all()
    for user in users:
        send_code(session, user, RESET)


def reset_password(session: Session, *, phone: str, code: str, new_password: str) -> User:
    """Set a new password with the code sent to `phone`; every session and token of the account ends.
    Raises InvalidInputError(code=['invalid_code']) (the same for an unknown phone) or
    (new_password=[...]) for a weak password (checked first, so a weak password costs no try; a
    password containing the username only once the code is known to be right)."""
    # Checks that do not depend on an account first, the same for every phone: a weak password must
    # not tell a stranger that the number belongs to somebody.
    weak = check_password_strength(new_password)
    if weak:
        raise InvalidInputError({"new_password": weak})
    users = session.scalars(select(User).where(User.phone == phone, User.active.is_(True))).all()
    for user in users:
        # A password built on the username is refused only to whoever holds the right code (the
        # code is not used up, so they can choose another).
        personal = check_password_strength(new_password, username=user.username)
        if personal and _matches(_live_code(session, user, RESET), code):
            raise InvalidInputError({"new_password": personal})
    for user in users:
        if _consume(session, user, RESET, code):
            set_password(session, user, new_password)
            revoke_user_sessions(session, [user.id])
            return user
    raise InvalidCodeError()


def change_phone(session: Session, user: User, phone: str) -> str | None:
    """An applicant's new phone number, verified again by a code sent to it (they sign in again only
    once it is verified). Returns the code (see `send_code`)."""
    if phone == user.phone:
        return None
    user.phone = phone
    user.phone_verified = False
    session.flush()
    record_event(session, entity_type="user", entity_id=user.id, to_status="phone_changed", actor_id=user.id)
    return send_code(session, user, PHONE)


def resend_phone_code(session: Session, username: str) -> None:
    """A new registration code for an applicant whose phone is not verified yet; nothing otherwise."""
    user = find_user(session, username)
    if user is not None and user.role == Role.APPLICANT and not user.phone_verified:
        send_code(session, user, PHONE)
