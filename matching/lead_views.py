"""The read model's views of a lead (matching.inbox reads them): what one officer of the lead's
institution may see of it, as frozen dataclasses for the web pages and the JSON API alike.

The policy lives in matching.inbox's statement: `borrower`, `purpose` and `contact_phone` are filled only
for the officer who claimed the lead; everyone else sees the anonymised profile.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from matching.loans import Declarations
from matching.models import LoanPerformance


def size_band(employees: int | None) -> str | None:
    """The band an officer sees instead of the head count before the claim."""
    if employees is None:
        return None
    if employees < 10:
        return "micro"
    if employees < 100:
        return "small"
    return "medium"


@dataclass(frozen=True)
class AnonymisedProfile:
    """What any officer of the institution sees of the borrower: bands, never names, codes or contacts."""

    kind: str
    region_code: str
    industry_section: str | None
    size_band: str | None
    score_band: str | None


@dataclass(frozen=True)
class BorrowerIdentity:
    """Who the borrower is: for the officer who claimed the lead only."""

    id: int
    kind: str
    name: str
    uscc: str | None
    id_number: str | None
    region_code: str
    industry_code: str
    established_on: dt.date | None
    employees: int | None


@dataclass(frozen=True)
class InstitutionRef:
    code: str
    name: str


@dataclass(frozen=True)
class ProductRef:
    id: int
    name: str


@dataclass(frozen=True)
class PerformanceView:
    """A report on a loan's overdue performance, with its reporter's username."""

    id: int
    lead_id: int
    loan_id: int
    as_of: dt.date
    overdue_30: bool
    overdue_90: bool
    reported_at: dt.datetime
    reported_by: str | None

    @classmethod
    def of(cls, report: LoanPerformance, *, lead_id: int, reported_by: str | None) -> PerformanceView:
        return cls(
            id=report.id,
            lead_id=lead_id,
            loan_id=report.loan_id,
            as_of=report.as_of,
            overdue_30=report.overdue_30,
            overdue_90=report.overdue_90,
            reported_at=report.reported_at,
            reported_by=reported_by,
        )


@dataclass(frozen=True)
class LoanView:
    amount: Decimal
    rate: Decimal
    term_months: int
    collateral: str
    disbursed_on: dt.date
    first_loan_borrower: bool
    renewal_without_repayment: bool
    performance: tuple[PerformanceView, ...]
    # The last day the claiming officer may correct it (matching.loans.correctable_until).
    correctable_until: dt.date


@dataclass(frozen=True)
class LeadEvent:
    """One entry of a lead's history: a status change, a note, a hand-over, a loan correction.

    `note` is None where the lead is in a colleague's hands (their notes are theirs to read).
    """

    at: dt.datetime
    kind: str
    from_status: str | None
    to_status: str
    actor: str | None
    note: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class LeadView:
    """A lead as one officer of its institution may see it.

    `borrower`, `purpose` and `contact_phone` are None unless the officer claimed the lead (`disclosed`).
    """

    id: int
    status: str
    need_id: int
    institution: InstitutionRef
    product: ProductRef
    amount: Decimal
    term_months: int
    collateral: str
    purpose: str | None
    is_renewal: bool
    pushed_at: dt.datetime
    sla_due_at: dt.datetime | None
    claimed_at: dt.datetime | None
    claimed_by: str | None
    reason_code: str | None
    stale_flagged_at: dt.datetime | None
    explanation: dict[str, Any] | None
    profile: AnonymisedProfile
    borrower: BorrowerIdentity | None
    contact_phone: str | None
    loan: LoanView | None
    # On a lead's own page (officer_lead) only: its history, and what the borrower declared (disclosed).
    events: tuple[LeadEvent, ...] = ()
    declarations: Declarations | None = None

    @property
    def disclosed(self) -> bool:
        """The officer sees who the borrower is: they claimed this lead."""
        return self.borrower is not None

    @property
    def claimed_by_colleague(self) -> bool:
        """Another officer of the institution holds the lead."""
        return self.claimed_by is not None and not self.disclosed


@dataclass(frozen=True)
class LeadPage:
    items: tuple[LeadView, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))
