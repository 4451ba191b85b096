"""Status events: the append-only history of needs, leads, loans and consents, chained into the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core import audit
from core.models import StatusEvent
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
