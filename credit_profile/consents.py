"""Consents: what a borrower authorised (sources, periods, purpose, term), revoking and expiring them, and
the receipts of every use of their data.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.events import record_event
from core.reference import DATA_SOURCES
from core.types import SHANGHAI, local_today, utcnow
from credit_profile.consent_text import CONSENT_TEXT_HASH, CONSENT_TEXT_VERSION
from credit_profile.errors import (
    ConsentNotFoundError,
    ConsentRequiredError,
    ConsentStateError,
)
from credit_profile.models import (
    Consent,
    ConsentStatus,
    ConsentUse,
)
from credit_profile.receipts import note_uses
from credit_profile.rescoring import enqueue_rescoring

CONSENT_MAX_DAYS = 3 * 366
PERIOD_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MIN_PERIOD_YEAR = 2000


def _valid_period(value: str | None) -> bool:
    match = PERIOD_PATTERN.match(value) if value is not None else None
    return match is not None and int(match[1]) >= MIN_PERIOD_YEAR


def grant_consent(
    session: Session,
    *,
    borrower_id: int,
    sources: Sequence[str],
    purpose: str,
    expires_on: dt.date,
    actor_id: int | None,
    period_from: str | None = None,
    period_to: str | None = None,
) -> Consent:
    """Record an authorisation for these sources until expires_on, optionally for the data months
    period_from..period_to (``YYYY-MM``, inclusive; either end may be open), and queue the borrower's
    rescoring. Raises InvalidInputError.
    """
    errors: dict[str, list[str]] = {}
    if not sources or any(s not in DATA_SOURCES for s in sources):
        errors["sources"] = ["invalid_choice"]
    if not purpose.strip():
        errors["purpose"] = ["required"]
    today = local_today()
    if expires_on < today:
        errors["expires_on"] = ["in_past"]
    elif expires_on > today + dt.timedelta(days=CONSENT_MAX_DAYS):
        errors["expires_on"] = ["too_far"]
    for name, value in (("period.from", period_from), ("period.to", period_to)):
        if value is not None and not _valid_period(value):
            errors[name] = ["invalid_format"]
    valid_bounds = not errors.keys() & {"period.from", "period.to"}
    if period_from and period_to and valid_bounds and period_from > period_to:
        errors["period.to"] = ["before_start"]
    if errors:
        raise InvalidInputError(errors)
    consent = Consent(
        borrower_id=borrower_id,
        sources=sorted(set(sources)),
        purpose=purpose.strip(),
        status=ConsentStatus.ACTIVE,
        granted_by=actor_id,
        granted_at=utcnow(),
        expires_on=expires_on,
        period_from=period_from,
        period_to=period_to,
        text_version=CONSENT_TEXT_VERSION,
        text_hash=CONSENT_TEXT_HASH,
    )
    session.add(consent)
    session.flush()
    record_event(
        session,
        entity_type="consent",
        entity_id=consent.id,
        to_status=ConsentStatus.ACTIVE,
        actor_id=actor_id,
    )
    enqueue_rescoring(session, borrower_id, reason=f"consent-{consent.id}-granted")
    return consent


def covers(consent: Consent, source: str, period: str) -> bool:
    """Whether the consent's sources and data months include this record (status not considered)."""
    return (
        source in consent.sources
        and (consent.period_from is None or period >= consent.period_from)
        and (consent.period_to is None or period <= consent.period_to)
    )


def consent_end(consent: Consent) -> dt.datetime | None:
    """When the consent stopped allowing use: its revocation, or the end of its last day; None if active."""
    if consent.status == ConsentStatus.REVOKED:
        return consent.revoked_at
    if effective_status(consent) == ConsentStatus.EXPIRED:
        last_day_end = dt.datetime.combine(consent.expires_on + dt.timedelta(days=1), dt.time(), SHANGHAI)
        return last_day_end.astimezone(dt.UTC)
    return None


def effective_status(consent: Consent, today: dt.date | None = None) -> str:
    """active / revoked / expired, counting a passed expiry date as expired before the sweep marks it."""
    if consent.status == ConsentStatus.ACTIVE and consent.expires_on < (today or local_today()):
        return ConsentStatus.EXPIRED
    return consent.status


def list_consents(session: Session, borrower_id: int) -> Sequence[Consent]:
    return session.scalars(
        select(Consent).where(Consent.borrower_id == borrower_id).order_by(Consent.id.desc())
    ).all()


def get_consent(session: Session, consent_id: int, *, borrower_id: int) -> Consent:
    """The borrower's own consent. Raises ConsentNotFoundError (also for another borrower's)."""
    consent = session.get(Consent, consent_id)
    if consent is None or consent.borrower_id != borrower_id:
        raise ConsentNotFoundError(str(consent_id))
    return consent


def revoke_consent(
    session: Session, consent: Consent, *, actor_id: int | None, reason: str | None = None
) -> Consent:
    """Stop every new read and record under this consent at once, and queue the borrower's rescoring.

    Raises ConsentStateError unless active.
    """
    if effective_status(consent) != ConsentStatus.ACTIVE:
        raise ConsentStateError(consent.status)
    consent.status = ConsentStatus.REVOKED
    consent.revoked_at = utcnow()
    consent.revoked_by = actor_id
    consent.revoke_reason = (reason or "").strip()[:200] or None
    session.flush()
    record_event(
        session,
        entity_type="consent",
        entity_id=consent.id,
        from_status=ConsentStatus.ACTIVE,
        to_status=ConsentStatus.REVOKED,
        actor_id=actor_id,
        note=consent.revoke_reason,
    )
    enqueue_rescoring(session, consent.borrower_id, reason=f"consent-{consent.id}-revoked")
    return consent


def active_consents(session: Session, borrower_id: int) -> dict[str, Consent]:
    """Source -> the newest active, unexpired consent covering it."""
    result: dict[str, Consent] = {}
    for consent in active_consent_list(session, borrower_id):
        for source in consent.sources:
            result.setdefault(source, consent)
    return result


def active_consent_list(session: Session, borrower_id: int) -> list[Consent]:
    """The borrower's active, unexpired consents, newest first."""
    today = local_today()
    return [
        c for c in list_consents(session, borrower_id) if effective_status(c, today) == ConsentStatus.ACTIVE
    ]


def consent_for_record(consents: Sequence[Consent], source: str, period: str) -> Consent | None:
    """The first (newest) of these consents that covers the record."""
    return next((c for c in consents if covers(c, source, period)), None)


def expire_consents(session: Session, *, today: dt.date | None = None) -> list[Consent]:
    """The expiry sweep: mark active consents past their last day `expired`, each with a status event.

    Safe to run twice or concurrently: the conditional update lets one run mark each consent. Queues the
    rescoring of each marked consent's borrower; returns the consents this run marked.
    """
    today = today or local_today()
    due = session.scalars(
        select(Consent)
        .where(Consent.status == ConsentStatus.ACTIVE, Consent.expires_on < today)
        .order_by(Consent.id)
    ).all()
    marked: list[Consent] = []
    for consent in due:
        result = session.execute(
            update(Consent)
            .where(Consent.id == consent.id, Consent.status == ConsentStatus.ACTIVE)
            .values(status=ConsentStatus.EXPIRED)
            .execution_options(synchronize_session=False)
        )
        session.refresh(consent)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue
        record_event(
            session,
            entity_type="consent",
            entity_id=consent.id,
            from_status=ConsentStatus.ACTIVE,
            to_status=ConsentStatus.EXPIRED,
            note=f"expires_on {consent.expires_on.isoformat()}",
        )
        enqueue_rescoring(session, consent.borrower_id, reason=f"consent-{consent.id}-expired")
        marked.append(consent)
    return marked


def consent_uses(session: Session, borrower_id: int) -> Sequence[ConsentUse]:
    return session.scalars(
        select(ConsentUse).where(ConsentUse.borrower_id == borrower_id).order_by(ConsentUse.id.desc())
    ).all()


def record_use(
    session: Session,
    *,
    borrower_id: int,
    action: str,
    consent_id: int | None = None,
    source: str | None = None,
    actor_id: int | None = None,
    institution_id: int | None = None,
    provider_id: int | None = None,
    allowed: bool = True,
    detail: str | None = None,
) -> ConsentUse:
    use = ConsentUse(
        borrower_id=borrower_id,
        consent_id=consent_id,
        source=source,
        action=action,
        actor_id=actor_id,
        institution_id=institution_id,
        provider_id=provider_id,
        allowed=allowed,
        detail=detail,
        at=utcnow(),
    )
    session.add(use)
    session.flush()
    note_uses(session, [use])
    return use


def require_active_consent(
    session: Session, borrower_id: int, *, actor_id: int | None, institution_id: int | None, action: str
) -> dict[str, Consent]:
    """The active consents, or ConsentRequiredError after recording the refused read as a use."""
    consents = active_consents(session, borrower_id)
    if not consents:
        record_use(
            session,
            borrower_id=borrower_id,
            action=action,
            actor_id=actor_id,
            institution_id=institution_id,
            allowed=False,
            detail="no active consent",
        )
        raise ConsentRequiredError(str(borrower_id))
    return consents
