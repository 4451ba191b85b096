"""The pipeline's shared state changes: locking a need, moving a need or a lead to a status with its event,
closing a need's other leads, settling a need that has run out of leads.

Lock order: whatever changes a need and its leads first locks the need row (`SELECT ... FOR UPDATE` on
PostgreSQL; SQLite serialises writers anyway), then touches its leads. Claims, transitions, dispatch rounds,
sweeps and re-matching all follow it, so two of them never deadlock and never both decide that a need has
run out of leads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Update, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.events import record_event
from core.models import StatusEvent
from core.types import utcnow
from matching import notices
from matching.models import (
    OPEN_LEAD_STATUSES,
    Lead,
    LeadStatus,
    Need,
    NeedStatus,
)
from products.models import Institution


def lock_need(session: Session, need_id: int) -> Need | None:
    """The need, re-read under a row lock held to the end of the transaction (see the module doc)."""
    return session.scalar(
        select(Need).where(Need.id == need_id).with_for_update().execution_options(populate_existing=True)
    )


def lock_needs(session: Session, need_ids: Collection[int]) -> list[Need]:
    """The needs that exist among `need_ids`, re-read under row locks taken in id order in one
    statement (`lock_need` for a batch: two batches locking in the same order never deadlock)."""
    if not need_ids:
        return []
    return list(
        session.scalars(
            select(Need)
            .where(Need.id.in_(sorted(set(need_ids))))
            .order_by(Need.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _update_loaded(session: Session, target: Need | Lead, stmt: Update, columns: list[str]) -> bool:
    """Run a conditional UPDATE of the target's row; True if it matched. The written columns are loaded
    into the target from RETURNING, or, when another transaction moved the row first, re-read."""
    table = type(target).__table__
    row = session.execute(
        stmt.returning(*(table.c[name] for name in columns)).execution_options(synchronize_session=False)
    ).first()
    if row is None:
        session.refresh(target, columns)
        return False
    for name, value in zip(columns, row, strict=True):
        set_committed_value(target, name, value)
    return True


def set_need_status(
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
    stmt = update(Need).where(Need.id == need.id, Need.status.in_(list(allowed_from)))
    if not _update_loaded(
        session, need, stmt.values(status=to, updated_at=utcnow()), ["status", "updated_at"]
    ):
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


def move_needs(session: Session, moves: Sequence[tuple[Need, str]]) -> None:
    """Move locked needs (`lock_needs`) from the status they were read in, without events: one UPDATE
    for every pair of statuses (from, to) among them, whatever the number of needs, the new status and
    time loaded into each need. The callers write the events (`dispatch.push_many`)."""
    pairs: dict[tuple[str, str], list[Need]] = {}
    for need, to in moves:
        if to != need.status:
            pairs.setdefault((need.status, to), []).append(need)
    now = utcnow()
    for (was, to), needs in pairs.items():
        session.execute(
            update(Need)
            .where(Need.id.in_([need.id for need in needs]), Need.status == was)
            .values(status=to, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        for need in needs:
            set_committed_value(need, "status", to)
            set_committed_value(need, "updated_at", now)


def need_event(session: Session, need: Need, data: dict[str, Any]) -> StatusEvent:
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


def lead_event(
    session: Session, lead: Lead, data: dict[str, Any], *, actor_id: int, note: str | None = None
) -> StatusEvent:
    """An entry of the lead's own history that does not change its status (a note, a hand-over, a
    loan correction): the institution's, so not part of the need's (the applicant's) timeline."""
    return record_event(
        session,
        entity_type="lead",
        entity_id=lead.id,
        from_status=lead.status,
        to_status=lead.status,
        actor_id=actor_id,
        note=note,
        data=data,
    )


def close_other_leads(
    session: Session, need: Need, *, keep_lead_id: int | None, actor_id: int | None
) -> None:
    leads = session.scalars(
        select(Lead).where(
            Lead.need_id == need.id, Lead.status.in_(list(OPEN_LEAD_STATUSES)), Lead.id != (keep_lead_id or 0)
        )
    ).all()
    for lead in leads:
        set_lead_status(session, lead, LeadStatus.CLOSED, allowed_from=OPEN_LEAD_STATUSES, actor_id=actor_id)


def institution_name(session: Session, lead: Lead) -> str:
    institution = session.get(Institution, lead.institution_id)
    return institution.name if institution else ""


def set_lead_status(
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
    stmt = stmt.values(status=to, updated_at=utcnow(), stale_flagged_at=None, **(values or {}))
    if not _update_loaded(session, lead, stmt, ["status", "updated_at", "stale_flagged_at", *(values or {})]):
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
        data={**(data or {}), "institution": institution_name(session, lead)},
    )
    notices.lead_status_changed(session, lead, event, actor_id=actor_id)
    return True


def settle_need_if_exhausted(session: Session, need: Need, *, actor_id: int | None) -> None:
    open_count = session.scalar(
        select(func.count()).where(Lead.need_id == need.id, Lead.status.in_(list(OPEN_LEAD_STATUSES)))
    )
    if open_count == 0:
        set_need_status(
            session,
            need,
            NeedStatus.REJECTED,
            allowed_from=frozenset({NeedStatus.MATCHED, NeedStatus.IN_PROGRESS}),
            actor_id=actor_id,
        )
