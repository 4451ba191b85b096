"""Consents: what a borrower authorised (sources, periods, purpose code, term, retention, frequency,
recipients), pausing, resuming, revoking and expiring them, and the receipts of every use of their data.

A consent is an artefact in the sense of India's Account Aggregator: never edited. Its status moves
(active <-> paused, then revoked or expired); a change to its terms is a new consent that replaces it
(`change_consent`). Each purpose is consented to on its own: application assessment (scoring, matching,
the officer's view) reads only 申请评估 consents, post-loan monitoring only 贷后监测 ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
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
    ConsentPurpose,
    ConsentStatus,
    ConsentUse,
    FetchFrequency,
)
from credit_profile.receipts import note_uses
from credit_profile.rescoring import enqueue_rescoring

CONSENT_MAX_DAYS = 3 * 366
PERIOD_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MIN_PERIOD_YEAR = 2000
MAX_DATA_LIFE_MONTHS = 120
MAX_RECIPIENTS = 20
PURPOSES = tuple(p.value for p in ConsentPurpose)
FETCH_FREQUENCIES = tuple(f.value for f in FetchFrequency)
# Statuses under which a consent still exists as an agreement (it can be revoked, and it expires).
LIVE_STATUSES = frozenset({ConsentStatus.ACTIVE, ConsentStatus.PAUSED})


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
    purpose_code: str = ConsentPurpose.APPLICATION,
    data_life_months: int | None = None,
    fetch_frequency: str = FetchFrequency.MONTHLY,
    recipient_ids: Sequence[int] = (),
    replaces_id: int | None = None,
) -> Consent:
    """Record an authorisation for these sources until expires_on, for one purpose (`PURPOSES`),
    optionally for the data months period_from..period_to (``YYYY-MM``, inclusive; either end may be
    open), with how long a recipient may keep the data (months, None = until the consent ends), how
    often it may be fetched and which institutions may receive it (empty = those the borrower's needs
    reach); queue the borrower's rescoring. Raises InvalidInputError.
    """
    errors: dict[str, list[str]] = {}
    if purpose_code not in PURPOSES:
        errors["purpose_code"] = ["invalid_choice"]
    if data_life_months is not None and not 1 <= data_life_months <= MAX_DATA_LIFE_MONTHS:
        errors["data_life_months"] = ["out_of_range"]
    if fetch_frequency not in FETCH_FREQUENCIES:
        errors["fetch_frequency"] = ["invalid_choice"]
    if len(recipient_ids) > MAX_RECIPIENTS or any(
        isinstance(i, bool) or not isinstance(i, int) or i < 1 for i in recipient_ids
    ):
        errors["recipient_ids"] = ["invalid_choice"]
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
        purpose_code=purpose_code,
        data_life_months=data_life_months,
        fetch_frequency=fetch_frequency,
        recipient_ids=sorted(set(recipient_ids)),
        replaces_id=replaces_id,
    )
    consent.artefact_hash = artefact_hash(consent)
    session.add(consent)
    session.flush()
    record_event(
        session,
        entity_type="consent",
        entity_id=consent.id,
        to_status=ConsentStatus.ACTIVE,
        actor_id=actor_id,
        data={"purpose_code": purpose_code},
    )
    enqueue_rescoring(session, borrower_id, reason=f"consent-{consent.id}-granted")
    return consent


def artefact_hash(consent: Consent) -> str:
    """SHA-256 of the consent's granted terms (canonical JSON): what the borrower agreed to, so that an
    edit made behind the services' back is visible."""
    terms = {
        "borrower_id": consent.borrower_id,
        "purpose_code": consent.purpose_code,
        "purpose": consent.purpose,
        "sources": sorted(consent.sources),
        "period": [consent.period_from, consent.period_to],
        "expires_on": consent.expires_on.isoformat(),
        "data_life_months": consent.data_life_months,
        "fetch_frequency": consent.fetch_frequency,
        "recipient_ids": sorted(consent.recipient_ids or []),
        "text_hash": consent.text_hash,
        "replaces_id": consent.replaces_id,
    }
    return hashlib.sha256(json.dumps(terms, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def change_consent(
    session: Session,
    consent: Consent,
    *,
    actor_id: int | None,
    sources: Sequence[str] | None = None,
    expires_on: dt.date | None = None,
    data_life_months: int | None = None,
    recipient_ids: Sequence[int] | None = None,
) -> Consent:
    """Change a consent's terms the only way there is: a new consent with the new terms (the purpose
    stays) that replaces it, and the old one revoked, in one step. Raises ConsentStateError unless the
    old one is active or paused, InvalidInputError for bad terms (then nothing changes).
    """
    if effective_status(consent) not in LIVE_STATUSES:
        raise ConsentStateError(consent.status)
    new = grant_consent(
        session,
        borrower_id=consent.borrower_id,
        sources=consent.sources if sources is None else sources,
        purpose=consent.purpose,
        expires_on=consent.expires_on if expires_on is None else expires_on,
        actor_id=actor_id,
        period_from=consent.period_from,
        period_to=consent.period_to,
        purpose_code=consent.purpose_code,
        data_life_months=consent.data_life_months if data_life_months is None else data_life_months,
        fetch_frequency=consent.fetch_frequency,
        recipient_ids=consent.recipient_ids if recipient_ids is None else recipient_ids,
        replaces_id=consent.id,
    )
    revoke_consent(session, consent, actor_id=actor_id, reason=f"replaced by #{new.id}")
    return new


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
    """active / paused / revoked / expired, counting a passed expiry date as expired before the sweep
    marks it."""
    if consent.status in LIVE_STATUSES and consent.expires_on < (today or local_today()):
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

    Raises ConsentStateError unless active or paused.
    """
    from_status = effective_status(consent)
    if from_status not in LIVE_STATUSES:
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
        from_status=from_status,
        to_status=ConsentStatus.REVOKED,
        actor_id=actor_id,
        note=consent.revoke_reason,
    )
    enqueue_rescoring(session, consent.borrower_id, reason=f"consent-{consent.id}-revoked")
    return consent


def pause_consent(session: Session, consent: Consent, *, actor_id: int | None) -> Consent:
    """Stop every new read and record under this consent until it is resumed (the data already held
    stays, as under an active consent); queue the borrower's rescoring. Raises ConsentStateError
    unless active."""
    return _set_paused(session, consent, paused=True, actor_id=actor_id)


def resume_consent(session: Session, consent: Consent, *, actor_id: int | None) -> Consent:
    """Let a paused consent allow reads and records again, on its unchanged terms; queue the borrower's
    rescoring. Raises ConsentStateError unless paused (and not expired)."""
    return _set_paused(session, consent, paused=False, actor_id=actor_id)


def _set_paused(session: Session, consent: Consent, *, paused: bool, actor_id: int | None) -> Consent:
    from_status, to_status = ConsentStatus.ACTIVE, ConsentStatus.PAUSED
    if not paused:
        from_status, to_status = to_status, from_status
    if effective_status(consent) != from_status:
        raise ConsentStateError(consent.status)
    consent.status = to_status
    consent.paused_at = utcnow() if paused else None
    session.flush()
    record_event(
        session,
        entity_type="consent",
        entity_id=consent.id,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor_id,
    )
    enqueue_rescoring(session, consent.borrower_id, reason=f"consent-{consent.id}-{to_status}")
    return consent


def active_consents(
    session: Session, borrower_id: int, *, purpose: str | None = ConsentPurpose.APPLICATION
) -> dict[str, Consent]:
    """Source -> the newest active, unexpired consent for this purpose covering it."""
    result: dict[str, Consent] = {}
    for consent in active_consent_list(session, borrower_id, purpose=purpose):
        for source in consent.sources:
            result.setdefault(source, consent)
    return result


def active_consent_list(
    session: Session, borrower_id: int, *, purpose: str | None = ConsentPurpose.APPLICATION
) -> list[Consent]:
    """The borrower's active (not paused), unexpired consents for this purpose (None: any), newest first."""
    today = local_today()
    return [
        c
        for c in list_consents(session, borrower_id)
        if effective_status(c, today) == ConsentStatus.ACTIVE and purpose in (None, c.purpose_code)
    ]


def consent_for_record(consents: Sequence[Consent], source: str, period: str) -> Consent | None:
    """The first (newest) of these consents that covers the record."""
    return next((c for c in consents if covers(c, source, period)), None)


def expire_consents(session: Session, *, today: dt.date | None = None) -> list[Consent]:
    """The expiry sweep: mark active or paused consents past their last day `expired`, each with a status
    event.

    Safe to run twice or concurrently: the conditional update lets one run mark each consent. Queues the
    rescoring of each marked consent's borrower; returns the consents this run marked.
    """
    today = today or local_today()
    due = session.scalars(
        select(Consent)
        .where(Consent.status.in_(list(LIVE_STATUSES)), Consent.expires_on < today)
        .order_by(Consent.id)
    ).all()
    marked: list[Consent] = []
    for consent in due:
        from_status = consent.status
        result = session.execute(
            update(Consent)
            .where(Consent.id == consent.id, Consent.status == from_status)
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
            from_status=from_status,
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
