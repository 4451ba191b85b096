"""The SLA clocks: leads left unclaimed past their deadline expire, claimed leads left without follow-up are
released, and the need moves on to its next dispatch round.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.events import record_event
from core.i18n import N_
from core.types import utcnow
from matching import notices
from matching.alerts import raise_alert
from matching.dispatch import ContextCache, DispatchPolicy, MatchContext, evaluate, push
from matching.models import (
    OPEN_LEAD_STATUSES,
    AlertKind,
    Lead,
    LeadStatus,
    Need,
    NeedStatus,
)
from matching.states import (
    institution_name,
    lock_need,
    need_event,
    set_lead_status,
    set_need_status,
    settle_need_if_exhausted,
)
from matching.workhours import working_hours_between
from products.models import Product


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
    result = evaluate(session, need, context, limit=limit)
    need.dispatch_round = previous_round + 1
    if opening:
        need.open_to_all = True
    leads = push(session, need, context, result, round_no=need.dispatch_round)
    if leads and need.status == NeedStatus.IN_PROGRESS:
        set_need_status(
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
    event = need_event(session, need, data)
    if opening:
        raise_alert(session, need, event, data)
    if not leads:
        settle_need_if_exhausted(session, need, actor_id=None)
        if not need.open_to_all:
            # Out of institutions before the last round: the county hears now, not never.
            raise_alert(session, need, event, data, kind=AlertKind.NO_INSTITUTIONS)
    return leads


def redispatch_if_exhausted(
    session: Session, need: Need, *, policy: DispatchPolicy, reason: str, cache: ContextCache | None = None
) -> list[Lead]:
    """The next round for a (locked) need still being dispatched when none of its leads is open any
    more (an officer declined the last one, say); nothing otherwise. Returns the leads pushed."""
    if need.status not in (NeedStatus.MATCHED, NeedStatus.IN_PROGRESS) or _open_leads(session, need.id):
        return []
    return _redispatch(session, need, (cache or ContextCache()).get(session), policy, reason=reason)


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
    need = lock_need(session, need_id)
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
        if set_lead_status(
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
RELEASE_NOTE = N_("超过跟进时限未更新进度，线索已释放并转给其他机构")


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
    calendar = cache.calendar(session)
    if lead.stale_flagged_at is None:
        if working_hours_between(lead.updated_at, now, calendar=calendar) >= window and _flag_stale(
            session, lead.lead_id, status=lead.status, since=lead.updated_at, hours=window, now=now
        ):
            return "flagged"
        return None
    if working_hours_between(lead.stale_flagged_at, now, calendar=calendar) < window:
        return None
    need = lock_need(session, lead.need_id)
    row = session.get(Lead, lead.lead_id)
    if (
        need is None
        or row is None
        or not set_lead_status(
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
        set_need_status(
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
        data={"kind": "stale_flagged", "hours": hours, "institution": institution_name(session, lead)},
    )
    notices.lead_stale(session, lead, event, hours=hours)
    return True
