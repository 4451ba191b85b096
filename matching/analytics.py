"""Monitoring for the finance offices beyond the summary (docs/metrics.md): time series, breakdowns,
the funnel, the institutions' board, the assessment indicators against last year, maturities, and the
rows behind any figure. Pure SQL through SQLAlchemy; every function takes the session first.

Identities in drill-down rows are masked for every viewer of the statistics: finance offices see a
firm's registered name, never a full USCC or resident ID, and only the first character of a farmer's
name (a natural person's name is personal information).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    SQLColumnExpression,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from core.identifiers import mask_identifier, mask_name
from core.reference import BORROWER_KINDS, INDUSTRY_SECTIONS, PRODUCT_TAGS, REGIONS
from core.types import SHANGHAI
from credit_profile.models import Borrower, BorrowerKind
from matching.models import FINAL_NEED_STATUSES, Lead, LeadStatus, Loan, Need, NeedStatus
from matching.sqlfuncs import add_months, duration_us, grouped_medians
from matching.stats import (
    BUSINESS_KINDS,
    CREDIT,
    INCLUSIVE_LINE,
    LOAN_COLUMNS,
    RATE_PLACES,
    SHARE_PLACES,
    Grouping,
    Keyed,
    Window,
    figures,
    figures_plan,
    figures_with_total,
    hours_from_microseconds,
    in_region,
    lead_figures,
    loan_plan,
    ratio,
    run_plans,
    single,
    summary_of,
    window_header,
)
from products.models import Institution, Product

DIMENSIONS = ("county", "institution", "industry", "kind", "tag")
MATURITY_BANDS = ((0, 30), (31, 60), (61, 90))
MAX_DRILLDOWN_ROWS = 50_000


class NotAttributableError(ValueError):
    """A figure asked for by a dimension its rows cannot be attributed to (needs by institution)."""


# --- dimensions --------------------------------------------------------------------------------


def _borrowers(attribute: str, keys: Sequence[Hashable]) -> Grouping:
    """Grouped by an attribute of the borrower, read from each need's, lead's and loan's copy of it
    (matching.models.BorrowerCopy), so that no statement joins the borrowers."""
    return Grouping(
        need=Keyed(getattr(Need, attribute), on_borrower=True),
        lead=Keyed(getattr(Lead, attribute), on_borrower=True),
        loan=Keyed(getattr(Loan, attribute), on_borrower=True),
        keys=keys,
    )


def tag_products(session: Session) -> dict[str, list[int]]:
    """tag -> ids of the products (any status) that carry it."""
    result: dict[str, list[int]] = {tag: [] for tag in PRODUCT_TAGS}
    for product_id, tags in session.execute(select(Product.id, Product.tags).order_by(Product.id)):
        for tag in tags or []:
            result.setdefault(tag, []).append(product_id)
    return result


def _tag_map(session: Session) -> FromClause:
    """(product_id, tag) pairs as a derived table: a product counts under each of its tags."""
    parts = [
        select(Product.id.label("product_id"), literal(tag).label("tag")).where(Product.id.in_(ids))
        for tag, ids in tag_products(session).items()
        if ids
    ]
    if not parts:
        return select(Product.id.label("product_id"), literal("").label("tag")).where(false()).subquery()
    return union_all(*parts).subquery("product_tags") if len(parts) > 1 else parts[0].subquery("product_tags")


def grouping_for(session: Session, by: str, window: Window) -> tuple[Grouping, dict[Any, str]]:
    """The grouping of a breakdown dimension and the labels of its keys. Raises ValueError."""
    if by == "county":
        keys = [window.county] if window.county else list(REGIONS)
        return _borrowers("region_code", keys), dict(REGIONS)
    if by == "kind":
        return _borrowers("borrower_kind", list(BORROWER_KINDS)), dict(BORROWER_KINDS)
    if by == "industry":
        return _borrowers("industry_section", list(INDUSTRY_SECTIONS)), dict(INDUSTRY_SECTIONS)
    if by == "institution":
        institutions = session.execute(
            select(Institution.code, Institution.name).order_by(Institution.code)
        ).all()
        lead = Keyed(
            Institution.code, ((Institution, Institution.id == Lead.institution_id),), exclusive=True
        )
        loan = Keyed(
            Institution.code, ((Institution, Institution.id == Loan.institution_id),), exclusive=True
        )
        return Grouping(need=None, lead=lead, loan=loan, keys=[c for c, _ in institutions]), dict(
            institutions
        )
    if by == "tag":
        tags = _tag_map(session)
        lead = Keyed(tags.c.tag, ((tags, tags.c.product_id == Lead.product_id),))
        loan = Keyed(tags.c.tag, ((tags, tags.c.product_id == Loan.product_id),))
        return Grouping(need=None, lead=lead, loan=loan, keys=list(PRODUCT_TAGS)), dict(PRODUCT_TAGS)
    raise ValueError(by)


def breakdown(session: Session, window: Window, by: str) -> dict[str, Any]:
    """The summary's figures per key of the dimension `by` (county, institution, industry, kind, tag).

    Need figures are null where needs cannot be attributed (institution, tag). Raises ValueError for an
    unknown dimension.
    """
    grouping, labels = grouping_for(session, by, window)
    rows, total = figures_with_total(session, window, grouping)
    items = [{"key": key, "label": labels.get(key) if key is not None else None, **values}
             for key, values in rows.items()]  # fmt: skip
    return {**window_header(window), "by": by, "items": items, "total": total}


# --- time series -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    key: str
    first: dt.date
    last: dt.date


def months(window: Window) -> list[Period]:
    """The calendar months the window touches, each clipped to the window."""
    periods = []
    start = window.first
    while start <= window.last:
        following = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        last = min(following - dt.timedelta(days=1), window.last)
        periods.append(Period(start.strftime("%Y-%m"), start, last))
        start = following
    return periods


def _bucket(
    column: SQLColumnExpression[Any], bounds: Sequence[tuple[Any, str]], last_key: str
) -> ColumnElement[Any]:
    """The key of the first bound the value lies below; rows are already limited to the window."""
    if not bounds:
        return literal(last_key)
    return case(*[(column < bound, literal(key)) for bound, key in bounds], else_=literal(last_key))


def timeseries(session: Session, window: Window) -> dict[str, Any]:
    """Every figure per calendar month of the window; each point equals the summary of its month."""
    periods = months(window)
    instant_bounds = [(Window(p.first, p.last).bounds()[1], p.key) for p in periods[:-1]]
    day_bounds = [(p.last + dt.timedelta(days=1), p.key) for p in periods[:-1]]
    last = periods[-1].key
    grouping = Grouping(
        need=Keyed(_bucket(Need.submitted_at, instant_bounds, last)),
        lead=Keyed(_bucket(Lead.pushed_at, instant_bounds, last)),
        loan=Keyed(_bucket(Loan.disbursed_on, day_bounds, last)),
        loan_total_by_key=True,
        keys=[p.key for p in periods],
    )
    rows = figures(session, window, grouping)
    items = [
        {"period": p.key, "from": p.first.isoformat(), "to": p.last.isoformat(), **rows[p.key]}
        for p in periods
    ]
    return {**window_header(window), "items": items}


# --- funnel ------------------------------------------------------------------------------------

FUNNEL_STEPS = ("needs", "matched", "claimed", "contacted", "approved", "disbursed")
LEAD_FUNNEL_STEPS = ("pushed", "claimed", "contacted", "approved", "disbursed")


# The first time a need's or lead's lead reached 'contacted' or 'approved' (and a lead's decision),
# kept by the database from the status events (matching.models, NEED_WINDOW_COLUMNS): a column of the
# row instead of a probe of the events for each need and lead.
_NEED_FIRST = {"contacted": Need.contacted_at, "approved": Need.approved_at}
_LEAD_FIRST = {"contacted": Lead.contacted_at, "approved": Lead.approved_at}


def _need_reached(step: str) -> ColumnElement[bool]:
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
            *[func.count(Need.id) if step == "needs" else func.count(case((_need_reached(step), Need.id)))
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


# --- institutions' board -----------------------------------------------------------------------


def _sla_breach() -> ColumnElement[bool]:
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
        func.count(case((_sla_breach(), Lead.id))),
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
                "loans_amount": _money(loans_amount),
                "avg_rate": ratio(Decimal(loan.get("rate_weighted") or 0), loans_amount, RATE_PLACES),
                "first_loan_borrowers": loan.get("first_loan_borrowers", 0),
                "credit_loan_share": ratio(Decimal(loan.get("credit_amount") or 0), loans_amount),
                "renewal_loans": loan.get("renewal_loans", 0),
            }
        )
    return {**window_header(window), "items": items}


def _money(value: Decimal | float | int | None) -> str:
    return str(Decimal(value or 0).quantize(RATE_PLACES, rounding=ROUND_HALF_UP))


# --- indicators against the same period last year ---------------------------------------------

# (figure, kind): kind decides how the change is shown: counts and amounts get a growth rate.
INDICATORS: tuple[tuple[str, str], ...] = (
    ("first_loan_borrowers", "count"),
    ("first_loan_share", "share"),
    ("first_loan_amount", "amount"),
    ("needs", "count"),
    ("loans", "count"),
    ("loans_amount", "amount"),
    ("borrowers", "count"),
    ("renewal_requests", "count"),
    ("renewal_success_rate", "share"),
    ("renewal_loans", "count"),
    ("renewal_amount", "amount"),
    ("credit_loan_share", "share"),
    ("avg_rate", "rate"),
    ("median_hours_to_claim", "hours"),
    ("inclusive_loans_pboc", "count"),
    ("inclusive_loans_nfra", "count"),
    ("inclusive_amount_pboc", "amount"),
    ("inclusive_amount_nfra", "amount"),
    ("inclusive_borrowers_pboc", "count"),
    ("inclusive_borrowers_nfra", "count"),
    ("farmer_loans", "count"),
    ("farmer_amount", "amount"),
)


def same_period_last_year(window: Window) -> Window:
    def back(day: dt.date) -> dt.date:
        try:
            return day.replace(year=day.year - 1)
        except ValueError:  # 29 February
            return day.replace(year=day.year - 1, day=28)

    return Window(back(window.first), back(window.last), window.region_code)


def indicators(session: Session, window: Window) -> dict[str, Any]:
    """The assessment indicators for the window next to the same period a year earlier."""
    return overview(session, window)[1]


def overview(session: Session, window: Window) -> tuple[dict[str, Any], dict[str, Any]]:
    """The summary of the window and its indicators (indicators()), from one run of the statements."""
    previous_window = same_period_last_year(window)
    now_figures, then_figures = run_plans(session, figures_plan(window), figures_plan(previous_window))
    current, previous = now_figures[None], then_figures[None]
    items = []
    for name, kind in INDICATORS:
        now, then = current[name], previous[name]
        change: str | None = None
        growth: str | None = None
        if now is not None and then is not None:
            difference = Decimal(str(now)) - Decimal(str(then))
            places = {"share": SHARE_PLACES, "count": Decimal(1)}.get(kind, RATE_PLACES)
            change = str(difference.quantize(places, rounding=ROUND_HALF_UP))
            if kind in ("count", "amount"):
                growth = ratio(difference, Decimal(str(then)))
        items.append(
            {
                "code": name,
                "kind": kind,
                "value": None if now is None else str(now),
                "previous": None if then is None else str(then),
                "change": change,
                "growth": growth,
            }
        )
    return summary_of(window, current), {
        **window_header(window),
        "previous_from": previous_window.first.isoformat(),
        "previous_to": previous_window.last.isoformat(),
        "items": items,
    }


# --- maturities --------------------------------------------------------------------------------

RENEWAL_STATES: dict[str, str] = {
    NeedStatus.SUBMITTED.value: "requested",
    NeedStatus.MATCHED.value: "requested",
    NeedStatus.IN_PROGRESS.value: "requested",
    NeedStatus.UNMATCHED.value: "unmatched",
    NeedStatus.DISBURSED.value: "renewed",
    NeedStatus.REJECTED.value: "rejected",
    NeedStatus.WITHDRAWN.value: "withdrawn",
}
RENEWAL_STATE_ORDER = ("none", "requested", "unmatched", "renewed", "rejected", "withdrawn")


def loan_maturity() -> ColumnElement[dt.date]:
    return add_months(Loan.disbursed_on, Loan.term_months)


def _latest_renewal_status() -> ColumnElement[str | None]:
    """Status of the borrower's latest renewal need submitted after the loan was recorded."""
    later = aliased(Need)
    return (
        select(later.status)
        .where(
            later.borrower_id == Loan.borrower_id,
            later.is_renewal.is_(True),
            later.submitted_at > Loan.created_at,
        )
        .order_by(later.submitted_at.desc(), later.id.desc())
        .limit(1)
        .correlate(Loan)
        .scalar_subquery()
    )


def _band(column: SQLColumnExpression[Any], origin: dt.date) -> ColumnElement[str]:
    whens = [(column <= origin + dt.timedelta(days=hi), literal(f"{lo}-{hi}")) for lo, hi in MATURITY_BANDS]
    return case(*whens, else_=literal(f"{MATURITY_BANDS[-1][1]}+"))


def band_of(day: dt.date, origin: dt.date) -> str:
    """The maturity band of a date counted in days from the window's first day."""
    days = (day - origin).days
    for lo, hi in MATURITY_BANDS:
        if days <= hi:
            return f"{lo}-{hi}"
    return f"{MATURITY_BANDS[-1][1]}+"


def maturities(session: Session, window: Window) -> dict[str, Any]:
    """Renewal needs' stated maturities and platform loans' maturities (disbursed_on + term) that fall in
    the window, by band of days from its first day and by renewal status."""
    needs = (
        select(
            _band(Need.renewal_matures_on, window.first).label("band"),
            Need.status.label("status"),
            Need.renewal_current_amount.label("amount"),
        )
        .join(Borrower, Borrower.id == Need.borrower_id)
        .where(
            Need.is_renewal.is_(True),
            Need.renewal_matures_on >= window.first,
            Need.renewal_matures_on <= window.last,
            *in_region(window),
        )
        .subquery()
    )
    maturity = loan_maturity()
    loans = (
        select(
            _band(maturity, window.first).label("band"),
            _latest_renewal_status().label("status"),
            Loan.amount.label("amount"),
        )
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .where(maturity >= window.first, maturity <= window.last, *in_region(window))
        .subquery()
    )
    counts: dict[tuple[str, str, str], list[Any]] = {}
    for source, sub in (("renewal_needs", needs), ("loans", loans)):
        for band, status, count, amount in session.execute(
            select(sub.c.band, sub.c.status, func.count(), func.sum(sub.c.amount)).group_by(
                sub.c.band, sub.c.status
            )
        ):
            state = "none" if status is None else RENEWAL_STATES.get(status, status)
            entry = counts.setdefault((source, band, state), [0, Decimal(0)])
            entry[0] += count
            entry[1] += Decimal(amount or 0)
    bands = [f"{lo}-{hi}" for lo, hi in MATURITY_BANDS] + [f"{MATURITY_BANDS[-1][1]}+"]
    items = [
        {
            "source": source,
            "band": band,
            "renewal_status": state,
            "count": value[0],
            "amount": _money(value[1]),
        }
        for source in ("renewal_needs", "loans")
        for band in bands
        for state in RENEWAL_STATE_ORDER
        if (value := counts.get((source, band, state)))
    ]
    return {**window_header(window), "items": items}


# --- drill-down --------------------------------------------------------------------------------

NEED_FIGURES = {
    "needs": None, "needs_amount": None, "renewal_requests": "renewal",
    "renewal_success_rate": "renewal_final",
    "funnel_matched": "matched", "funnel_claimed": "claimed", "funnel_contacted": "contacted",
    "funnel_approved": "approved", "funnel_disbursed": "disbursed", "maturing_needs": "maturing",
}  # fmt: skip
LEAD_FIGURES = {
    "leads_pushed": None, "leads_claimed": "claimed", "median_hours_to_claim": "claimed",
    "sla_breaches": "sla_breach",
}  # fmt: skip
LOAN_FIGURES = {
    "loans": None, "loans_amount": None, "borrowers": None, "avg_rate": None,
    "first_loan_borrowers": "first", "first_loan_share": "first", "first_loan_loans": "first",
    "first_loan_amount": "first", "renewal_loans": "renewal", "renewal_amount": "renewal",
    "credit_loan_share": "credit", "credit_loans": "credit", "credit_amount": "credit",
    "farmer_loans": "farmer", "farmer_amount": "farmer",
    "inclusive_loans_pboc": "pboc", "inclusive_amount_pboc": "pboc", "inclusive_borrowers_pboc": "pboc",
    "inclusive_loans_nfra": "nfra", "inclusive_amount_nfra": "nfra", "inclusive_borrowers_nfra": "nfra",
    "maturing_loans": "maturing",
}  # fmt: skip
DRILLDOWN_FIGURES = (*NEED_FIGURES, *LEAD_FIGURES, *LOAN_FIGURES)


def _group_condition(
    session: Session, family: str, by: str | None, key: str | None
) -> list[ColumnElement[bool]]:
    if by is None:
        return []
    if by == "county":
        return [Borrower.region_code == key]
    if by == "kind":
        return [Borrower.kind == key]
    if by == "industry":
        return [Borrower.industry_section == key]
    if family == "need":
        raise NotAttributableError(by)
    column = Lead if family == "lead" else Loan
    if by == "institution":
        return [column.institution_id.in_(select(Institution.id).where(Institution.code == key))]
    if by == "tag":
        return [column.product_id.in_(tag_products(session).get(key or "", []))]
    raise ValueError(by)


def _borrower(borrower: Borrower) -> dict[str, Any]:
    person = borrower.kind == BorrowerKind.FARMER.value
    return {
        "id": borrower.id,
        "kind": borrower.kind,
        "name": mask_name(borrower.name) if person else borrower.name,
        "uscc": mask_identifier(borrower.uscc),
        "id_number": mask_identifier(borrower.id_number),
        "region_code": borrower.region_code,
        "industry_code": borrower.industry_code,
    }


def _local_date(value: dt.datetime) -> dt.date:
    return value.astimezone(SHANGHAI).date()


def drilldown(
    session: Session,
    window: Window,
    figure: str,
    *,
    by: str | None = None,
    key: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """The needs, leads or loans behind a figure (with the breakdown key it was read under), newest
    first, identities masked, and their total. Raises ValueError for an unknown figure or dimension
    and NotAttributableError for need figures by institution or tag."""
    start, end = window.bounds()
    if figure in NEED_FIGURES:
        condition = NEED_FIGURES[figure]
        where = [*in_region(window), *_group_condition(session, "need", by, key)]
        if condition == "maturing":
            where += [
                Need.is_renewal.is_(True),
                Need.renewal_matures_on >= window.first,
                Need.renewal_matures_on <= window.last,
            ]
        else:
            where += [Need.submitted_at >= start, Need.submitted_at < end]
            if condition == "renewal":
                where.append(Need.is_renewal.is_(True))
            elif condition == "renewal_final":
                where += [Need.is_renewal.is_(True), Need.status.in_([s.value for s in FINAL_NEED_STATUSES])]
            elif condition is not None:
                where.append(_need_reached(condition))
        need_stmt = select(Need, Borrower).join(Borrower, Borrower.id == Need.borrower_id).where(*where)
        total = session.scalar(select(func.count()).select_from(need_stmt.subquery())) or 0
        rows = session.execute(
            need_stmt.order_by(Need.submitted_at.desc(), Need.id.desc()).limit(limit).offset(offset)
        )
        return [_need_row(need, borrower) for need, borrower in rows], total
    if figure in LEAD_FIGURES:
        condition = LEAD_FIGURES[figure]
        where = [Lead.pushed_at >= start, Lead.pushed_at < end, *in_region(window)]
        where += _group_condition(session, "lead", by, key)
        if condition == "claimed":
            where.append(Lead.claimed_at.is_not(None))
        elif condition == "sla_breach":
            where.append(_sla_breach())
        lead_stmt = (
            select(Lead, Need, Borrower, Institution, Product)
            .join(Need, Need.id == Lead.need_id)
            .join(Borrower, Borrower.id == Lead.borrower_id)
            .join(Institution, Institution.id == Lead.institution_id)
            .join(Product, Product.id == Lead.product_id)
            .where(*where)
        )
        total = (
            session.scalar(select(func.count()).select_from(lead_stmt.with_only_columns(Lead.id).subquery()))
            or 0
        )
        lead_rows = session.execute(
            lead_stmt.order_by(Lead.pushed_at.desc(), Lead.id.desc()).limit(limit).offset(offset)
        )
        return [_lead_row(*row) for row in lead_rows], total
    if figure in LOAN_FIGURES:
        return _loan_rows(session, window, LOAN_FIGURES[figure], by, key, limit, offset)
    raise ValueError(figure)


def _loan_rows(
    session: Session,
    window: Window,
    condition: str | None,
    by: str | None,
    key: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    maturity = loan_maturity()
    where = [*in_region(window), *_group_condition(session, "loan", by, key)]
    if condition == "maturing":
        where += [maturity >= window.first, maturity <= window.last]
    else:
        where += [Loan.disbursed_on >= window.first, Loan.disbursed_on <= window.last]
    stmt = (
        select(Loan, Borrower, Institution, Product, maturity.label("matures_on"))
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .join(Institution, Institution.id == Loan.institution_id)
        .join(Product, Product.id == Loan.product_id)
    )
    if condition in ("pboc", "nfra"):
        totals = (
            select(Loan.borrower_id.label("borrower_id"), func.sum(Loan.amount).label("total"))
            .where(Loan.disbursed_on >= window.first, Loan.disbursed_on <= window.last)
            .group_by(Loan.borrower_id)
            .subquery()
        )
        stmt = stmt.join(totals, totals.c.borrower_id == Loan.borrower_id)
        line = totals.c.total < INCLUSIVE_LINE if condition == "pboc" else totals.c.total <= INCLUSIVE_LINE
        where += [Borrower.kind.in_(BUSINESS_KINDS), line]
    elif condition == "first":
        where.append(Loan.first_loan_borrower.is_(True))
    elif condition == "renewal":
        where.append(Loan.renewal_without_repayment.is_(True))
    elif condition == "credit":
        where.append(Loan.collateral == CREDIT)
    elif condition == "farmer":
        where.append(Borrower.kind == BorrowerKind.FARMER.value)
    stmt = stmt.where(*where)
    total = session.scalar(select(func.count()).select_from(stmt.with_only_columns(Loan.id).subquery())) or 0
    order = (
        (maturity.asc(), Loan.id.asc())
        if condition == "maturing"
        else (Loan.disbursed_on.desc(), Loan.id.desc())
    )
    rows = session.execute(stmt.order_by(*order).limit(limit).offset(offset))
    return [_loan_row(*row) for row in rows], total


def _need_row(need: Need, borrower: Borrower) -> dict[str, Any]:
    return {
        "type": "need",
        "id": need.id,
        "date": _local_date(need.submitted_at),
        "status": need.status,
        "amount": need.amount,
        "term_months": need.term_months,
        "collateral": need.collateral,
        "is_renewal": need.is_renewal,
        "matures_on": need.renewal_matures_on,
        "borrower": _borrower(borrower),
        "institution": None,
        "product": None,
    }


def _lead_row(
    lead: Lead, need: Need, borrower: Borrower, institution: Institution, product: Product
) -> dict[str, Any]:
    return {
        "type": "lead",
        "id": lead.id,
        "need_id": need.id,
        "date": _local_date(lead.pushed_at),
        "status": lead.status,
        "amount": need.amount,
        "term_months": need.term_months,
        "collateral": need.collateral,
        "is_renewal": need.is_renewal,
        "pushed_at": lead.pushed_at,
        "claimed_at": lead.claimed_at,
        "sla_due_at": lead.sla_due_at,
        "borrower": _borrower(borrower),
        "institution": {"code": institution.code, "name": institution.name},
        "product": {"id": product.id, "name": product.name},
    }


def _loan_row(
    loan: Loan, borrower: Borrower, institution: Institution, product: Product, matures_on: dt.date | str
) -> dict[str, Any]:
    if isinstance(matures_on, str):  # SQLite returns the computed date as text
        matures_on = dt.date.fromisoformat(matures_on)
    return {
        "type": "loan",
        "id": loan.id,
        "need_id": loan.need_id,
        "date": loan.disbursed_on,
        "status": LeadStatus.DISBURSED.value,
        "amount": loan.amount,
        "rate": loan.rate,
        "term_months": loan.term_months,
        "collateral": loan.collateral,
        "first_loan_borrower": loan.first_loan_borrower,
        "renewal_without_repayment": loan.renewal_without_repayment,
        "matures_on": matures_on,
        "borrower": _borrower(borrower),
        "institution": {"code": institution.code, "name": institution.name},
        "product": {"id": product.id, "name": product.name},
    }
