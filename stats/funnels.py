"""The conversion funnel from need to disbursement, and the institutions' board."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from core.sql import duration_us, grouped_medians
from matching.models import Lead, LeadStatus, Loan, Need, NeedStatus
from products.models import Institution
from stats.figures import loan_plan, run_plans, single, window_header
from stats.statements import LOAN_COLUMNS, lead_figures
from stats.windows import (
    RATE_PLACES,
    Keyed,
    Window,
    amount_text,
    hours_from_microseconds,
    in_region,
    ratio,
)

FUNNEL_STEPS = ("needs", "matched", "claimed", "contacted", "approved", "disbursed")
LEAD_FUNNEL_STEPS = ("pushed", "claimed", "contacted", "approved", "disbursed")


# The first time a need's or lead's lead reached 'contacted' or 'approved' (and a lead's decision),
# kept by the database from the status events (matching.models, NEED_WINDOW_COLUMNS): a column of the
# row instead of a probe of the events for each need and lead.
_NEED_FIRST = {"contacted": Need.contacted_at, "approved": Need.approved_at}
_LEAD_FIRST = {"contacted": Lead.contacted_at, "approved": Lead.approved_at}


def need_reached(step: str) -> ColumnElement[bool]:
    """The need has at least one lead that reached `step` (ever, up to now)."""
    if step == "matched":
        return exists().where(Lead.need_id == Need.id)
    if step == "claimed":
        return exists().where(Lead.need_id == Need.id, Lead.claimed_at.is_not(None))
    if step in _NEED_FIRST:
        return _NEED_FIRST[step].is_not(None)
    if step == "disbursed":
        return exists().where(Loan.need_id == Need.id)
    raise ValueError(step)


def _lead_reached(step: str) -> ColumnElement[bool]:
    if step == "claimed":
        return Lead.claimed_at.is_not(None)
    if step in _LEAD_FIRST:
        return _LEAD_FIRST[step].is_not(None)
    if step == "disbursed":
        return exists().where(Loan.lead_id == Lead.id)
    raise ValueError(step)


def _steps(counts: Sequence[int], names: Sequence[str]) -> list[dict[str, Any]]:
    first = counts[0] if counts else 0
    result = []
    for i, (name, count) in enumerate(zip(names, counts, strict=True)):
        result.append(
            {
                "step": name,
                "count": count,
                "conversion": ratio(count, counts[i - 1]) if i else None,
                "overall": ratio(count, first),
            }
        )
    return result


def _one_row(statement: Any, session: Session) -> Any:
    return session.execute(statement).one()


def funnel(session: Session, window: Window) -> dict[str, Any]:
    """The needs submitted in the window followed to disbursement, and the leads pushed in the window."""
    start, end = window.bounds()
    # Needs and leads carry their borrower's county (BorrowerCopy): the funnel reads them alone.
    need_region = in_region(window, Need)

    def needs_reaching(steps: Sequence[str]) -> Any:
        return select(
            *[func.count(Need.id) if step == "needs" else func.count(case((need_reached(step), Need.id)))
              for step in steps]
        ).where(Need.submitted_at >= start, Need.submitted_at < end, *need_region)  # fmt: skip

    # Probing each need's leads and its loan is most of the funnel's work: the probes of the leads and
    # the rest are two statements, run side by side (core.lanes).
    probing_leads = ("matched", "claimed")
    need_parts = (probing_leads, tuple(step for step in FUNNEL_STEPS if step not in probing_leads))
    leads = select(
        func.count(Lead.id),
        *[func.count(case((_lead_reached(step), Lead.id))) for step in LEAD_FUNNEL_STEPS[1:]],
    ).where(Lead.pushed_at >= start, Lead.pushed_at < end, *in_region(window, Lead))
    outcomes = (
        select(Need.status, func.count(Need.id))
        .where(Need.submitted_at >= start, Need.submitted_at < end, *need_region)
        .group_by(Need.status)
    )
    probed, rest, lead_counts, by_status = run_plans(
        session,
        *[single(partial(_one_row, needs_reaching(steps))) for steps in need_parts],
        single(lambda s: s.execute(leads).one()),
        single(lambda s: dict(s.execute(outcomes).all())),
    )
    reached = dict(zip(need_parts[0], probed, strict=True)) | dict(zip(need_parts[1], rest, strict=True))
    return {
        **window_header(window),
        "steps": _steps([reached[step] for step in FUNNEL_STEPS], FUNNEL_STEPS),
        "lead_steps": _steps(list(lead_counts), LEAD_FUNNEL_STEPS),
        "outcomes": {status.value: by_status.get(status.value, 0) for status in NeedStatus},
    }


def sla_breach() -> ColumnElement[bool]:
    return or_(
        Lead.status == LeadStatus.EXPIRED.value,
        and_(Lead.claimed_at.is_not(None), Lead.sla_due_at.is_not(None), Lead.claimed_at > Lead.sla_due_at),
    )


def institution_board(session: Session, window: Window) -> dict[str, Any]:
    """Per institution: responsiveness (hours to claim and to decision, SLA breaches), approval rate,
    loans, average rate and first-loan borrowers, for leads pushed and loans disbursed in the window."""
    start, end = window.bounds()
    decided = Lead.decided_at.is_not(None)
    approved = Lead.approved_at.is_not(None)
    # The lead carries its borrower's county (BorrowerCopy): the board reads leads alone.
    base = select(Lead.institution_id).where(
        Lead.pushed_at >= start, Lead.pushed_at < end, *in_region(window, Lead)
    )
    responsiveness = base.add_columns(
        func.count(case((sla_breach(), Lead.id))),
        func.count(case((decided, Lead.id))),
        func.count(case((approved, Lead.id))),
    ).group_by(Lead.institution_id)
    decision_times = base.add_columns(duration_us(Lead.decided_at, Lead.pushed_at)).where(decided)
    loans, leads, extra, decision_medians, institutions = run_plans(
        session,
        loan_plan(window, Keyed(Loan.institution_id)),
        single(lambda s: lead_figures(s, window, Keyed(Lead.institution_id))),
        single(lambda s: {row[0]: row[1:] for row in s.execute(responsiveness)}),
        single(lambda s: grouped_medians(s, decision_times)),
        single(
            lambda s: s.execute(
                select(Institution.id, Institution.code, Institution.name).order_by(Institution.code)
            ).all()
        ),
    )
    items = []
    for institution_id, code, name in institutions:
        pushed, claimed, claim_median = leads.get(institution_id, (0, 0, None))
        breaches, decided_count, approved_count = extra.get(institution_id, (0, 0, 0))
        loan = dict(zip(LOAN_COLUMNS, loans[institution_id], strict=True)) if institution_id in loans else {}
        loans_count = loan.get("loans", 0)
        loans_amount = Decimal(loan.get("loans_amount") or 0)
        if not (pushed or loans_count):
            continue
        items.append(
            {
                "code": code,
                "name": name,
                "leads_pushed": pushed,
                "leads_claimed": claimed,
                "median_hours_to_claim": hours_from_microseconds(claim_median),
                "median_hours_to_decision": hours_from_microseconds(decision_medians.get(institution_id)),
                "sla_breaches": breaches,
                "sla_breach_rate": ratio(breaches, pushed),
                "decided": decided_count,
                "approved": approved_count,
                "approval_rate": ratio(approved_count, decided_count),
                "loans": loans_count,
                "loans_amount": amount_text(loans_amount),
                "avg_rate": ratio(Decimal(loan.get("rate_weighted") or 0), loans_amount, RATE_PLACES),
                "first_loan_borrowers": loan.get("first_loan_borrowers", 0),
                "credit_loan_share": ratio(Decimal(loan.get("credit_amount") or 0), loans_amount),
                "renewal_loans": loan.get("renewal_loans", 0),
            }
        )
    return {**window_header(window), "items": items}
