"""Status events: the append-only history of needs, leads, loans and consents, chained into the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core import audit
from core.models import StatusEvent
from core.sql import ordered_insert
from core.types import utcnow


def record_event(
    session: Session,
    *,
    entity_type: str,
    entity_id: int,
    to_status: str,
    from_status: str | None = None,
    actor_id: int | None = None,
    need_id: int | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> StatusEvent:
    """Append one status-change row to the audit trail; the commit seals it into the hash chain."""
    event = StatusEvent(
        entity_type=entity_type,
        entity_id=entity_id,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor_id,
        need_id=need_id,
        note=note,
        data=data,
        at=utcnow(),
    )
    session.add(event)
    session.flush()
    audit.mark_pending(session)
    return event


@dataclass(frozen=True, slots=True)
class NewEvent:
    """One status change for `record_events`: the arguments of `record_event`."""

    entity_type: str
    entity_id: int
    to_status: str
    from_status: str | None = None
    actor_id: int | None = None
    need_id: int | None = None
    note: str | None = None
    data: dict[str, Any] | None = None


def record_events(
    session: Session, events: Sequence[NewEvent], *, at: dt.datetime | None = None
) -> list[int]:
    """Append the status changes in one INSERT, in the given order (their ids ascend in that order, as
    the commit chains them), all at `at` (default now). Returns their ids, in the same order."""
    if not events:
        return []
    at = at or utcnow()
    rows = [
        {
            "entity_type": e.entity_type,
            "entity_id": e.entity_id,
            "from_status": e.from_status,
            "to_status": e.to_status,
            "actor_id": e.actor_id,
            "need_id": e.need_id,
            "note": e.note,
            "data": e.data,
            "at": at,
        }
        for e in events
    ]
    # The ids must ascend in the order given (the commit chains the events by id): core.sql.ordered_insert
    # writes the rows in their order on PostgreSQL. SQLite, one writer at a time, gives rowids in VALUES
    # order and RETURNING in any order: sorting restores it.
    # render_nulls (SQLite): a None is sent as NULL rather than leaving the column out, so that every row
    # has the same columns and they all go in one statement (a need's event among its leads' would
    # otherwise split it: the ORM batches consecutive rows with the same columns only).
    stmt, params = ordered_insert(session, StatusEvent, rows)
    ids = sorted(
        session.scalars(stmt.returning(StatusEvent.id), params, execution_options={"render_nulls": True})
    )
    audit.mark_pending(session)
    return ids
