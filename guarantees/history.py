"""Each step of a cover or a bridge as a status event in the audit trail (core.events), and an in-app
note to the borrower it concerns (worded here, as matching.notices words its SMS texts)."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.events import record_event
from core.i18n import N_
from core.models import Role, User
from core.notifications import notify
from guarantees.codes import GUARANTEE_LABELS

BORROWER_TEXTS = {
    "guarantee_cover": N_("您的贷款担保/补偿#{id}：{status}"),
    "bridge_application": N_("您的续贷周转金申请#{id}：{status}"),
}
STATUS_TABLES = {"guarantee_cover": "cover_status", "bridge_application": "bridge_status"}


class Tracked(Protocol):
    id: int
    status: str
    borrower_id: int


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
    """Record the row's move from `before` to its current status, with `data` for the page to show; a
    change of status is also told to the borrower's applicant accounts (not a step within a status)."""
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
    if before == row.status:
        return
    users = session.scalars(
        select(User.id).where(
            User.borrower_id == row.borrower_id, User.role == Role.APPLICANT, User.active.is_(True)
        )
    ).all()
    status = GUARANTEE_LABELS[STATUS_TABLES[entity_type]].get(row.status, row.status)
    text = BORROWER_TEXTS[entity_type].format(id=row.id, status=status)
    notify(session, users, kind=entity_type, data={"text": text, "id": row.id})
