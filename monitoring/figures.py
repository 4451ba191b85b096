"""What the finance offices read about post-loan warnings: aggregates for their area, and named red
warnings only for loans under public schemes (guarantees, compensation funds, bridge funds), where
public money is exposed.

Which loans are under a public scheme is another package's knowledge (the risk-sharing schemes), which
monitoring must not import: the portal registers a lookup at start-up (`register_public_scheme_lookup`).
Without one, no loan counts as under a scheme, the exposure is zero and no warning is named; the page
says the scheme data is not connected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from core.reference import CITY_CODE
from core.types import utcnow
from credit_profile.models import Borrower
from matching.models import Loan
from monitoring.models import EarlyWarning, Level, WarningStatus
from monitoring.panels import consent_for_loan, monitoring_consents
from products.models import Institution

# loan ids -> {loan id: scheme name} for those under a public scheme
PublicSchemeLookup = Callable[[Session, Collection[int]], dict[int, str]]
_lookup: list[PublicSchemeLookup] = []


def register_public_scheme_lookup(lookup: PublicSchemeLookup) -> None:
    """Install the function that says which loans are under a public scheme (replaces any earlier)."""
    _lookup[:] = [lookup]


def schemes_connected() -> bool:
    return bool(_lookup)


def public_schemes(session: Session, loan_ids: Collection[int]) -> dict[int, str]:
    return _lookup[0](session, loan_ids) if _lookup and loan_ids else {}


@dataclass(frozen=True)
class Count:
    key: str
    yellow: int
    red: int


@dataclass(frozen=True)
class NamedWarning:
    warning_id: int
    borrower_name: str
    institution_name: str
    region_code: str
    scheme: str
    amount: Decimal
    period: str
    evidence: list[str]


@dataclass(frozen=True)
class WarningFigures:
    region_code: str
    active_yellow: int
    active_red: int
    by_region: list[Count]
    by_institution: list[Count]
    acknowledged_on_time: int
    acknowledgement_due: int
    ack_sla_share: float | None
    loans: int
    loans_monitored: int
    schemes_connected: bool
    scheme_exposure_red: Decimal
    named_red: list[NamedWarning]


def _counts(rows: list[tuple[str, str, int]]) -> list[Count]:
    table: dict[str, dict[str, int]] = {}
    for key, level, n in rows:
        table.setdefault(key, {})[level] = n
    return [
        Count(key, yellow=v.get(Level.YELLOW, 0), red=v.get(Level.RED, 0))
        for key, v in sorted(table.items(), key=lambda item: -sum(item[1].values()))
    ]


def warning_figures(session: Session, region_code: str) -> WarningFigures:
    """The figures for one county, or the whole city (CITY_CODE)."""
    scope = [] if region_code == CITY_CODE else [EarlyWarning.region_code == region_code]
    active = [*scope, EarlyWarning.status != WarningStatus.CLOSED]
    by_region = session.execute(
        select(EarlyWarning.region_code, EarlyWarning.level, func.count())
        .where(*active)
        .group_by(EarlyWarning.region_code, EarlyWarning.level)
    )
    by_institution = session.execute(
        select(Institution.name, EarlyWarning.level, func.count())
        .join(Institution, Institution.id == EarlyWarning.institution_id)
        .where(*active)
        .group_by(Institution.name, EarlyWarning.level)
    )
    regions = _counts(list(by_region))
    now = utcnow()
    due_rows = session.execute(
        select(EarlyWarning.acknowledged_at, EarlyWarning.ack_due_at).where(
            *scope, (EarlyWarning.acknowledged_at.is_not(None)) | (EarlyWarning.ack_due_at < now)
        )
    ).all()
    on_time = sum(1 for acked, due in due_rows if acked is not None and acked <= due)
    loan_scope = [] if region_code == CITY_CODE else [Loan.region_code == region_code]
    loans = list(session.scalars(select(Loan).where(*loan_scope)))
    consents = monitoring_consents(session, (loan.borrower_id for loan in loans))
    covered = sum(1 for loan in loans if consent_for_loan(consents.get(loan.borrower_id, []), loan))
    red = list(
        session.execute(
            select(EarlyWarning, Loan.amount, Borrower.name, Institution.name)
            .join(Loan, Loan.id == EarlyWarning.loan_id)
            .join(Borrower, Borrower.id == EarlyWarning.borrower_id)
            .join(Institution, Institution.id == EarlyWarning.institution_id)
            .where(*active, EarlyWarning.level == Level.RED)
            .order_by(EarlyWarning.id)
        )
    )
    schemes = public_schemes(session, [w.loan_id for w, *_rest in red])
    named = [
        NamedWarning(
            warning_id=w.id,
            borrower_name=borrower,
            institution_name=institution,
            region_code=w.region_code,
            scheme=schemes[w.loan_id],
            amount=amount,
            period=w.period,
            evidence=[str(e.get("text", "")) for e in w.evidence],
        )
        for w, amount, borrower, institution in red
        if w.loan_id in schemes
    ]
    return WarningFigures(
        region_code=region_code,
        active_yellow=sum(c.yellow for c in regions),
        active_red=sum(c.red for c in regions),
        by_region=regions,
        by_institution=_counts(list(by_institution)),
        acknowledged_on_time=on_time,
        acknowledgement_due=len(due_rows),
        ack_sla_share=on_time / len(due_rows) if due_rows else None,
        loans=len(loans),
        loans_monitored=covered,
        schemes_connected=schemes_connected(),
        scheme_exposure_red=sum((n.amount for n in named), Decimal("0")),
        named_red=named,
    )


@dataclass(frozen=True)
class WindowCount:
    """Warnings of one county or bank in a window: active at its end and opened in it, by level."""

    key: str | int
    active_yellow: int
    active_red: int
    opened_yellow: int
    opened_red: int
    # Acknowledgements due in the window, and those made by their deadline.
    due: int
    kept: int

    @property
    def kept_share(self) -> Decimal | None:
        return (Decimal(self.kept) / Decimal(self.due)).quantize(Decimal("0.0001")) if self.due else None


def window_counts(
    session: Session, start: dt.datetime, end: dt.datetime, region_code: str, by: str
) -> dict[str | int, WindowCount]:
    """Warnings by county (`by="region"`) or bank (`"institution"`) for the instants [start, end) in one
    county or the whole city (CITY_CODE): active at `end` (opened before it and not closed before it),
    opened in the window, and the acknowledgements due in the window with those kept (acknowledged at or
    before the deadline). Raises ValueError for another `by`."""
    key: Any = {"region": EarlyWarning.region_code, "institution": EarlyWarning.institution_id}.get(by)
    if key is None:
        raise ValueError(by)
    scope = [] if region_code == CITY_CODE else [EarlyWarning.region_code == region_code]
    active = and_(
        EarlyWarning.opened_at < end, or_(EarlyWarning.closed_at.is_(None), EarlyWarning.closed_at >= end)
    )
    opened = and_(EarlyWarning.opened_at >= start, EarlyWarning.opened_at < end)
    due = and_(EarlyWarning.ack_due_at >= start, EarlyWarning.ack_due_at < end)
    kept = and_(
        due,
        EarlyWarning.acknowledged_at.is_not(None),
        EarlyWarning.acknowledged_at <= EarlyWarning.ack_due_at,
    )
    red, yellow = EarlyWarning.level == Level.RED, EarlyWarning.level == Level.YELLOW

    def count(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)

    rows = session.execute(
        select(
            key,
            count(active, yellow),
            count(active, red),
            count(opened, yellow),
            count(opened, red),
            count(due),
            count(kept),
        )
        .where(*scope, or_(active, opened, due))
        .group_by(key)
    )
    out: dict[str | int, WindowCount] = {}
    for row in rows:
        out[row[0]] = WindowCount(row[0], *(int(n) for n in row[1:]))
    return out
