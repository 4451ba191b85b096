"""Alerts for the finance offices: needs no bank took up, raised to the borrower's county."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.models import StatusEvent
from core.reference import CITY_CODE
from core.types import utcnow
from credit_profile.models import Borrower
from matching import notices
from matching.models import (
    Alert,
    AlertKind,
    Need,
)


def raise_alert(
    session: Session,
    need: Need,
    event: StatusEvent,
    data: dict[str, Any],
    *,
    kind: AlertKind = AlertKind.OPEN_TO_ALL,
) -> None:
    """Raise the alert of `kind` for the need in its borrower's county, once, and tell the county's
    and the city's finance offices in-app."""
    borrower = session.get(Borrower, need.borrower_id)
    assert borrower is not None
    alert = Alert(
        kind=kind,
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
    notices.need_alerted(session, need, event, region_code=borrower.region_code, kind=kind)


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
