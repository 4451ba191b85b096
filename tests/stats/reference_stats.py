"""An independent, plain-Python recomputation of every statistic from the raw rows (docs/metrics.md).

Deliberately shares no code with the statistics package beyond the model classes and
core.reference.industry_section (which *is* the definition the SQL expression must reproduce).
"""

from __future__ import annotations

import datetime as dt
from calendar import monthrange
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import StatusEvent
from core.reference import industry_section
from core.types import SHANGHAI
from credit_profile.models import Borrower
from matching.models import Lead, Loan, Need
from products.models import Institution, Product

LINE = Decimal("10000000")
FINAL = {"disbursed", "rejected", "withdrawn"}


@dataclass
class Raw:
    borrowers: dict[int, Borrower]
    needs: list[Need]
    leads: list[Lead]
    loans: list[Loan]
    events: list[StatusEvent]
    institutions: dict[int, Institution]
    products: dict[int, Product]


def load(session: Session) -> Raw:
    session.flush()
    return Raw(
        borrowers={b.id: b for b in session.scalars(select(Borrower))},
        needs=list(session.scalars(select(Need))),
        leads=list(session.scalars(select(Lead))),
        loans=list(session.scalars(select(Loan))),
        events=list(session.scalars(select(StatusEvent))),
        institutions={i.id: i for i in session.scalars(select(Institution))},
        products={p.id: p for p in session.scalars(select(Product))},
    )


def share(n: Any, d: Any, places: str = "0.0001") -> str | None:
    if not d:
        return None
    return str((Decimal(n) / Decimal(d)).quantize(Decimal(places), rounding=ROUND_HALF_UP))


def money(value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def local_date(instant: dt.datetime) -> dt.date:
    return instant.astimezone(SHANGHAI).date()


def median_hours(durations: list[int]) -> float | None:
    if not durations:
        return None
    ordered = sorted(durations)
    n = len(ordered)
    middle = Fraction(ordered[n // 2]) if n % 2 else Fraction(ordered[n // 2 - 1] + ordered[n // 2], 2)
    hours = Decimal(middle.numerator) / Decimal(middle.denominator) / Decimal(3_600_000_000)
    return float(hours.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def micros(later: dt.datetime, earlier: dt.datetime) -> int:
    return (later - earlier) // dt.timedelta(microseconds=1)


def add_months(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


class Reference:
    """Selections and figures over one window and region."""

    def __init__(self, raw: Raw, first: dt.date, last: dt.date, county: str | None) -> None:
        self.raw, self.first, self.last, self.county = raw, first, last, county

    def borrower_of_need(self, need: Need) -> Borrower:
        return self.raw.borrowers[need.borrower_id]

    def in_region(self, borrower: Borrower) -> bool:
        return self.county is None or borrower.region_code == self.county

    def in_days(self, day: dt.date) -> bool:
        return self.first <= day <= self.last

    def needs(self) -> list[Need]:
        return [
            n for n in self.raw.needs
            if self.in_days(local_date(n.submitted_at)) and self.in_region(self.borrower_of_need(n))
        ]  # fmt: skip

    def leads(self) -> list[Lead]:
        needs = {n.id: n for n in self.raw.needs}
        return [
            lead for lead in self.raw.leads
            if self.in_days(local_date(lead.pushed_at)) and self.in_region(self.borrower_of_need(needs[lead.need_id]))
        ]  # fmt: skip

    def loans(self) -> list[Loan]:
        return [
            loan for loan in self.raw.loans
            if self.in_days(loan.disbursed_on) and self.in_region(self.raw.borrowers[loan.borrower_id])
        ]  # fmt: skip

    def borrower_totals(
        self, bucket: Callable[[Loan], Any] = lambda _loan: None
    ) -> dict[tuple[int, Any], Decimal]:
        totals: dict[tuple[int, Any], Decimal] = {}
        for loan in self.raw.loans:  # every region: the borrower's own total decides
            if self.in_days(loan.disbursed_on):
                key = (loan.borrower_id, bucket(loan))
                totals[key] = totals.get(key, Decimal(0)) + loan.amount
        return totals

    def figures(
        self,
        needs: Iterable[Need] | None,
        leads: Iterable[Lead] | None,
        loans: Iterable[Loan] | None,
        totals: dict[tuple[int, Any], Decimal],
        bucket: Callable[[Loan], Any] = lambda _loan: None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if needs is None:
            out.update(dict.fromkeys(("needs", "needs_amount", "renewal_requests", "renewal_success_rate")))
        else:
            needs = list(needs)
            renewal = [n for n in needs if n.is_renewal]
            final = [n for n in renewal if n.status in FINAL]
            out.update(
                needs=len(needs),
                needs_amount=money(sum((n.amount for n in needs), Decimal(0))),
                renewal_requests=len(renewal),
                renewal_success_rate=share(sum(n.status == "disbursed" for n in final), len(final)),
            )
        if leads is None:
            out.update(leads_pushed=None, leads_claimed=None, median_hours_to_claim=None)
        else:
            leads = list(leads)
            claimed = [lead for lead in leads if lead.claimed_at is not None]
            out.update(
                leads_pushed=len(leads),
                leads_claimed=len(claimed),
                median_hours_to_claim=median_hours([micros(x.claimed_at, x.pushed_at) for x in claimed]),
            )
        if loans is None:
            return out
        loans = list(loans)
        amount = sum((x.amount for x in loans), Decimal(0))
        kind = {x.id: self.raw.borrowers[x.borrower_id].kind for x in loans}
        business = [x for x in loans if kind[x.id] in ("enterprise", "individual_business")]
        pboc = [x for x in business if totals[(x.borrower_id, bucket(x))] < LINE]
        nfra = [x for x in business if totals[(x.borrower_id, bucket(x))] <= LINE]
        first = [x for x in loans if x.first_loan_borrower]
        renewal = [x for x in loans if x.renewal_without_repayment]
        credit = [x for x in loans if x.collateral == "credit"]
        farmer = [x for x in loans if kind[x.id] == "farmer"]
        borrowers = {x.borrower_id for x in loans}
        first_borrowers = {x.borrower_id for x in first}
        total = lambda rows: sum((x.amount for x in rows), Decimal(0))  # noqa: E731
        out.update(
            loans=len(loans),
            loans_amount=money(amount),
            borrowers=len(borrowers),
            first_loan_borrowers=len(first_borrowers),
            first_loan_share=share(len(first_borrowers), len(borrowers)),
            first_loan_loans=len(first),
            first_loan_amount=money(total(first)),
            renewal_loans=len(renewal),
            renewal_amount=money(total(renewal)),
            credit_loans=len(credit),
            credit_amount=money(total(credit)),
            credit_loan_share=share(total(credit), amount),
            avg_rate=share(sum((x.amount * x.rate for x in loans), Decimal(0)), amount, "0.01"),
            inclusive_loans_pboc=len(pboc),
            inclusive_loans_nfra=len(nfra),
            inclusive_amount_pboc=money(total(pboc)),
            inclusive_amount_nfra=money(total(nfra)),
            inclusive_borrowers_pboc=len({x.borrower_id for x in pboc}),
            inclusive_borrowers_nfra=len({x.borrower_id for x in nfra}),
            farmer_loans=len(farmer),
            farmer_amount=money(total(farmer)),
        )
        return out

    # --- keys of the dimensions ---------------------------------------------------------------

    def need_keys(self, by: str, need: Need) -> list[Any] | None:
        borrower = self.borrower_of_need(need)
        return self._borrower_keys(by, borrower)

    def _borrower_keys(self, by: str, borrower: Borrower) -> list[Any] | None:
        if by == "county":
            return [borrower.region_code]
        if by == "kind":
            return [borrower.kind]
        if by == "industry":
            return [industry_section(borrower.industry_code)]
        return None

    def lead_keys(self, by: str, lead: Lead) -> list[Any]:
        need = next(n for n in self.raw.needs if n.id == lead.need_id)
        keys = self._borrower_keys(by, self.borrower_of_need(need))
        if keys is not None:
            return keys
        if by == "institution":
            return [self.raw.institutions[lead.institution_id].code]
        return list(self.raw.products[lead.product_id].tags)

    def loan_keys(self, by: str, loan: Loan) -> list[Any]:
        keys = self._borrower_keys(by, self.raw.borrowers[loan.borrower_id])
        if keys is not None:
            return keys
        if by == "institution":
            return [self.raw.institutions[loan.institution_id].code]
        return list(self.raw.products[loan.product_id].tags)

    def breakdown(self, by: str) -> dict[Any, dict[str, Any]]:
        needs, leads, loans = self.needs(), self.leads(), self.loans()
        totals = self.borrower_totals()
        attributable = by in ("county", "kind", "industry")
        keys: set[Any] = set()
        for n in needs if attributable else []:
            keys.update(self.need_keys(by, n) or [])
        for lead in leads:
            keys.update(self.lead_keys(by, lead))
        for loan in loans:
            keys.update(self.loan_keys(by, loan))
        return {
            key: self.figures(
                [n for n in needs if key in (self.need_keys(by, n) or [])] if attributable else None,
                [x for x in leads if key in self.lead_keys(by, x)],
                [x for x in loans if key in self.loan_keys(by, x)],
                totals,
            )
            for key in keys
        }

    def summary(self) -> dict[str, Any]:
        return self.figures(self.needs(), self.leads(), self.loans(), self.borrower_totals())

    def timeseries(self) -> dict[str, dict[str, Any]]:
        month = lambda day: day.strftime("%Y-%m")  # noqa: E731
        bucket = lambda loan: month(loan.disbursed_on)  # noqa: E731
        needs, leads, loans = self.needs(), self.leads(), self.loans()
        totals = self.borrower_totals(bucket)
        result = {}
        day = self.first
        while day <= self.last:
            key = month(day)
            result[key] = self.figures(
                [n for n in needs if month(local_date(n.submitted_at)) == key],
                [x for x in leads if month(local_date(x.pushed_at)) == key],
                [x for x in loans if bucket(x) == key],
                totals,
                bucket,
            )
            day = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        return result

    def funnel(self) -> tuple[list[int], list[int]]:
        needs = self.needs()
        events = {(e.entity_id, e.to_status) for e in self.raw.events if e.entity_type == "lead"}
        loan_leads = {x.lead_id for x in self.raw.loans}

        def lead_reached(lead: Lead, step: str) -> bool:
            if step == "pushed":
                return True
            if step == "claimed":
                return lead.claimed_at is not None
            if step == "disbursed":
                return lead.id in loan_leads
            return (lead.id, step) in events

        leads_of = {n.id: [x for x in self.raw.leads if x.need_id == n.id] for n in needs}
        need_counts = [len(needs)]
        for step in ("pushed", "claimed", "contacted", "approved", "disbursed"):
            need_counts.append(sum(any(lead_reached(x, step) for x in leads_of[n.id]) for n in needs))
        leads = self.leads()
        lead_counts = [
            sum(lead_reached(x, step) for x in leads)
            for step in ("pushed", "claimed", "contacted", "approved", "disbursed")
        ]
        return need_counts, lead_counts

    def maturing_loans(self) -> list[Loan]:
        return [
            x for x in self.raw.loans
            if self.in_days(add_months(x.disbursed_on, x.term_months)) and self.in_region(self.raw.borrowers[x.borrower_id])
        ]  # fmt: skip
