"""Dispatch: which institutions a need is pushed to, in rounds, and the leads that pushing creates.

The first round pushes a need to the best DISPATCH_TOP_N institutions. When every lead of a round has
expired unclaimed (SLA sweep) or a claimed lead is released for want of follow-up (stale sweep), the next
round goes to the next institutions; once DISPATCH_MAX_ROUNDS rounds have passed, the need is opened to
every eligible institution, flagged `open_to_all` and raised as an alert to the borrower's county finance
office. A need with nobody left to try is rejected. Pushing twice to one institution is refused by the
unique (need_id, institution_id) key: re-matching relies on it rather than on reading first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.calendars import WorkCalendar, working_calendar
from core.events import NewEvent, record_events
from core.models import Role, User
from core.settings import Settings
from core.sql import duration_us, grouped_medians, ordered_insert, update_by_key
from core.types import utcnow
from credit_profile.models import Borrower, CreditScore
from credit_profile.scoring import has_data, latest_score, latest_scores
from matching import engine, notices
from matching.errors import (
    NeedNotFoundError,
)
from matching.models import (
    OPEN_LEAD_STATUSES,
    Lead,
    LeadStatus,
    Need,
    NeedStatus,
)
from matching.states import lock_needs, move_needs
from matching.workhours import add_working_hours
from products.models import Institution, Product, ProductStatus

MICROSECONDS_PER_HOUR = 3_600_000_000


@dataclass(frozen=True)
class DispatchPolicy:
    """How many institutions one round reaches, and after how many rounds a need is opened to all."""

    top_n: int = 3
    max_rounds: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatchPolicy:
        return cls(top_n=settings.dispatch_top_n, max_rounds=settings.dispatch_max_rounds)


# product ids -> {product id: [(scheme kind, name)]}: the public schemes behind products, which the
# explanations name. The schemes are the guarantees package's knowledge, which matching may not import:
# the portal registers the lookup at start-up. Without one, no explanation mentions a scheme.
SchemeNotes = Mapping[int, Sequence[tuple[str, str]]]
ProductSchemeLookup = Callable[[Session, Collection[int]], SchemeNotes]
_scheme_lookup: list[ProductSchemeLookup] = []


def register_product_scheme_lookup(lookup: ProductSchemeLookup) -> None:
    """Install the function that names the public schemes behind products (replaces any earlier)."""
    _scheme_lookup[:] = [lookup]


def product_schemes(
    session: Session, product_ids: Collection[int]
) -> Mapping[int, Sequence[tuple[str, str]]]:
    return _scheme_lookup[0](session, product_ids) if _scheme_lookup and product_ids else {}


def product_spec(product: Product, schemes: Sequence[tuple[str, str]] = ()) -> engine.ProductSpec:
    return engine.ProductSpec(
        id=product.id,
        institution_id=product.institution_id,
        institution_code=product.institution.code,
        name=product.name,
        min_amount=product.min_amount,
        max_amount=product.max_amount,
        min_term_months=product.min_term_months,
        max_term_months=product.max_term_months,
        rate_min=product.rate_min,
        rate_max=product.rate_max,
        collateral=tuple(product.collateral),
        borrower_kinds=tuple(product.borrower_kinds),
        region_codes=tuple(product.region_codes),
        industries_excluded=tuple(product.industries_excluded),
        min_score=product.min_score,
        tags=tuple(product.tags),
        schemes=tuple(schemes),
    )


# Decided leads an institution needs in a grade band before its own approval share replaces the
# engine's prior there: one or two decisions say more about the borrowers than about the bank.
MIN_DECIDED_LEADS = 5
APPROVED_STATUSES = frozenset({LeadStatus.APPROVED, LeadStatus.DISBURSED})
DECIDED_STATUSES = APPROVED_STATUSES | {LeadStatus.REJECTED}


def approval_rates(
    decided: Iterable[tuple[int, str, str | None]], *, min_decided: int = MIN_DECIDED_LEADS
) -> dict[int, dict[str, float]]:
    """Institution -> grade band -> approved share, from (institution_id, lead status, band) triples.

    Approved means `approved` or `disbursed`; the denominator adds `rejected`. Other statuses and
    leads without a band are ignored; bands with fewer than `min_decided` decisions are left out.
    """
    counts: dict[tuple[int, str], list[int]] = {}
    for institution_id, status, band in decided:
        if band is None or status not in DECIDED_STATUSES:
            continue
        tally = counts.setdefault((institution_id, band), [0, 0])
        tally[0] += status in APPROVED_STATUSES
        tally[1] += 1
    rates: dict[int, dict[str, float]] = {}
    for (institution_id, band), (approved, total) in counts.items():
        if total >= min_decided:
            rates.setdefault(institution_id, {})[band] = approved / total
    return rates


def institution_stats(session: Session, *, days: int = 90) -> dict[int, engine.InstitutionStats]:
    """Each institution's record over the window: median hours to claim, approval share per grade band
    (of the leads pushed in the window and decided since), and open leads per officer now."""
    since = utcnow() - dt.timedelta(days=days)
    # The median is computed in the database: every dispatch calls this, over every claimed lead.
    hours: dict[int, float] = {
        institution_id: median_us / MICROSECONDS_PER_HOUR
        for institution_id, median_us in grouped_medians(
            session,
            select(Lead.institution_id, duration_us(Lead.claimed_at, Lead.pushed_at)).where(
                Lead.pushed_at >= since, Lead.claimed_at.is_not(None)
            ),
        ).items()
    }
    # The band is the one the engine ranked the lead in when it was pushed (kept in its explanation).
    rates = approval_rates(
        (institution_id, status, (explanation or {}).get("score_band"))
        for institution_id, status, explanation in session.execute(
            select(Lead.institution_id, Lead.status, Lead.explanation).where(
                Lead.pushed_at >= since, Lead.status.in_(list(DECIDED_STATUSES))
            )
        )
    )
    open_leads = dict(
        session.execute(
            select(Lead.institution_id, func.count())
            .where(Lead.status.in_(list(OPEN_LEAD_STATUSES)))
            .group_by(Lead.institution_id)
        ).all()
    )
    officers = dict(
        session.execute(
            select(User.institution_id, func.count())
            .where(User.role == Role.OFFICER, User.active.is_(True))
            .group_by(User.institution_id)
        ).all()
    )
    result = {}
    for institution_id in set(hours) | set(rates) | set(open_leads) | {i for i in officers if i is not None}:
        count = officers.get(institution_id, 0)
        result[institution_id] = engine.InstitutionStats(
            institution_id=institution_id,
            median_hours_to_claim=hours.get(institution_id),
            approval_rate_by_band=rates.get(institution_id, {}),
            open_leads_per_officer=(open_leads.get(institution_id, 0) / count) if count else None,
        )
    return result


@dataclass(frozen=True)
class MatchContext:
    """The published catalogue, prepared once for the engine, and the institutions' records.

    Build it with `load_match_context` and pass it to every need of one job or sweep.
    """

    index: engine.ProductIndex
    products: Mapping[int, CatalogueEntry]
    stats: Mapping[int, engine.InstitutionStats]
    institution_count: int
    # The working calendar the SLA deadlines of this context's pushes are computed on.
    calendar: WorkCalendar


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """What a push needs of a product besides its rules: plain values, usable in any transaction."""

    spec: engine.ProductSpec
    institution_name: str
    sla_hours: int


def load_match_context(session: Session) -> MatchContext:
    """The published catalogue and the institutions' records, read now; valid across transactions."""
    products = session.scalars(
        select(Product)
        .join(Product.institution)
        .where(Product.status == ProductStatus.PUBLISHED, Institution.active.is_(True))
        .order_by(Product.id)
    ).all()
    schemes = product_schemes(session, [p.id for p in products])
    entries = {
        p.id: CatalogueEntry(product_spec(p, schemes.get(p.id, ())), p.institution.name, p.sla_hours)
        for p in products
    }
    return MatchContext(
        index=engine.prepare(entry.spec for entry in entries.values()),
        products=entries,
        stats=institution_stats(session),
        institution_count=len({p.institution_id for p in products}),
        calendar=working_calendar(session),
    )


class ContextCache:
    """A MatchContext loaded on first use: a sweep that re-dispatches nothing never reads the catalogue."""

    def __init__(self, context: MatchContext | None = None) -> None:
        self.context = context
        self._calendar: WorkCalendar | None = None

    def get(self, session: Session) -> MatchContext:
        if self.context is None:
            self.context = load_match_context(session)
        return self.context

    def calendar(self, session: Session) -> WorkCalendar:
        """The working calendar, read once, without the catalogue when that is not needed."""
        if self.context is not None:
            return self.context.calendar
        if self._calendar is None:
            self._calendar = working_calendar(session)
        return self._calendar


def _specs(
    need: Need, borrower: Borrower, score: CreditScore | None
) -> tuple[engine.NeedSpec, engine.BorrowerSpec]:
    if not has_data(score):
        score = None  # computed from no data: no score, as the applicant's credit page says
    return (
        engine.NeedSpec(
            amount=need.amount,
            term_months=need.term_months,
            collateral=need.collateral,
            is_renewal=need.is_renewal,
            renewal_institution_code=need.renewal_institution_code,
        ),
        engine.BorrowerSpec(
            kind=borrower.kind,
            region_code=borrower.region_code,
            industry_code=borrower.industry_code,
            score=score.score if score else None,
            grade=score.grade if score else None,
        ),
    )


def need_specs(session: Session, need: Need) -> tuple[engine.NeedSpec, engine.BorrowerSpec, Borrower]:
    borrower = session.get(Borrower, need.borrower_id)
    assert borrower is not None
    return (*_specs(need, borrower, latest_score(session, borrower.id)), borrower)


def needs_specs(
    session: Session, needs: Sequence[Need]
) -> dict[int, tuple[engine.NeedSpec, engine.BorrowerSpec]]:
    """`need_specs` of many needs, by need id: their borrowers and latest scores in one statement each."""
    borrower_ids = sorted({need.borrower_id for need in needs})
    borrowers = {b.id: b for b in session.scalars(select(Borrower).where(Borrower.id.in_(borrower_ids)))}
    scores = latest_scores(session, borrower_ids)
    return {
        need.id: _specs(need, borrowers[need.borrower_id], scores.get(need.borrower_id)) for need in needs
    }


def _tried(session: Session, need_id: int) -> frozenset[int]:
    return frozenset(session.scalars(select(Lead.institution_id).where(Lead.need_id == need_id)))


def leads_so_far(session: Session, need_ids: Collection[int]) -> dict[int, list[tuple[int, int]]]:
    """Need id -> (institution, round) of each of its leads, for many needs in one statement."""
    found: dict[int, list[tuple[int, int]]] = {need_id: [] for need_id in need_ids}
    for need_id, institution_id, round_no in session.execute(
        select(Lead.need_id, Lead.institution_id, Lead.dispatch_round).where(Lead.need_id.in_(sorted(found)))
    ):
        found[need_id].append((institution_id, round_no))
    return found


def evaluate(
    session: Session,
    need: Need,
    context: MatchContext | engine.ProductIndex,
    *,
    limit: int,
    specs: tuple[engine.NeedSpec, engine.BorrowerSpec] | None = None,
    tried: Collection[int] | None = None,
) -> engine.MatchResult:
    """The engine's verdict on the need against the catalogue (or one prepared product), leaving out
    the institutions the need already has a lead with (`tried`, read when not given)."""
    need_spec, borrower_spec = specs or need_specs(session, need)[:2]
    index, stats = (
        (context, {}) if isinstance(context, engine.ProductIndex) else (context.index, context.stats)
    )
    return engine.evaluate(
        need_spec,
        borrower_spec,
        index,
        stats,
        top_n=limit,
        exclude_institutions=frozenset(tried) if tried is not None else _tried(session, need.id),
    )


# Excluded products explained on the need: the nearest misses (fewest failed rules) first. A
# catalogue of thousands would otherwise store and send thousands of reasons with every need.
MAX_EXPLAINED_EXCLUSIONS = 20


def _summary(result: engine.MatchResult, context: MatchContext) -> dict[str, Any]:
    """Eligible and excluded counts, how many products each rule excluded, the nearest misses.

    Only the nearest misses' reasons are built (`MatchResult.nearest_exclusions`), not every exclusion's.
    """
    return {
        "eligible_count": result.eligible_count,
        "excluded_count": result.excluded_count,
        "reason_counts": dict(result.reason_counts),
        "exclusions": [
            {
                "product_id": ex.product_id,
                "product": context.products[ex.product_id].spec.name,
                "institution": context.products[ex.product_id].institution_name,
                "reasons": [
                    {"code": r.code, "params": r.params, "text": engine.describe(r)} for r in ex.reasons
                ],
            }
            for ex in result.nearest_exclusions(MAX_EXPLAINED_EXCLUSIONS)
        ],
    }


def push(
    session: Session, need: Need, context: MatchContext, result: engine.MatchResult, *, round_no: int
) -> list[Lead]:
    """Store the picks as leads of this round and the exclusions as the need's explanation.

    A pick for an institution the need already has a lead with is skipped: the unique key refuses it,
    whichever transaction got there first.
    """
    return push_many(session, context, [NeedPush.of(need, result, context, round_no)])[0]


@dataclass(frozen=True, slots=True)
class NeedPush:
    """One need's picks and explanation, to store as leads of round `round_no` (set on the need by the
    caller). Build it with `of`: the explanation is drawn from the verdict at once, so that a batch
    does not keep every need's thousands of exclusions alive until it writes."""

    need: Need
    picks: tuple[engine.Pick, ...]
    summary: dict[str, Any]
    round_no: int

    @classmethod
    def of(cls, need: Need, result: engine.MatchResult, context: MatchContext, round_no: int) -> NeedPush:
        return cls(need, result.picks, _summary(result, context), round_no)


@dataclass(frozen=True, slots=True)
class Settled:
    """What a push does to its need once its leads are written: a move from the need's status to
    `to_status`, or, when that is already the need's status, an entry on its timeline; `data` is
    the event's."""

    to_status: str
    data: dict[str, Any]


# (the need, how many leads its push wrote) -> what becomes of the need, or None for nothing
Settle = Callable[[Need, int], Settled | None]


def _write_rounds(session: Session, pushes: Sequence[NeedPush]) -> None:
    """The needs' rounds (set by the caller) and explanations, in one statement where the database
    allows (core.sql.update_by_key); else set on the needs for the next statement's autoflush, which
    writes them with one UPDATE executed for every need."""
    with session.no_autoflush:
        written = update_by_key(
            session,
            Need.__table__,  # type: ignore[arg-type]  # a mapped class's table is a Table
            "id",
            ("dispatch_round", "match_summary"),
            [(p.need.id, p.need.dispatch_round, p.summary) for p in pushes],
        )
    for p in pushes:
        if written:  # the row holds them now: the needs must not write them again
            set_committed_value(p.need, "dispatch_round", p.need.dispatch_round)
            set_committed_value(p.need, "match_summary", p.summary)
        else:
            p.need.match_summary = p.summary


def push_many(
    session: Session,
    context: MatchContext,
    pushes: Sequence[NeedPush],
    *,
    settle: Settle | None = None,
) -> list[list[Lead]]:
    """`push` for many needs in one transaction, set-based, each need then settled by `settle`.

    Writes exactly the rows that pushing and settling the needs one after another writes, in the
    same order (so with the same ids): one UPDATE executed for every need (round and explanation),
    one INSERT ... ON CONFLICT DO NOTHING of every lead, one INSERT of their events and the needs'
    own (a need's after its leads'), one status UPDATE for each pair of statuses the needs move
    between, and the notifications, SMS and delivery jobs in one INSERT each (`notices.needs_pushed`).
    The caller holds
    the needs' locks (`lock_needs`): a need is moved from the status it was read in. Returns each
    need's new leads, in pick order.
    """
    if not pushes:
        return []
    _write_rounds(session, pushes)
    now = utcnow()
    rows = [
        {
            "need_id": p.need.id,
            "borrower_id": p.need.borrower_id,
            # The need's copy of its borrower is the borrower's (a foreign key keeps it so).
            "region_code": p.need.region_code,
            "borrower_kind": p.need.borrower_kind,
            "industry_code": p.need.industry_code,
            "institution_id": pick.institution_id,
            "product_id": pick.product_id,
            "status": LeadStatus.PUSHED,
            "dispatch_round": p.round_no,
            "rank": pick.rank,
            "explanation": dict(pick.explanation),
            "pushed_at": now,
            "updated_at": now,
            "sla_due_at": add_working_hours(
                now, context.products[pick.product_id].sla_hours, calendar=context.calendar
            ),
        }
        for p in pushes
        for pick in p.picks
    ]
    # One statement for every pick. ON CONFLICT DO NOTHING is the unique key's refusal without the
    # error: a lead another transaction is writing is waited for, and skipped if that one commits.
    if rows:
        stmt, params = ordered_insert(session, Lead, rows, skip_conflicts_on=("need_id", "institution_id"))
        inserted = session.scalars(stmt.returning(Lead), params).all()
    else:
        inserted = []
    written = {(lead.need_id, lead.institution_id): lead for lead in inserted}
    leads = [
        [
            written[(p.need.id, pick.institution_id)]
            for pick in p.picks
            if (p.need.id, pick.institution_id) in written
        ]
        for p in pushes
    ]
    outcomes = [
        settle(p.need, len(need_leads)) if settle else None
        for p, need_leads in zip(pushes, leads, strict=True)
    ]
    events: list[NewEvent] = []
    for p, need_leads, outcome in zip(pushes, leads, outcomes, strict=True):
        for lead in need_leads:
            product = context.products[lead.product_id]
            events.append(
                NewEvent(
                    entity_type="lead",
                    entity_id=lead.id,
                    need_id=p.need.id,
                    to_status=LeadStatus.PUSHED,
                    data={
                        "institution": product.institution_name,
                        "product": product.spec.name,
                        "round": p.round_no,
                    },
                )
            )
        if outcome is not None:
            events.append(
                NewEvent(
                    entity_type="need",
                    entity_id=p.need.id,
                    need_id=p.need.id,
                    from_status=p.need.status,
                    to_status=outcome.to_status,
                    data=outcome.data,
                )
            )
    event_ids = iter(record_events(session, events))
    told = []
    for p, need_leads, outcome in zip(pushes, leads, outcomes, strict=True):
        pushed = [
            notices.PushedLead(lead, context.products[lead.product_id].spec.name, next(event_ids))
            for lead in need_leads
        ]
        told.append(notices.NeedPushed(p.need, pushed, next(event_ids) if outcome is not None else None))
    move_needs(
        session,
        [
            (p.need, outcome.to_status)
            for p, outcome in zip(pushes, outcomes, strict=True)
            if outcome is not None
        ],
    )
    notices.needs_pushed(session, told)
    session.flush()
    return leads


def put_requested_first(
    need: Need,
    context: MatchContext,
    result: engine.MatchResult,
    specs: tuple[engine.NeedSpec, engine.BorrowerSpec],
) -> engine.MatchResult:
    """The picks with the product the applicant applied for first (when it is still published and
    eligible), in place of its institution's other product; the round keeps its size."""
    entry = context.products.get(need.requested_product_id) if need.requested_product_id else None
    if entry is None or not result.picks:
        return result
    own = engine.evaluate(*specs, engine.prepare([entry.spec]), context.stats, top_n=1)
    if not own.picks:
        return result
    others = [pick for pick in result.picks if pick.institution_id != entry.spec.institution_id]
    picks = (own.picks[0], *others[: len(result.picks) - 1])
    return dataclasses.replace(
        result, picks=tuple(dataclasses.replace(pick, rank=i) for i, pick in enumerate(picks, start=1))
    )


def match_need(
    session: Session, need_id: int, *, top_n: int, context: MatchContext | None = None
) -> list[Lead]:
    """Run the first matching round of a submitted need (`match_needs` of one).

    Safe to run twice: a need that has left `submitted` is left alone, and the unique (need,
    institution) key turns a duplicate push into a no-op. Raises NeedNotFoundError.
    """
    leads = match_needs(session, [need_id], top_n=top_n, context=context)
    if need_id not in leads and session.get(Need, need_id) is None:
        raise NeedNotFoundError(str(need_id))
    return leads.get(need_id, [])


def match_needs(
    session: Session, need_ids: Collection[int], *, top_n: int, context: MatchContext | None = None
) -> dict[int, list[Lead]]:
    """Run the first matching round of many submitted needs in one transaction, set-based.

    Locks the needs in id order in one statement, reads their borrowers, scores and leads in one
    statement each, ranks each need, and writes every need's leads, events, notifications and
    status with one statement per table (`push_many`): the same rows, in the same order, as
    `match_need` for each need one after another. A need that does not exist or has left
    `submitted` is skipped, as `match_need` leaves it alone. Returns the new leads of each matched
    or unmatched need, by need id.
    """
    needs = [need for need in lock_needs(session, need_ids) if need.status == NeedStatus.SUBMITTED]
    if not needs:
        return {}
    context = context or load_match_context(session)
    specs = needs_specs(session, needs)
    tried = leads_so_far(session, [need.id for need in needs])
    pushes = []
    for need in needs:
        result = evaluate(
            session,
            need,
            context,
            limit=top_n,
            specs=specs[need.id],
            tried={institution_id for institution_id, _ in tried[need.id]},
        )
        need.dispatch_round = 1
        pushes.append(
            NeedPush.of(need, put_requested_first(need, context, result, specs[need.id]), context, 1)
        )
    written = push_many(session, context, pushes, settle=_first_round)
    return {p.need.id: leads for p, leads in zip(pushes, written, strict=True)}


def _first_round(need: Need, leads: int) -> Settled:
    return Settled(NeedStatus.MATCHED if leads else NeedStatus.UNMATCHED, {"leads": leads, "round": 1})
