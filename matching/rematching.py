"""Re-matching open needs when the catalogue or a borrower's profile changes."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matching import engine
from matching.dispatch import MatchContext, evaluate, load_match_context, need_specs, push
from matching.models import (
    Lead,
    Need,
    NeedStatus,
)
from matching.states import lock_need, need_event, set_need_status
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
    institution) key refuses a second push, whoever got there first. Returns the new leads."""
    need = lock_need(session, need_id)
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
    specs = need_specs(session, need)[:2]
    if probe is not None and not evaluate(session, need, probe, limit=0, specs=specs).eligible_count:
        return []
    result = evaluate(session, need, context, limit=room, specs=specs)
    if not result.picks:
        return []
    need.dispatch_round = round_no
    leads = push(session, need, context, result, round_no=round_no)
    if leads and need.status == NeedStatus.UNMATCHED:
        set_need_status(
            session,
            need,
            NeedStatus.MATCHED,
            allowed_from=frozenset({NeedStatus.UNMATCHED}),
            actor_id=None,
            data={"leads": len(leads), "round": round_no, "reason": reason},
        )
    elif leads:
        need_event(session, need, {"kind": "topped_up", "leads": len(leads), "reason": reason})
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
