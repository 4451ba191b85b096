"""Retention: purging data whose consent has ended, and redacting the scores built on it; and deleting
the registrations whose phone was never verified."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, Table, and_, delete, exists, or_, select
from sqlalchemy.orm import Session

from core.db import Base
from core.models import Role, User
from core.types import SHANGHAI, utcnow
from credit_profile.consent_text import RETENTION_DAYS
from credit_profile.consents import consent_end, covers, list_consents
from credit_profile.explain import TEXTS as explain_texts
from credit_profile.features import (
    BANK_FLOW_FEATURES,
    ELECTRICITY_FEATURES,
    TAX_FEATURES,
)
from credit_profile.models import (
    Borrower,
    Consent,
    ConsentStatus,
    CreditScore,
    DataPurge,
    DataRecord,
    Source,
)

_SOURCE_OF_FEATURE = {
    **dict.fromkeys(ELECTRICITY_FEATURES, Source.ELECTRICITY.value),
    **dict.fromkeys(TAX_FEATURES, Source.TAX.value),
    **dict.fromkeys(BANK_FLOW_FEATURES, Source.BANK_FLOW.value),
}


def purge_expired_data(
    session: Session, *, now: dt.datetime | None = None, retention_days: int = RETENTION_DAYS
) -> list[DataPurge]:
    """The retention sweep: delete data records held only under consents that ended (revoked or
    expired) more than ``retention_days`` ago, and redact what earlier scores said about them.

    A record is held under its own consent and under every consent covering its source and month;
    one active consent, or one that ended within the retention period, keeps it. Each deletion is
    recorded as a DataPurge per borrower and source. Reasons in the borrower's stored scores that
    described a deleted source in figures are replaced by a neutral text. Safe to run twice: a
    second run finds nothing to delete. Returns this run's DataPurge rows.
    """
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=retention_days)
    cutoff_day = cutoff.astimezone(SHANGHAI).date()
    # A superset of the borrowers concerned; the exact test is per record below.
    ended = select(Consent.borrower_id).where(
        or_(
            and_(Consent.status == ConsentStatus.REVOKED, Consent.revoked_at < cutoff),
            Consent.expires_on < cutoff_day,
        )
    )
    unheld = select(DataRecord.borrower_id).where(DataRecord.consent_id.is_(None))
    borrower_ids = sorted(set(session.scalars(ended.union(unheld))))
    purges: list[DataPurge] = []
    for borrower_id in borrower_ids:
        purges.extend(_purge_borrower(session, borrower_id, now=now, cutoff=cutoff))
    return purges


# How long a registration whose phone was never verified is kept: long enough for support to see a
# complaint about it. Its identifier, if it holds one, is released earlier to whoever registers it
# again and verifies their phone (credit_profile.registration).
UNVERIFIED_RETENTION_DAYS = 7
# What hangs off such an account and goes with it: its codes, texts, sessions, form guards, scores.
_DEPENDANTS = {
    "users": (
        "verification_codes",
        "outgoing_messages",
        "notifications",
        "auth_sessions",
        "form_submissions",
    ),
    "borrowers": ("credit_scores",),
}


def abandoned_registrations() -> Select[int, int]:
    """(user id, borrower id) of every applicant registration whose phone was never verified and that
    nothing refers to but what goes with it (`_DEPENDANTS`).

    Such an account could never sign in, so it has no needs, consents, data or events of its own. Only
    the code texted to the phone verifies an applicant (or staff, who mark it verified); the one way
    back to unverified is a change of phone, which records an event by the account itself, so an
    unverified account that nothing refers to was never verified.
    """
    query = (
        select(User.id, Borrower.id)
        .join(Borrower, Borrower.id == User.borrower_id)
        .where(User.role == Role.APPLICANT.value, User.phone_verified.is_(False))
    )
    for parent, column in (("users", User.id), ("borrowers", Borrower.id)):
        for table, fk_column in _references(parent):
            if table.name not in _DEPENDANTS[parent] and (table.name, parent) != ("users", "borrowers"):
                query = query.where(~exists().where(fk_column == column))
    return query


def purge_unverified_registrations(
    session: Session, *, now: dt.datetime | None = None, days: int = UNVERIFIED_RETENTION_DAYS
) -> int:
    """Delete the registrations whose phone was never verified (`abandoned_registrations`) once they
    are older than ``days``, with their borrower rows and what hangs off them (`_DEPENDANTS`): those of
    an identifier already registered (a borrower row without it) and those holding their resident ID or
    USCC, which is thereby free to be registered again.

    Verified accounts and accounts anything else refers to (a need, a consent or its use, a data
    record, a lead, a status event...) are never touched. Safe to run twice. Returns how many accounts
    it deleted.
    """
    cutoff = (now or utcnow()) - dt.timedelta(days=days)
    rows = session.execute(abandoned_registrations().where(User.created_at < cutoff)).all()
    if not rows:
        return 0
    # Locked and read again: an account whose phone a verification in flight just verified is kept.
    unverified = set(
        session.scalars(
            select(User.id)
            .where(User.id.in_([u for u, _b in rows]), User.phone_verified.is_(False))
            .with_for_update()
        )
    )
    rows = [row for row in rows if row[0] in unverified]
    if not rows:
        return 0
    user_ids, borrower_ids = [u for u, _b in rows], [b for _u, b in rows]
    for parent, ids in (("users", user_ids), ("borrowers", borrower_ids)):
        for table, fk_column in _references(parent):
            if table.name in _DEPENDANTS[parent]:
                session.execute(delete(table).where(fk_column.in_(ids)))
    session.execute(delete(User).where(User.id.in_(user_ids)))
    session.execute(delete(Borrower).where(Borrower.id.in_(borrower_ids)))
    session.flush()
    return len(rows)


def _references(parent: str) -> list[tuple[Table, Any]]:
    """Every (table, column) with a foreign key to ``parent``.id among the mapped tables."""
    return [
        (table, fk.parent)
        for table in Base.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.target_fullname == f"{parent}.id"
    ]


def _purge_borrower(
    session: Session, borrower_id: int, *, now: dt.datetime, cutoff: dt.datetime
) -> list[DataPurge]:
    consents = list_consents(session, borrower_id)
    doomed: dict[str, list[DataRecord]] = {}
    holders_by_source: dict[str, set[int]] = {}
    for record in session.scalars(
        select(DataRecord).where(DataRecord.borrower_id == borrower_id).order_by(DataRecord.period)
    ):
        holders = [
            c for c in consents if c.id == record.consent_id or covers(c, record.source, record.period)
        ]
        ends = [consent_end(c) for c in holders]
        if any(end is None or end >= cutoff for end in ends):
            continue
        doomed.setdefault(record.source, []).append(record)
        holders_by_source.setdefault(record.source, set()).update(c.id for c in holders)
    if not doomed:
        return []
    redacted = _redact_scores(session, borrower_id, set(doomed), before=now)
    purges = []
    for source, records in sorted(doomed.items()):
        purge = DataPurge(
            at=now,
            borrower_id=borrower_id,
            source=source,
            records=len(records),
            first_period=records[0].period,
            last_period=records[-1].period,
            consent_ids=sorted(holders_by_source[source]),
            scores_redacted=redacted.get(source, 0),
        )
        session.add(purge)
        purges.append(purge)
        session.execute(delete(DataRecord).where(DataRecord.id.in_([r.id for r in records])))
    session.flush()
    return purges


def _reason_source(reason: Mapping[str, Any]) -> str | None:
    names = reason.get("characteristics") or []
    sources = {_SOURCE_OF_FEATURE.get(name) for name in names}
    if len(sources) == 1:
        return sources.pop()
    code = str(reason.get("code", ""))
    prefixes = (("elec", Source.ELECTRICITY), ("tax", Source.TAX), ("bank", Source.BANK_FLOW))
    return next((source.value for prefix, source in prefixes if code.startswith(prefix)), None)


def _redact_scores(
    session: Session, borrower_id: int, sources: set[str], *, before: dt.datetime
) -> dict[str, int]:
    """Replace, in scores computed before ``before``, every reason about these sources that describes
    the data (a figure, a rating, arrears) by a neutral text. Returns scores changed per source."""
    template = explain_texts["data_deleted"]
    changed: dict[str, int] = {}
    for score in session.scalars(
        select(CreditScore).where(CreditScore.borrower_id == borrower_id, CreditScore.computed_at <= before)
    ):
        touched: set[str] = set()
        reasons = []
        for reason in score.reasons:
            source = _reason_source(reason)
            keep = source not in sources or reason.get("code") in (
                f"{source}_data_missing",
                f"{source}_data_deleted",
            )
            if keep:
                reasons.append(reason)
                continue
            touched.add(str(source))
            reasons.append(
                {
                    **reason,
                    "code": f"{source}_data_deleted",
                    "text": template,
                    "template": template,
                    "params": {},
                }
            )
        if touched:
            score.reasons = reasons  # a new list, so that the JSON column is written
            for source in touched:
                changed[source] = changed.get(source, 0) + 1
    return changed


def data_purges(session: Session, borrower_id: int) -> Sequence[DataPurge]:
    """What the retention sweep deleted of the borrower's data, newest first."""
    return session.scalars(
        select(DataPurge).where(DataPurge.borrower_id == borrower_id).order_by(DataPurge.id.desc())
    ).all()
