"""Each step of a cover or a bridge as a status event in the audit trail (core.events)."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from core.events import record_event


class Tracked(Protocol):
    id: int
    status: str


def record_step(
    session: Session,
    entity_type: str,
    row: Tracked,
    before: str | None,
    *,
    actor_id: int | None,
    note: str | None = None,
    **data: str,
) -> None:
    """Record the row's move from `before` to its current status, with `data` for the page to show."""
    record_event(
        session,
        entity_type=entity_type,
        entity_id=row.id,
        from_status=before,
        to_status=row.status,
        actor_id=actor_id,
        note=note,
        data=data or None,
    )
