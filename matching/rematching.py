"""Re-matching open needs when the catalogue or a borrower's profile changes."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.types import money, utcnow
from matching import engine
from matching.dispatch import (
    MatchContext,
    NeedPush,
    Settled,
    evaluate,
    leads_so_far,
    load_match_context,
    need_specs,
    needs_specs,
    push,
    push_many,
)
from matching.errors import NeedClaimedError, NeedStateError
from matching.models import (
    Lead,
    LeadStatus,
    Need,
    NeedStatus,
)
from matching.needs import (
    OPEN_NEED_STATUSES,
    NeedInput,
    RenewalInput,
    check_open_needs,
    lock_borrower,
    validate_need,
)
from matching.states import lock_need, lock_needs, need_event, set_lead_status, set_need_status
from products.services import CATALOGUE_CHANGED_JOB

# Re-matching after a catalogue change is announced by the products package (its outbox job).
REMATCH_JOB = CATALOGUE_CHANGED_JOB
REMATCH_BORROWER_JOB = "rematch_borrower"


REMATCH_STATUSES = (NeedStatus.UNMATCHED, NeedStatus.MATCHED)


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
    institution) key refuses a second push, whoever got there first. Returns the new leads
    (`rematch_needs` of one)."""
    return rematch_needs(session, [need_id], top_n=top_n, context=context, probe=probe, reason=reason)


def rematch_needs(
    session: Session,
    need_ids: Collection[int],
    *,
    top_n: int,
    context: MatchContext,
    probe: engine.ProductIndex | None = None,
    reason: str = "product",
) -> list[Lead]:
    """`rematch_need` for many needs in one transaction, set-based: the needs locked in id order in
    one statement, their leads, borrowers and scores read in one statement each, and every topped-up
    need's leads, events, notifications and status written with one statement per table
    (`push_many`): the same rows, in the same order, as `rematch_need` for each need one after
    another. A need that has left `unmatched` or `matched` is skipped. Returns the new leads, need
    by need."""
    needs = [need for need in lock_needs(session, need_ids) if need.status in REMATCH_STATUSES]
    if not needs:
        return []
    so_far = leads_so_far(session, [need.id for need in needs])
    specs = needs_specs(session, needs)
    pushes = []
    for need in needs:
        round_no = max(need.dispatch_round, 1)
        if need.open_to_all:
            room = max(context.institution_count, 1)
        else:
            room = top_n - sum(1 for _, pushed_in in so_far[need.id] if pushed_in == round_no)
        if room <= 0:
            continue
        tried = {institution_id for institution_id, _ in so_far[need.id]}
        if (
            probe is not None
            and not evaluate(session, need, probe, limit=0, specs=specs[need.id], tried=tried).eligible_count
        ):
            continue
        result = evaluate(session, need, context, limit=room, specs=specs[need.id], tried=tried)
        if not result.picks:
            continue
        need.dispatch_round = round_no
        pushes.append(NeedPush.of(need, result, context, round_no))

    def settle(need: Need, leads: int) -> Settled | None:
        if not leads:
            return None
        if need.status == NeedStatus.UNMATCHED:
            return Settled(
                NeedStatus.MATCHED, {"leads": leads, "round": need.dispatch_round, "reason": reason}
            )
        return Settled(need.status, {"kind": "topped_up", "leads": leads, "reason": reason})

    return [lead for leads in push_many(session, context, pushes, settle=settle) for lead in leads]


def rematch_open_needs(
    session: Session,
    *,
    top_n: int,
    product_id: int | None = None,
    borrower_id: int | None = None,
    reason: str = "product",
) -> list[Lead]:
    """Push open needs to institutions the catalogue or the borrower's score now makes eligible, in
    one transaction (`rematch_needs` of every candidate; the jobs run a batch per transaction).

    With `product_id` (a published product), needs that product cannot serve are skipped without
    ranking; with `borrower_id`, only that borrower's needs are looked at. Safe to run twice and
    concurrently. Returns the new leads.
    """
    need_ids = rematch_candidates(session, borrower_id=borrower_id)
    if not need_ids:
        return []
    context = load_match_context(session)
    probe = product_probe(context, product_id)
    return rematch_needs(session, need_ids, top_n=top_n, context=context, probe=probe, reason=reason)


@dataclass(frozen=True)
class NeedChanges:
    """What an applicant may change on a need before anyone claims it; None keeps the value."""

    amount: Decimal | None = None
    term_months: int | None = None
    purpose: str | None = None
    collateral: str | None = None


# A lead of the need in any of these states means a bank is working on it: the need is no longer edited.
CLAIMED_LEAD_STATUSES = frozenset(
    {LeadStatus.CLAIMED, LeadStatus.CONTACTED, LeadStatus.APPROVED, LeadStatus.DISBURSED}
)


def edit_need(
    session: Session, need: Need, changes: NeedChanges, *, actor_id: int | None, top_n: int
) -> Need:
    """Change an open need nobody has claimed, and match it again at once: pushed leads whose product no
    longer fits are closed, and the need is topped up to `top_n` open leads (an `unmatched` need that
    now fits becomes `matched`, a `matched` one that no longer fits anything becomes `unmatched`). A
    need still `submitted` keeps its queued first round, which reads the new values.

    Raises InvalidInputError, DuplicateNeedError, NeedStateError (not open), NeedClaimedError.
    """
    lock_borrower(session, need.borrower_id)
    locked = lock_need(session, need.id)
    assert locked is not None
    if locked.status not in OPEN_NEED_STATUSES:
        raise NeedStateError(locked.status)
    claimed = session.scalar(
        select(func.count()).where(Lead.need_id == need.id, Lead.status.in_(list(CLAIMED_LEAD_STATUSES)))
    )
    if claimed:
        raise NeedClaimedError()
    data = NeedInput(
        amount=changes.amount if changes.amount is not None else locked.amount,
        term_months=changes.term_months if changes.term_months is not None else locked.term_months,
        purpose=changes.purpose if changes.purpose is not None else locked.purpose,
        collateral=changes.collateral if changes.collateral is not None else locked.collateral,
        declared_prior_loan=locked.declared_prior_loan,
        renewal=RenewalInput(
            current_amount=locked.renewal_current_amount or Decimal(0),
            matures_on=locked.renewal_matures_on,
            institution_code=locked.renewal_institution_code,
        )
        if locked.is_renewal and locked.renewal_matures_on is not None
        else None,
    )
    errors = {k: v for k, v in validate_need(session, data).items() if not k.startswith("renewal.")}
    if errors:
        raise InvalidInputError(errors)
    check_open_needs(
        session,
        borrower_id=locked.borrower_id,
        amount=data.amount,
        term_months=data.term_months,
        collateral=data.collateral,
        except_need_id=locked.id,
        adding=False,
    )
    before: dict[str, Any] = {
        "amount": str(locked.amount),
        "term_months": locked.term_months,
        "purpose": locked.purpose,
        "collateral": locked.collateral,
    }
    locked.amount = money(data.amount)
    locked.term_months = data.term_months
    locked.purpose = data.purpose.strip()
    locked.collateral = data.collateral
    locked.updated_at = utcnow()
    session.flush()
    need_event(session, locked, {"kind": "edited", "before": before})
    if locked.status != NeedStatus.SUBMITTED:
        _rematch_edited(session, locked, actor_id=actor_id, top_n=top_n)
    return locked


def _rematch_edited(session: Session, need: Need, *, actor_id: int | None, top_n: int) -> None:
    context = load_match_context(session)
    specs = need_specs(session, need)[:2]
    pushed = session.scalars(
        select(Lead).where(Lead.need_id == need.id, Lead.status == LeadStatus.PUSHED).order_by(Lead.id)
    ).all()
    still_open = 0
    for lead in pushed:
        entry = context.products.get(lead.product_id)
        fits = entry is not None and engine.evaluate(*specs, [entry.spec], {}, top_n=1).eligible_count
        if fits:
            still_open += 1
            continue
        set_lead_status(
            session,
            lead,
            LeadStatus.CLOSED,
            allowed_from=frozenset({LeadStatus.PUSHED}),
            actor_id=actor_id,
            values={"reason_code": "need_edited"},
            data={"reason": "need_edited"},
        )
    round_no = max(need.dispatch_round, 1)
    result = evaluate(session, need, context, limit=max(top_n - still_open, 0), specs=specs)
    need.dispatch_round = round_no
    leads = push(session, need, context, result, round_no=round_no)
    matched = bool(still_open + len(leads))
    set_need_status(
        session,
        need,
        NeedStatus.MATCHED if matched else NeedStatus.UNMATCHED,
        allowed_from=frozenset({NeedStatus.UNMATCHED if matched else NeedStatus.MATCHED}),
        actor_id=None,
        data={"leads": len(leads), "round": round_no, "reason": "edited"},
    )
