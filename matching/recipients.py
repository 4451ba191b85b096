"""Which institutions received a borrower's data through their leads, and under which consent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.types import to_shanghai
from credit_profile.consents import consent_end, list_consents
from credit_profile.models import Consent, ConsentUse
from matching.models import (
    Lead,
    Need,
)
from products.models import Institution


@dataclass(frozen=True)
class ConsentRecipient:
    """An institution the borrower's needs were pushed to while a consent was in force."""

    institution_code: str
    institution_name: str
    first_pushed_at: dt.datetime
    claimed_at: dt.datetime | None
    """When an officer first claimed one of its leads inside the consent's term: from then on it may
    read the identified profile."""
    reads: int
    """Profile reads recorded under this consent by the institution."""


def consent_recipients(session: Session, borrower_id: int) -> dict[int, list[ConsentRecipient]]:
    """Consent id -> the institutions its data could reach: those with a lead for one of the borrower's
    needs pushed before the consent ended, with when they claimed it and how often they read the profile.
    """
    leads = session.execute(
        select(Lead, Institution)
        .join(Need, Need.id == Lead.need_id)
        .join(Institution, Institution.id == Lead.institution_id)
        .where(Need.borrower_id == borrower_id)
        .order_by(Lead.pushed_at, Lead.id)
    ).all()
    reads = session.execute(
        select(ConsentUse.consent_id, ConsentUse.institution_id, func.count())
        .where(
            ConsentUse.borrower_id == borrower_id,
            ConsentUse.action == "institution_read",
            ConsentUse.allowed.is_(True),
        )
        .group_by(ConsentUse.consent_id, ConsentUse.institution_id)
    ).all()
    read_counts = {(consent_id, institution_id): count for consent_id, institution_id, count in reads}
    result: dict[int, list[ConsentRecipient]] = {}
    for consent in list_consents(session, borrower_id):
        result[consent.id] = _recipients(consent, leads, read_counts)
    return result


def _recipients(
    consent: Consent, leads: Sequence[Any], read_counts: dict[tuple[int | None, int | None], int]
) -> list[ConsentRecipient]:
    end = consent_end(consent)
    found: dict[int, ConsentRecipient] = {}
    for lead, institution in leads:
        if end is not None and lead.pushed_at >= end:
            continue
        claimed_at = lead.claimed_at
        if claimed_at is not None and end is not None and claimed_at >= end:
            claimed_at = None
        if claimed_at is not None:
            claimed_at = max(claimed_at, consent.granted_at)
        previous = found.get(institution.id)
        if previous is not None:
            claims = [t for t in (previous.claimed_at, claimed_at) if t is not None]
            claimed_at = min(claims) if claims else None
        found[institution.id] = ConsentRecipient(
            institution_code=institution.code,
            institution_name=institution.name,
            first_pushed_at=previous.first_pushed_at if previous else lead.pushed_at,
            claimed_at=claimed_at,
            reads=read_counts.get((consent.id, institution.id), 0),
        )
    return list(found.values())


@dataclass(frozen=True)
class UseView:
    """One use of the borrower's data, with the name of the institution that made it (if one did)."""

    id: int
    consent_id: int | None
    at: dt.datetime
    action: str
    source: str | None
    allowed: bool
    institution_name: str | None
    detail: str | None
    # Identical uses on one day (an officer reloading the credit page) are one row: how many, and the
    # first of them (`at` is the latest).
    count: int = 1
    first_at: dt.datetime | None = None


def distinct_uses(uses: Sequence[UseView]) -> list[UseView]:
    """The uses, newest first, with identical ones of the same day (Asia/Shanghai) folded into one row
    carrying their count: a page reload is not a new use. Every recorded row still stands in the log
    (and in the API)."""
    folded: dict[tuple[Any, ...], UseView] = {}
    for use in uses:
        key = (use.consent_id, use.action, use.source, use.allowed, use.institution_name, use.detail,
               to_shanghai(use.at).date())  # fmt: skip
        seen = folded.get(key)
        folded[key] = use if seen is None else replace(seen, count=seen.count + 1, first_at=use.at)
    return list(folded.values())


def consent_use_views(session: Session, borrower_id: int) -> list[UseView]:
    """Every use of the borrower's data, newest first, with institution names: one statement."""
    rows = session.execute(
        select(
            ConsentUse.id,
            ConsentUse.consent_id,
            ConsentUse.at,
            ConsentUse.action,
            ConsentUse.source,
            ConsentUse.allowed,
            Institution.name,
            ConsentUse.detail,
        )
        .outerjoin(Institution, Institution.id == ConsentUse.institution_id)
        .where(ConsentUse.borrower_id == borrower_id)
        .order_by(ConsentUse.id.desc())
    )
    return [UseView(*row) for row in rows]
