"""Needs, matching, leads and loans: the matching package's public API. Services flush, never commit.

State changes that race (claiming a lead, closing a need) are conditional UPDATEs whose row count
decides the winner; nothing here reads a status and then writes it back.

Lock order: whatever changes a need and its leads first locks the need row (`SELECT ... FOR UPDATE`
on PostgreSQL; SQLite serialises writers anyway), then touches its leads. Claims, transitions,
dispatch rounds, sweeps and re-matching all follow it, so two of them never deadlock and never both
decide that a need has run out of leads. Pushing twice to one institution is refused by the unique
(need_id, institution_id) key: re-matching relies on it rather than on reading first.

Dispatch: the first round pushes a need to the best DISPATCH_TOP_N institutions. When every lead of
a round has expired unclaimed (SLA sweep) or a claimed lead is released for want of follow-up (stale
sweep), the next round goes to the next institutions; once DISPATCH_MAX_ROUNDS rounds have passed,
the need is opened to every eligible institution, flagged `open_to_all` and raised as an alert to the
borrower's county finance office. A need with nobody left to try is rejected.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, PermissionDeniedError
from core.models import Role, StatusEvent, User
from core.reference import CITY_CODE, COLLATERAL_KINDS, REASON_CODES
from core.services import add_job, record_event
from core.settings import Settings
from core.types import SHANGHAI, money, utcnow
from credit_profile.features import FEATURE_NAMES, FeatureValue, period_index, period_label
from credit_profile.models import Borrower, Consent, ConsentUse, CreditScore
from credit_profile.services import (
    consent_end,
    consent_for_record,
    consented_data,
    features_from_records,
    institution_profile,
    latest_score,
    list_consents,
    record_use,
)
from matching import engine, notices
from matching.errors import (
    AlreadyClaimedError,
    IllegalTransitionError,
    LeadNotFoundError,
    LoanNotDisbursedError,
    NeedNotFoundError,
    NeedStateError,
    NotClaimantError,
)
from matching.models import (
    FINAL_NEED_STATUSES,
    OPEN_LEAD_STATUSES,
    Alert,
    AlertKind,
    Lead,
    LeadStatus,
    Loan,
    LoanPerformance,
    Need,
    NeedStatus,
)
from matching.sqlfuncs import duration_us, grouped_medians
from matching.workhours import add_working_hours, working_hours_between
from products.models import Institution, Product, ProductStatus

MAX_NEED_AMOUNT = Decimal("100000000.00")
MAX_TERM_MONTHS = 360
MAX_RATE = Decimal("36.00")
MATCH_JOB = "match_need"
REMATCH_JOB = "rematch_open_needs"
REMATCH_BORROWER_JOB = "rematch_borrower"
MICROSECONDS_PER_HOUR = 3_600_000_000

# Who may move a claimed lead where; anything else is an illegal transition (409).
LEAD_TRANSITIONS: dict[str, frozenset[str]] = {
    LeadStatus.CLAIMED: frozenset({LeadStatus.CONTACTED, LeadStatus.REJECTED}),
    LeadStatus.CONTACTED: frozenset({LeadStatus.APPROVED, LeadStatus.REJECTED}),
    LeadStatus.APPROVED: frozenset({LeadStatus.DISBURSED, LeadStatus.REJECTED}),
}
WITHDRAWABLE = frozenset(
    {NeedStatus.SUBMITTED, NeedStatus.MATCHED, NeedStatus.UNMATCHED, NeedStatus.IN_PROGRESS}
)


def local_today() -> dt.date:
    return utcnow().astimezone(SHANGHAI).date()


# --- needs -----------------------------------------------------------------------------------


@dataclass
class RenewalInput:
    current_amount: Decimal
    matures_on: dt.date
    institution_code: str | None = None


@dataclass
class NeedInput:
    amount: Decimal
    term_months: int
    purpose: str
    collateral: str
    declared_prior_loan: bool
    renewal: RenewalInput | None = None


def validate_need(session: Session, data: NeedInput) -> dict[str, list[str]]:
    """Field -> error codes for a financing need."""
    errors: dict[str, list[str]] = {}
    if not Decimal("1000") <= data.amount <= MAX_NEED_AMOUNT:
        errors["amount"] = ["out_of_range"]
    elif data.amount != data.amount.quantize(Decimal("0.01")):
        errors["amount"] = ["too_many_decimals"]
    if not 1 <= data.term_months <= MAX_TERM_MONTHS:
        errors["term_months"] = ["out_of_range"]
    if not data.purpose.strip():
        errors["purpose"] = ["required"]
    if data.collateral not in COLLATERAL_KINDS:
        errors["collateral"] = ["invalid_choice"]
    if data.renewal is not None:
        renewal = data.renewal
        if not Decimal("0") < renewal.current_amount <= MAX_NEED_AMOUNT:
            errors["renewal.current_amount"] = ["out_of_range"]
        today = local_today()
        if not today <= renewal.matures_on <= today + dt.timedelta(days=366):
            errors["renewal.matures_on"] = ["out_of_range"]
        if (
            renewal.institution_code
            and session.scalar(select(Institution.id).where(Institution.code == renewal.institution_code))
            is None
        ):
            errors["renewal.institution_code"] = ["unknown"]
    return errors


def submit_need(session: Session, *, borrower_id: int, data: NeedInput, actor_id: int | None) -> Need:
    """Record a financing need and queue its matching (outbox). Raises InvalidInputError."""
    errors = validate_need(session, data)
    if errors:
        raise InvalidInputError(errors)
    need = Need(
        borrower_id=borrower_id,
        created_by=actor_id,
        amount=money(data.amount),
        term_months=data.term_months,
        purpose=data.purpose.strip(),
        collateral=data.collateral,
        declared_prior_loan=data.declared_prior_loan,
        status=NeedStatus.SUBMITTED,
        submitted_at=utcnow(),
        updated_at=utcnow(),
    )
    if data.renewal is not None:
        need.is_renewal = True
        need.renewal_current_amount = money(data.renewal.current_amount)
        need.renewal_matures_on = data.renewal.matures_on
        need.renewal_institution_code = data.renewal.institution_code or None
    session.add(need)
    session.flush()
    record_event(
        session,
        entity_type="need",
        entity_id=need.id,
        need_id=need.id,
        to_status=NeedStatus.SUBMITTED,
        actor_id=actor_id,
    )
    enqueue_matching(session, need)
    return need


def enqueue_matching(session: Session, need: Need) -> None:
    """Queue one matching round for the need; the key makes a second request for the same round a no-op."""
    add_job(session, MATCH_JOB, f"{MATCH_JOB}:{need.id}:{need.dispatch_round + 1}", need_id=need.id)


def get_need(session: Session, need_id: int, *, borrower_id: int | None = None) -> Need:
    """The need; with borrower_id, only that borrower's. Raises NeedNotFoundError."""
    need = session.get(Need, need_id)
    if need is None or (borrower_id is not None and need.borrower_id != borrower_id):
        raise NeedNotFoundError(str(need_id))
    return need


def list_needs(session: Session, *, borrower_id: int) -> Sequence[Need]:
    return session.scalars(select(Need).where(Need.borrower_id == borrower_id).order_by(Need.id.desc())).all()


def need_events(session: Session, need_id: int) -> Sequence[StatusEvent]:
    """The need's timeline: its own status changes and those of its leads, oldest first."""
    return session.scalars(
        select(StatusEvent).where(StatusEvent.need_id == need_id).order_by(StatusEvent.at, StatusEvent.id)
    ).all()


def _lock_need(session: Session, need_id: int) -> Need | None:
    """The need, re-read under a row lock held to the end of the transaction (see the module doc)."""
    return session.scalar(
        select(Need).where(Need.id == need_id).with_for_update().execution_options(populate_existing=True)
    )


def _set_need_status(
    session: Session,
    need: Need,
    to: NeedStatus,
    *,
    allowed_from: frozenset[str],
    actor_id: int | None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> bool:
    """Conditionally move the need; False (and no event) if another transaction moved it first."""
    previous = need.status
    result = session.execute(
        update(Need)
        .where(Need.id == need.id, Need.status.in_(list(allowed_from)))
        .values(status=to, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(need, ["status", "updated_at"])
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    event = record_event(
        session,
        entity_type="need",
        entity_id=need.id,
        need_id=need.id,
        from_status=previous,
        to_status=to,
        actor_id=actor_id,
        note=note,
        data=data,
    )
    notices.need_status_changed(session, need, event, actor_id=actor_id)
    return True


def _need_event(session: Session, need: Need, data: dict[str, Any]) -> StatusEvent:
    """A timeline entry for something that happened to the need without changing its status."""
    event = record_event(
        session,
        entity_type="need",
        entity_id=need.id,
        need_id=need.id,
        from_status=need.status,
        to_status=need.status,
        data=data,
    )
    notices.need_status_changed(session, need, event, actor_id=None)
    return event


def _close_other_leads(
    session: Session, need: Need, *, keep_lead_id: int | None, actor_id: int | None
) -> None:
    leads = session.scalars(
        select(Lead).where(
            Lead.need_id == need.id, Lead.status.in_(list(OPEN_LEAD_STATUSES)), Lead.id != (keep_lead_id or 0)
        )
    ).all()
    for lead in leads:
        _set_lead_status(session, lead, LeadStatus.CLOSED, allowed_from=OPEN_LEAD_STATUSES, actor_id=actor_id)


def withdraw_need(session: Session, need: Need, *, actor_id: int | None) -> Need:
    """Withdraw the need and close its open leads. Raises NeedStateError once it is final."""
    _lock_need(session, need.id)
    if not _set_need_status(
        session, need, NeedStatus.WITHDRAWN, allowed_from=WITHDRAWABLE, actor_id=actor_id
    ):
        raise NeedStateError(need.status)
    _close_other_leads(session, need, keep_lead_id=None, actor_id=actor_id)
    return need


# --- matching --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchPolicy:
    """How many institutions one round reaches, and after how many rounds a need is opened to all."""

    top_n: int = 3
    max_rounds: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatchPolicy:
        return cls(top_n=settings.dispatch_top_n, max_rounds=settings.dispatch_max_rounds)


def product_spec(product: Product) -> engine.ProductSpec:
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


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """What a push needs of a product besides its rules: plain values, usable in any transaction."""

    spec: engine.ProductSpec
    institution_name: str
    sla_hours: int


def load_match_context(session: Session) -> MatchContext:
    """The published catalogue and the institutions' records, read now; valid across transactions."""
    products = session.scalars(
        select(Product).where(Product.status == ProductStatus.PUBLISHED).order_by(Product.id)
    ).all()
    entries = {p.id: CatalogueEntry(product_spec(p), p.institution.name, p.sla_hours) for p in products}
    return MatchContext(
        index=engine.prepare(entry.spec for entry in entries.values()),
        products=entries,
        stats=institution_stats(session),
        institution_count=len({p.institution_id for p in products}),
    )


class ContextCache:
    """A MatchContext loaded on first use: a sweep that re-dispatches nothing never reads the catalogue."""

    def __init__(self, context: MatchContext | None = None) -> None:
        self.context = context

    def get(self, session: Session) -> MatchContext:
        if self.context is None:
            self.context = load_match_context(session)
        return self.context


def _specs(session: Session, need: Need) -> tuple[engine.NeedSpec, engine.BorrowerSpec, Borrower]:
    borrower = session.get(Borrower, need.borrower_id)
    assert borrower is not None
    score = latest_score(session, borrower.id)
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
        borrower,
    )


def _tried(session: Session, need_id: int) -> frozenset[int]:
    return frozenset(session.scalars(select(Lead.institution_id).where(Lead.need_id == need_id)))


def _evaluate(
    session: Session,
    need: Need,
    context: MatchContext | engine.ProductIndex,
    *,
    limit: int,
    specs: tuple[engine.NeedSpec, engine.BorrowerSpec] | None = None,
) -> engine.MatchResult:
    """The engine's verdict on the need against the catalogue (or one prepared product), leaving out
    the institutions the need already has a lead with."""
    need_spec, borrower_spec = specs or _specs(session, need)[:2]
    index, stats = (
        (context, {}) if isinstance(context, engine.ProductIndex) else (context.index, context.stats)
    )
    return engine.evaluate(
        need_spec, borrower_spec, index, stats, top_n=limit, exclude_institutions=_tried(session, need.id)
    )


# Excluded products explained on the need: the nearest misses (fewest failed rules) first. A
# catalogue of thousands would otherwise store and send thousands of reasons with every need.
MAX_EXPLAINED_EXCLUSIONS = 20


def _summary(result: engine.MatchResult, context: MatchContext) -> dict[str, Any]:
    """Eligible and excluded counts, how many products each rule excluded, the nearest misses."""
    reason_counts: dict[str, int] = {}
    for exclusion in result.exclusions:
        for reason in exclusion.reasons:
            reason_counts[reason.code] = reason_counts.get(reason.code, 0) + 1
    nearest = heapq.nsmallest(
        MAX_EXPLAINED_EXCLUSIONS, result.exclusions, key=lambda ex: (len(ex.reasons), ex.product_id)
    )
    return {
        "eligible_count": result.eligible_count,
        "excluded_count": len(result.exclusions),
        "reason_counts": reason_counts,
        "exclusions": [
            {
                "product_id": ex.product_id,
                "product": context.products[ex.product_id].spec.name,
                "institution": context.products[ex.product_id].institution_name,
                "reasons": [
                    {"code": r.code, "params": r.params, "text": engine.describe(r)} for r in ex.reasons
                ],
            }
            for ex in nearest
        ],
    }


def _push(
    session: Session, need: Need, context: MatchContext, result: engine.MatchResult, *, round_no: int
) -> list[Lead]:
    """Store the picks as leads of this round and the exclusions as the need's explanation.

    A pick for an institution the need already has a lead with is skipped: the unique key refuses it,
    whichever transaction got there first.
    """
    now = utcnow()
    leads: list[Lead] = []
    for pick in result.picks:
        product = context.products[pick.product_id]
        lead = Lead(
            need_id=need.id,
            borrower_id=need.borrower_id,
            institution_id=pick.institution_id,
            product_id=pick.product_id,
            status=LeadStatus.PUSHED,
            dispatch_round=round_no,
            rank=pick.rank,
            explanation=dict(pick.explanation),
            pushed_at=now,
            updated_at=now,
            sla_due_at=add_working_hours(now, product.sla_hours),
        )
        try:
            with session.begin_nested():
                session.add(lead)
                session.flush()
        except IntegrityError:
            continue
        event = record_event(
            session,
            entity_type="lead",
            entity_id=lead.id,
            need_id=need.id,
            to_status=LeadStatus.PUSHED,
            data={"institution": product.institution_name, "product": product.spec.name, "round": round_no},
        )
        notices.lead_pushed(session, lead, need, product.spec.name, event)
        leads.append(lead)
    need.match_summary = _summary(result, context)
    session.flush()
    return leads


def match_need(
    session: Session, need_id: int, *, top_n: int, context: MatchContext | None = None
) -> list[Lead]:
    """Run the first matching round of a submitted need.

    Safe to run twice: a need that has left `submitted` is left alone, and the unique (need,
    institution) key turns a duplicate push into a no-op. Raises NeedNotFoundError.
    """
    need = _lock_need(session, need_id)
    if need is None:
        raise NeedNotFoundError(str(need_id))
    if need.status != NeedStatus.SUBMITTED:
        return []
    context = context or load_match_context(session)
    result = _evaluate(session, need, context, limit=top_n)
    need.dispatch_round = 1
    leads = _push(session, need, context, result, round_no=1)
    _set_need_status(
        session,
        need,
        NeedStatus.MATCHED if leads else NeedStatus.UNMATCHED,
        allowed_from=frozenset({NeedStatus.SUBMITTED}),
        actor_id=None,
        data={"leads": len(leads), "round": 1},
    )
    return leads


def _in_hand(session: Session, need_id: int) -> int:
    """Leads an institution has claimed and not finished with."""
    return (
        session.scalar(
            select(func.count()).where(
                Lead.need_id == need_id,
                Lead.status.in_([LeadStatus.CLAIMED, LeadStatus.CONTACTED, LeadStatus.APPROVED]),
            )
        )
        or 0
    )


def _open_leads(session: Session, need_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(Lead.need_id == need_id, Lead.status.in_(list(OPEN_LEAD_STATUSES)))
        )
        or 0
    )


def _redispatch(
    session: Session, need: Need, context: MatchContext, policy: DispatchPolicy, *, reason: str
) -> list[Lead]:
    """The next round for a (locked) need that has no open lead left; see the module doc.

    `reason` is `sla` (the round expired unclaimed) or `released` (a claimed lead went stale).
    """
    previous_round = need.dispatch_round
    opening = not need.open_to_all and previous_round >= policy.max_rounds
    everyone = need.open_to_all or opening
    limit = max(context.institution_count, 1) if everyone else policy.top_n
    result = _evaluate(session, need, context, limit=limit)
    need.dispatch_round = previous_round + 1
    if opening:
        need.open_to_all = True
    leads = _push(session, need, context, result, round_no=need.dispatch_round)
    if leads and need.status == NeedStatus.IN_PROGRESS:
        _set_need_status(
            session,
            need,
            NeedStatus.MATCHED,
            allowed_from=frozenset({NeedStatus.IN_PROGRESS}),
            actor_id=None,
            data={"kind": "back_to_dispatch"},
        )
    data: dict[str, Any] = {
        "kind": "opened_to_all" if opening else "redispatched",
        "round": need.dispatch_round,
        "rounds": previous_round,
        "leads": len(leads),
        "reason": reason,
    }
    event = _need_event(session, need, data)
    if opening:
        _raise_alert(session, need, event, data)
    if not leads:
        _settle_need_if_exhausted(session, need, actor_id=None)
    return leads


def _raise_alert(session: Session, need: Need, event: StatusEvent, data: dict[str, Any]) -> None:
    borrower = session.get(Borrower, need.borrower_id)
    assert borrower is not None
    alert = Alert(
        kind=AlertKind.OPEN_TO_ALL,
        need_id=need.id,
        region_code=borrower.region_code,
        data={**data, "amount": f"{need.amount:.2f}"},
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:
        return
    notices.need_opened_to_all(session, need, event, region_code=borrower.region_code)


def overdue_need_ids(session: Session, *, now: dt.datetime) -> list[int]:
    """Needs with a pushed lead past its SLA, in id order (the order their rows are locked in)."""
    return list(
        session.scalars(
            select(Lead.need_id)
            .where(Lead.status == LeadStatus.PUSHED, Lead.sla_due_at < now)
            .distinct()
            .order_by(Lead.need_id)
        )
    )


def expire_need_leads(
    session: Session, need_id: int, *, policy: DispatchPolicy, now: dt.datetime, cache: ContextCache
) -> list[int]:
    """Expire the need's pushed leads past their SLA; re-dispatch the need if none of its leads is
    open any more. Idempotent. Returns the expired lead ids."""
    need = _lock_need(session, need_id)
    if need is None:
        return []
    overdue = session.scalars(
        select(Lead)
        .where(Lead.need_id == need_id, Lead.status == LeadStatus.PUSHED, Lead.sla_due_at < now)
        .order_by(Lead.id)
    ).all()
    expired = [
        lead.id
        for lead in overdue
        if _set_lead_status(
            session,
            lead,
            LeadStatus.EXPIRED,
            allowed_from=frozenset({LeadStatus.PUSHED}),
            actor_id=None,
            data={"kind": "sla_expired"},
        )
    ]
    if (
        expired
        and need.status in (NeedStatus.MATCHED, NeedStatus.IN_PROGRESS)
        and not _open_leads(session, need_id)
    ):
        _redispatch(session, need, cache.get(session), policy, reason="sla")
    return expired


def expire_overdue_leads(
    session: Session, *, top_n: int, max_rounds: int = 2, now: dt.datetime | None = None
) -> list[int]:
    """The SLA sweep in one transaction: pushed leads past their due time expire and their needs go
    to the next round (see the module doc). The job runs `expire_need_leads` one need per
    transaction instead. Idempotent. Returns the expired lead ids."""
    now = now or utcnow()
    policy = DispatchPolicy(top_n=top_n, max_rounds=max_rounds)
    cache = ContextCache()
    expired: list[int] = []
    for need_id in overdue_need_ids(session, now=now):
        expired += expire_need_leads(session, need_id, policy=policy, now=now, cache=cache)
    return expired


# Claimed leads the stale sweep watches: the bank has not reported a decision yet. An approved lead
# waits for disbursement, which is the bank's paperwork, not a borrower left without a call.
STALE_STATUSES = frozenset({LeadStatus.CLAIMED, LeadStatus.CONTACTED})
RELEASE_NOTE = notices.N_("超过跟进时限未更新进度，线索已释放并转给其他机构")


@dataclass(frozen=True)
class StaleSweep:
    flagged: list[int]
    released: list[int]


@dataclass(frozen=True)
class InHandLead:
    """A claimed lead as the stale sweep read it; every step is conditional on it being unchanged."""

    lead_id: int
    need_id: int
    status: str
    updated_at: dt.datetime
    stale_flagged_at: dt.datetime | None
    follow_up_hours: int


def leads_in_hand(session: Session) -> list[InHandLead]:
    """Every lead the stale sweep watches, in (need, lead) order."""
    rows = session.execute(
        select(
            Lead.id,
            Lead.need_id,
            Lead.status,
            Lead.updated_at,
            Lead.stale_flagged_at,
            Product.follow_up_hours,
        )
        .join(Product, Product.id == Lead.product_id)
        .where(Lead.status.in_(list(STALE_STATUSES)))
        .order_by(Lead.need_id, Lead.id)
    ).all()
    return [InHandLead(*row) for row in rows]


def check_stale_lead(
    session: Session, lead: InHandLead, *, policy: DispatchPolicy, now: dt.datetime, cache: ContextCache
) -> str | None:
    """Flag the lead once its follow-up window has passed without a status change; release it (expire
    it with a note and send the need back to dispatch) once another window has passed since the flag.
    Returns "flagged", "released" or None. Idempotent."""
    window = lead.follow_up_hours
    if lead.stale_flagged_at is None:
        if working_hours_between(lead.updated_at, now) >= window and _flag_stale(
            session, lead.lead_id, status=lead.status, since=lead.updated_at, hours=window, now=now
        ):
            return "flagged"
        return None
    if working_hours_between(lead.stale_flagged_at, now) < window:
        return None
    need = _lock_need(session, lead.need_id)
    row = session.get(Lead, lead.lead_id)
    if (
        need is None
        or row is None
        or not _set_lead_status(
            session,
            row,
            LeadStatus.EXPIRED,
            allowed_from=frozenset({lead.status}),
            actor_id=None,
            values={"note": RELEASE_NOTE},
            unchanged_since=lead.updated_at,
            data={"kind": "released", "hours": window},
        )
    ):
        return None
    if need.status != NeedStatus.IN_PROGRESS or _in_hand(session, need.id):
        return "released"
    if _open_leads(session, need.id):
        # Other institutions still hold this need unclaimed: their SLA decides what comes next.
        _set_need_status(
            session,
            need,
            NeedStatus.MATCHED,
            allowed_from=frozenset({NeedStatus.IN_PROGRESS}),
            actor_id=None,
            data={"kind": "back_to_dispatch"},
        )
    else:
        _redispatch(session, need, cache.get(session), policy, reason="released")
    return "released"


def sweep_stale_leads(
    session: Session, *, top_n: int, max_rounds: int = 2, now: dt.datetime | None = None
) -> StaleSweep:
    """The stale sweep in one transaction (`check_stale_lead` for every lead in hand; the job runs
    one lead per transaction). Claimed leads without a status change for the product's
    `follow_up_hours` (working hours) are flagged to the claiming officer and the institution's
    officers; still unchanged `follow_up_hours` after the flag, they are released."""
    now = now or utcnow()
    policy = DispatchPolicy(top_n=top_n, max_rounds=max_rounds)
    cache = ContextCache()
    flagged: list[int] = []
    released: list[int] = []
    for lead in leads_in_hand(session):
        outcome = check_stale_lead(session, lead, policy=policy, now=now, cache=cache)
        if outcome == "flagged":
            flagged.append(lead.lead_id)
        elif outcome == "released":
            released.append(lead.lead_id)
    return StaleSweep(flagged=flagged, released=released)


def _flag_stale(
    session: Session, lead_id: int, *, status: str, since: dt.datetime, hours: int, now: dt.datetime
) -> bool:
    result = session.execute(
        update(Lead)
        .where(
            Lead.id == lead_id,
            Lead.status == status,
            Lead.updated_at == since,
            Lead.stale_flagged_at.is_(None),
        )
        .values(stale_flagged_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    lead = session.get(Lead, lead_id, populate_existing=True)
    assert lead is not None
    event = record_event(
        session,
        entity_type="lead",
        entity_id=lead.id,
        need_id=lead.need_id,
        from_status=status,
        to_status=status,
        data={"kind": "stale_flagged", "hours": hours, "institution": _institution_name(session, lead)},
    )
    notices.lead_stale(session, lead, event, hours=hours)
    return True


REMATCH_STATUSES = (NeedStatus.UNMATCHED, NeedStatus.MATCHED)


def enqueue_rematching(session: Session, *, product_id: int, reason: str) -> None:
    """Queue re-matching of open needs after a product was published, changed or retired (outbox).

    Call it in the transaction that changed the product; the product's `updated_at` makes the key one
    per change.
    """
    product = session.get(Product, product_id)
    if product is None:
        return
    stamp = product.updated_at.strftime("%Y%m%d%H%M%S%f")
    add_job(session, REMATCH_JOB, f"{REMATCH_JOB}:{product_id}:{reason}:{stamp}", product_id=product_id)


def rematch_candidates(session: Session, *, borrower_id: int | None = None) -> list[int]:
    """Ids of needs re-matching may add leads to (`unmatched` or `matched`), in id order."""
    stmt = select(Need.id).where(Need.status.in_(list(REMATCH_STATUSES))).order_by(Need.id)
    if borrower_id is not None:
        stmt = stmt.where(Need.borrower_id == borrower_id)
    return list(session.scalars(stmt))


def product_probe(context: MatchContext, product_id: int | None) -> engine.ProductIndex | None:
    """The changed product alone, prepared, when it is published: needs it cannot serve are skipped."""
    entry = context.products.get(product_id) if product_id is not None else None
    return engine.prepare([entry.spec]) if entry is not None else None


def rematch_need(
    session: Session,
    need_id: int,
    *,
    top_n: int,
    context: MatchContext,
    probe: engine.ProductIndex | None = None,
    reason: str = "product",
) -> list[Lead]:
    """Top up one open need: `unmatched`, or `matched` with fewer than `top_n` leads in its current
    round (no limit once open to all). New leads join the current round; the unique (need,
    institution) key refuses a second push, whoever got there first. Returns the new leads."""
    need = _lock_need(session, need_id)
    if need is None or need.status not in REMATCH_STATUSES:
        return []
    round_no = max(need.dispatch_round, 1)
    if need.open_to_all:
        room = max(context.institution_count, 1)
    else:
        in_round = session.scalar(
            select(func.count()).where(Lead.need_id == need.id, Lead.dispatch_round == round_no)
        )
        room = top_n - (in_round or 0)
    if room <= 0:
        return []
    specs = _specs(session, need)[:2]
    if probe is not None and not _evaluate(session, need, probe, limit=0, specs=specs).eligible_count:
        return []
    result = _evaluate(session, need, context, limit=room, specs=specs)
    if not result.picks:
        return []
    need.dispatch_round = round_no
    leads = _push(session, need, context, result, round_no=round_no)
    if leads and need.status == NeedStatus.UNMATCHED:
        _set_need_status(
            session,
            need,
            NeedStatus.MATCHED,
            allowed_from=frozenset({NeedStatus.UNMATCHED}),
            actor_id=None,
            data={"leads": len(leads), "round": round_no, "reason": reason},
        )
    elif leads:
        _need_event(session, need, {"kind": "topped_up", "leads": len(leads), "reason": reason})
    return leads


def rematch_open_needs(
    session: Session,
    *,
    top_n: int,
    product_id: int | None = None,
    borrower_id: int | None = None,
    reason: str = "product",
) -> list[Lead]:
    """Push open needs to institutions the catalogue or the borrower's score now makes eligible, in
    one transaction (`rematch_need` for each candidate; the jobs run one need per transaction).

    With `product_id` (a published product), needs that product cannot serve are skipped without
    ranking; with `borrower_id`, only that borrower's needs are looked at. Safe to run twice and
    concurrently. Returns the new leads.
    """
    need_ids = rematch_candidates(session, borrower_id=borrower_id)
    if not need_ids:
        return []
    context = load_match_context(session)
    probe = product_probe(context, product_id)
    created: list[Lead] = []
    for need_id in need_ids:
        created += rematch_need(session, need_id, top_n=top_n, context=context, probe=probe, reason=reason)
    return created


RENEWAL_REMINDER_DAYS = (60, 30, 15)


def send_renewal_reminders(session: Session, *, today: dt.date | None = None) -> int:
    """Remind applicants of renewal needs whose loan falls due within 60, 30 and 15 days.

    无还本续贷 must be applied for before the loan falls due. Each threshold is reminded once per need
    (a unique key); a need submitted late gets only the tightest threshold it has reached. Needs
    already disbursed or withdrawn get none. Returns how many reminders were written.
    """
    today = today or local_today()
    horizon = today + dt.timedelta(days=max(RENEWAL_REMINDER_DAYS))
    needs = session.scalars(
        select(Need)
        .where(
            Need.is_renewal.is_(True),
            Need.renewal_matures_on >= today,
            Need.renewal_matures_on <= horizon,
            Need.status.not_in([NeedStatus.DISBURSED, NeedStatus.WITHDRAWN]),
        )
        .order_by(Need.id)
    ).all()
    written = 0
    for need in needs:
        assert need.renewal_matures_on is not None
        days_left = (need.renewal_matures_on - today).days
        threshold = min(t for t in RENEWAL_REMINDER_DAYS if days_left <= t)
        written += notices.renewal_reminder(session, need, threshold=threshold, days_left=days_left)
    return written


# --- alerts for finance offices -----------------------------------------------------------------


def list_alerts(
    session: Session, *, region_code: str, limit: int = 20, offset: int = 0
) -> tuple[Sequence[Alert], int]:
    """Alerts in a county, newest first (the city code lists every county's), and their total."""
    stmt = select(Alert)
    if region_code != CITY_CODE:
        stmt = stmt.where(Alert.region_code == region_code)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit).offset(offset)
    )
    return rows.all(), total


# --- leads -----------------------------------------------------------------------------------


def get_lead(session: Session, lead_id: int, *, institution_id: int) -> Lead:
    """A lead pushed to this institution. Raises LeadNotFoundError (also for another bank's lead)."""
    lead = session.get(Lead, lead_id)
    if lead is None or lead.institution_id != institution_id:
        raise LeadNotFoundError(str(lead_id))
    return lead


def lead_credit_profile(
    session: Session, lead_id: int, *, officer_id: int, institution_id: int
) -> tuple[Lead, CreditScore]:
    """The lead and its borrower's credit profile, for the officer who claimed it (as the borrower's
    identity is), recorded as a use of the consent.

    Raises LeadNotFoundError (another institution's lead), PermissionDeniedError (not claimed, or
    claimed by a colleague), ConsentRequiredError (no active consent; the refused read is recorded).
    """
    lead = get_lead(session, lead_id, institution_id=institution_id)
    if lead.claimed_by != officer_id:
        raise PermissionDeniedError("only the officer who claimed the lead")
    need = session.get(Need, lead.need_id)
    assert need is not None
    score = institution_profile(session, need.borrower_id, actor_id=officer_id, institution_id=institution_id)
    return lead, score


def list_leads(
    session: Session, *, institution_id: int, status: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[Sequence[Lead], int]:
    """The institution's leads, newest first, and their total count."""
    stmt = select(Lead).where(Lead.institution_id == institution_id)
    if status:
        stmt = stmt.where(Lead.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Lead.pushed_at.desc(), Lead.id.desc()).limit(limit).offset(offset)
    ).all()
    return rows, total


@dataclass(frozen=True)
class InboxRow:
    """One line of an officer's inbox: what the list shows, nothing that names the borrower."""

    id: int
    status: str
    sla_due_at: dt.datetime | None
    borrower_kind: str
    region_code: str
    amount: Decimal
    term_months: int
    product_name: str


def list_inbox(
    session: Session, *, institution_id: int, status: str | None = None, limit: int = 20, offset: int = 0
) -> tuple[list[InboxRow], int]:
    """The institution's leads as its inbox lists them, newest first (the order of `list_leads`), and
    their total count: one narrow statement over leads, needs, borrowers and products, which reads no
    identifier (nothing to decrypt)."""
    where = [Lead.institution_id == institution_id]
    if status:
        where.append(Lead.status == status)
    total = session.scalar(select(func.count()).select_from(Lead).where(*where)) or 0
    rows = session.execute(
        select(
            Lead.id,
            Lead.status,
            Lead.sla_due_at,
            Borrower.kind,
            Borrower.region_code,
            Need.amount,
            Need.term_months,
            Product.name,
        )
        .join(Need, Need.id == Lead.need_id)
        .join(Borrower, Borrower.id == Lead.borrower_id)
        .join(Product, Product.id == Lead.product_id)
        .where(*where)
        .order_by(Lead.pushed_at.desc(), Lead.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [InboxRow(*row) for row in rows], total


def _institution_name(session: Session, lead: Lead) -> str:
    institution = session.get(Institution, lead.institution_id)
    return institution.name if institution else ""


def _set_lead_status(
    session: Session,
    lead: Lead,
    to: LeadStatus,
    *,
    allowed_from: frozenset[str],
    actor_id: int | None,
    values: dict[str, Any] | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    unchanged_since: dt.datetime | None = None,
) -> bool:
    """Conditionally move the lead (and clear its stale flag); False if another transaction moved it
    first, or, with `unchanged_since`, if its status changed after that moment."""
    previous = lead.status
    stmt = update(Lead).where(Lead.id == lead.id, Lead.status.in_(list(allowed_from)))
    if unchanged_since is not None:
        stmt = stmt.where(Lead.updated_at == unchanged_since)
    result = session.execute(
        stmt.values(
            status=to, updated_at=utcnow(), stale_flagged_at=None, **(values or {})
        ).execution_options(synchronize_session=False)
    )
    session.refresh(lead, ["status", "updated_at", "stale_flagged_at", *(values or {})])
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    event = record_event(
        session,
        entity_type="lead",
        entity_id=lead.id,
        need_id=lead.need_id,
        from_status=previous,
        to_status=to,
        actor_id=actor_id,
        note=note,
        data={**(data or {}), "institution": _institution_name(session, lead)},
    )
    notices.lead_status_changed(session, lead, event, actor_id=actor_id)
    return True


def claim_lead(session: Session, lead_id: int, *, officer_id: int, institution_id: int) -> Lead:
    """Claim a pushed lead for this officer. Exactly one concurrent claim wins.

    Raises LeadNotFoundError (unknown or another institution's) or AlreadyClaimedError.
    """
    lead = get_lead(session, lead_id, institution_id=institution_id)
    need = _lock_need(session, lead.need_id)
    assert need is not None
    now = utcnow()
    won = _set_lead_status(
        session,
        lead,
        LeadStatus.CLAIMED,
        allowed_from=frozenset({LeadStatus.PUSHED}),
        actor_id=officer_id,
        values={"claimed_by": officer_id, "claimed_at": now},
    )
    if not won:
        raise AlreadyClaimedError(lead.status, claimed_by=lead.claimed_by)
    _set_need_status(
        session,
        need,
        NeedStatus.IN_PROGRESS,
        allowed_from=frozenset({NeedStatus.MATCHED}),
        actor_id=officer_id,
    )
    return lead


@dataclass
class LoanInput:
    amount: Decimal
    rate: Decimal
    term_months: int
    collateral: str
    disbursed_on: dt.date
    first_loan_borrower: bool
    renewal_without_repayment: bool


def validate_loan(data: LoanInput, *, pushed_on: dt.date) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not Decimal("0") < data.amount <= MAX_NEED_AMOUNT:
        errors["loan.amount"] = ["out_of_range"]
    elif data.amount != data.amount.quantize(Decimal("0.01")):
        errors["loan.amount"] = ["too_many_decimals"]
    if not Decimal("0") < data.rate <= MAX_RATE:
        errors["loan.rate"] = ["out_of_range"]
    elif data.rate != data.rate.quantize(Decimal("0.01")):
        errors["loan.rate"] = ["too_many_decimals"]
    if not 1 <= data.term_months <= MAX_TERM_MONTHS:
        errors["loan.term_months"] = ["out_of_range"]
    if data.collateral not in COLLATERAL_KINDS:
        errors["loan.collateral"] = ["invalid_choice"]
    if data.disbursed_on > local_today():
        errors["loan.disbursed_on"] = ["in_future"]
    elif data.disbursed_on < pushed_on:
        errors["loan.disbursed_on"] = ["before_push"]
    return errors


def transition_lead(
    session: Session,
    lead_id: int,
    *,
    to: str,
    officer_id: int,
    institution_id: int,
    reason_code: str | None = None,
    note: str | None = None,
    loan: LoanInput | None = None,
) -> Lead:
    """Move a claimed lead on: claimed → contacted → approved → disbursed, or rejected with a reason.

    Disbursing records the loan, closes the need's other leads and marks the need disbursed; a
    rejection that leaves the need without open leads marks it rejected. Raises LeadNotFoundError,
    NotClaimantError, IllegalTransitionError, InvalidInputError.
    """
    lead = get_lead(session, lead_id, institution_id=institution_id)
    if lead.claimed_by is not None and lead.claimed_by != officer_id:
        raise NotClaimantError(str(lead_id))
    allowed = LEAD_TRANSITIONS.get(lead.status, frozenset())
    if to not in allowed:
        raise IllegalTransitionError(f"{lead.status}->{to}")
    note = (note or "").strip() or None
    if to == LeadStatus.REJECTED and reason_code not in REASON_CODES:
        raise InvalidInputError({"reason_code": ["required" if not reason_code else "invalid_choice"]})
    need = _lock_need(session, lead.need_id)
    assert need is not None
    loan_row: Loan | None = None
    if to == LeadStatus.DISBURSED:
        if loan is None:
            raise InvalidInputError({"loan": ["required"]})
        errors = validate_loan(loan, pushed_on=lead.pushed_at.astimezone(SHANGHAI).date())
        if errors:
            raise InvalidInputError(errors)
    values: dict[str, Any] = {"note": note} if note else {}
    if to == LeadStatus.REJECTED:
        values["reason_code"] = reason_code
    if not _set_lead_status(
        session,
        lead,
        LeadStatus(to),
        allowed_from=frozenset({lead.status}),
        actor_id=officer_id,
        values=values,
        note=note,
        data={"reason_code": reason_code} if reason_code and to == LeadStatus.REJECTED else None,
    ):
        raise IllegalTransitionError(f"{lead.status}->{to}")
    if to == LeadStatus.DISBURSED:
        assert loan is not None
        if not _set_need_status(
            session,
            need,
            NeedStatus.DISBURSED,
            allowed_from=frozenset({NeedStatus.IN_PROGRESS, NeedStatus.MATCHED}),
            actor_id=officer_id,
        ):
            raise IllegalTransitionError(f"need {need.status}->disbursed")
        loan_row = Loan(
            lead_id=lead.id,
            need_id=need.id,
            borrower_id=need.borrower_id,
            institution_id=lead.institution_id,
            product_id=lead.product_id,
            amount=money(loan.amount),
            rate=money(loan.rate),
            term_months=loan.term_months,
            collateral=loan.collateral,
            disbursed_on=loan.disbursed_on,
            first_loan_borrower=loan.first_loan_borrower,
            renewal_without_repayment=loan.renewal_without_repayment,
            recorded_by=officer_id,
            note=note,
        )
        session.add(loan_row)
        session.flush()
        _close_other_leads(session, need, keep_lead_id=lead.id, actor_id=officer_id)
    elif to == LeadStatus.REJECTED:
        _settle_need_if_exhausted(session, need, actor_id=officer_id)
    return lead


def _settle_need_if_exhausted(session: Session, need: Need, *, actor_id: int | None) -> None:
    open_count = session.scalar(
        select(func.count()).where(Lead.need_id == need.id, Lead.status.in_(list(OPEN_LEAD_STATUSES)))
    )
    if open_count == 0:
        _set_need_status(
            session,
            need,
            NeedStatus.REJECTED,
            allowed_from=frozenset({NeedStatus.MATCHED, NeedStatus.IN_PROGRESS}),
            actor_id=actor_id,
        )


def loan_for_lead(session: Session, lead_id: int) -> Loan | None:
    return session.scalar(select(Loan).where(Loan.lead_id == lead_id))


def loans_for_leads(session: Session, lead_ids: Iterable[int]) -> dict[int, Loan]:
    """`loan_for_lead` of many leads in one query, by lead id; a lead without a loan is absent."""
    ids = sorted(set(lead_ids))
    if not ids:
        return {}
    return {loan.lead_id: loan for loan in session.scalars(select(Loan).where(Loan.lead_id.in_(ids)))}


def is_final(need: Need) -> bool:
    return need.status in FINAL_NEED_STATUSES


# --- loan performance and the training table ---------------------------------------------------------


def report_performance(
    session: Session,
    lead_id: int,
    *,
    officer_id: int,
    institution_id: int,
    as_of: dt.date,
    overdue_30: bool,
    overdue_90: bool,
) -> LoanPerformance:
    """Record whether the lead's loan has ever been 30 or 90 days past due by ``as_of``.

    Any officer of the lead's institution may report. Reports are appended: a later one for the same
    ``as_of`` corrects an earlier one. Raises LeadNotFoundError (unknown or another institution's),
    LoanNotDisbursedError (the lead has no disbursed loan), InvalidInputError (``as_of`` in the future
    or before disbursement; ``overdue_90`` without ``overdue_30``).
    """
    lead = get_lead(session, lead_id, institution_id=institution_id)
    loan = loan_for_lead(session, lead.id)
    if lead.status != LeadStatus.DISBURSED or loan is None:
        raise LoanNotDisbursedError(lead.status)
    errors: dict[str, list[str]] = {}
    if as_of > local_today():
        errors["as_of"] = ["in_future"]
    elif as_of < loan.disbursed_on:
        errors["as_of"] = ["before_disbursement"]
    if overdue_90 and not overdue_30:
        # 90 days past due has necessarily been 30 days past due first.
        errors["overdue_30"] = ["implied_by_overdue_90"]
    if errors:
        raise InvalidInputError(errors)
    report = LoanPerformance(
        loan_id=loan.id,
        reported_at=utcnow(),
        as_of=as_of,
        overdue_30=overdue_30,
        overdue_90=overdue_90,
        reported_by=officer_id,
    )
    session.add(report)
    session.flush()
    return report


def loan_performance(session: Session, loan_id: int) -> Sequence[LoanPerformance]:
    """Every report on the loan, oldest first."""
    return session.scalars(
        select(LoanPerformance).where(LoanPerformance.loan_id == loan_id).order_by(LoanPerformance.id)
    ).all()


def loan_performances(session: Session, loan_ids: Iterable[int]) -> dict[int, list[LoanPerformance]]:
    """`loan_performance` of many loans in one query, by loan id; a loan without reports is absent."""
    ids = sorted(set(loan_ids))
    if not ids:
        return {}
    reports: dict[int, list[LoanPerformance]] = {}
    stmt = select(LoanPerformance).where(LoanPerformance.loan_id.in_(ids)).order_by(LoanPerformance.id)
    for report in session.scalars(stmt):
        reports.setdefault(report.loan_id, []).append(report)
    return reports


TRAINING_TARGETS = ("overdue_90", "overdue_30")


@dataclass(frozen=True)
class TrainingRow:
    loan_id: int
    borrower_id: int
    disbursed_on: dt.date
    features: dict[str, FeatureValue]
    bad: int


def _outcome(reports: Sequence[LoanPerformance], target: str) -> tuple[bool, dt.date]:
    """Whether the loan went bad by its latest report (the last report per date counts), and that date."""
    latest: dict[dt.date, LoanPerformance] = {}
    for report in sorted(reports, key=lambda r: r.id):
        latest[report.as_of] = report
    bad = any(getattr(report, target) for report in latest.values())
    return bad, max(latest)


def _months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)


def training_table(
    session: Session, *, target: str = "overdue_90", min_months_on_book: int = 0
) -> list[TrainingRow]:
    """One row per disbursed loan with at least one performance report: the borrower's features as
    they stood at disbursement and the outcome (1 = bad: ever ``target`` by the latest report).

    Features use only records an active consent covers now (so a revoked consent removes the
    borrower's data from every later export) and months before the month of disbursement (no
    look-ahead). Each borrower's data read is recorded as a ``model_training`` use of the consents
    covering it. A loan that has not gone bad is left out until its latest report is at least
    ``min_months_on_book`` months after disbursement. Raises InvalidInputError for an unknown target.
    """
    if target not in TRAINING_TARGETS:
        raise InvalidInputError({"target": ["invalid_choice"]})
    if min_months_on_book < 0:
        raise InvalidInputError({"min_months_on_book": ["out_of_range"]})
    reports: dict[int, list[LoanPerformance]] = {}
    for report in session.scalars(select(LoanPerformance).order_by(LoanPerformance.id)):
        reports.setdefault(report.loan_id, []).append(report)
    loans = session.scalars(
        select(Loan).where(Loan.id.in_(list(reports))).order_by(Loan.disbursed_on, Loan.id)
    ).all()
    rows: list[TrainingRow] = []
    for loan in loans:
        bad, last_report = _outcome(reports[loan.id], target)
        if not bad and _months_between(loan.disbursed_on, last_report) < min_months_on_book:
            continue
        as_of = period_label(period_index(f"{loan.disbursed_on:%Y-%m}") - 1)
        data = consented_data(session, loan.borrower_id)
        records = {source: [r for r in held if r.period <= as_of] for source, held in data.records.items()}
        covering = {
            consent.id: consent
            for source, held in records.items()
            for r in held
            if (consent := consent_for_record(data.consents, source, r.period)) is not None
        }
        for consent_id in sorted(covering):
            record_use(
                session,
                borrower_id=loan.borrower_id,
                consent_id=consent_id,
                action="model_training",
                detail=f"loan {loan.id}",
            )
        rows.append(
            TrainingRow(
                loan_id=loan.id,
                borrower_id=loan.borrower_id,
                disbursed_on=loan.disbursed_on,
                features=features_from_records(records, as_of=as_of),
                bad=int(bad),
            )
        )
    return rows


TRAINING_COLUMNS = ("loan_id", *FEATURE_NAMES)


# --- consent recipients ------------------------------------------------------------------------------


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
