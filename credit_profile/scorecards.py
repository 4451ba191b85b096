"""Scorecard versions: registering a trained card, listing versions, activating one."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.events import record_event
from core.outbox import add_job
from core.types import utcnow
from credit_profile.errors import (
    ScorecardNotFoundError,
    ScorecardVersionConflictError,
)
from credit_profile.features import (
    FEATURE_NAMES,
)
from credit_profile.models import (
    Borrower,
    ScorecardVersion,
)
from credit_profile.scorecard import Scorecard, ScorecardFormatError


def register_scorecard(
    session: Session, artefact: Mapping[str, Any], *, note: str | None = None
) -> ScorecardVersion:
    """Store a scorecard artefact as an inactive version; registering the same artefact again is a no-op.

    Raises InvalidInputError (``model``: ``invalid_format``, or ``unknown_characteristic`` when the
    card scores a characteristic the platform does not compute) and ScorecardVersionConflictError when
    another artefact already has this version.
    """
    try:
        card = Scorecard.from_dict(artefact)
    except (ScorecardFormatError, TypeError, AttributeError, KeyError) as exc:
        raise InvalidInputError({"model": ["invalid_format"]}, detail=str(exc)) from exc
    unknown = [c.name for c in card.characteristics if c.name not in FEATURE_NAMES]
    if unknown:
        raise InvalidInputError({"model": ["unknown_characteristic"]}, detail=", ".join(unknown))
    stored = card.to_dict()
    existing = session.scalar(select(ScorecardVersion).where(ScorecardVersion.version == card.version))
    if existing is not None:
        if existing.artefact != stored:
            raise ScorecardVersionConflictError(card.version)
        return existing
    row = ScorecardVersion(
        version=card.version, artefact=stored, active=False, note=note, created_at=utcnow()
    )
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise ScorecardVersionConflictError(card.version) from exc
    return row


def list_scorecards(session: Session) -> Sequence[ScorecardVersion]:
    """Every registered version, newest first."""
    return session.scalars(
        select(ScorecardVersion).order_by(ScorecardVersion.created_at.desc(), ScorecardVersion.id.desc())
    ).all()


def activate_scorecard(session: Session, version: str, *, actor_id: int | None) -> ScorecardVersion:
    """Make this version the one every new score uses, and every other version inactive.

    Queues a recomputation of every borrower's score. Raises ScorecardNotFoundError, and
    ScorecardVersionConflictError if a concurrent activation won.
    """
    # Locking every row serialises concurrent activations (a handful of rows; SQLite locks the file).
    rows = session.scalars(select(ScorecardVersion).order_by(ScorecardVersion.id).with_for_update()).all()
    target = next((row for row in rows if row.version == version), None)
    if target is None:
        raise ScorecardNotFoundError(version)
    previous = next((row for row in rows if row.active), None)
    if previous is not None and previous.id == target.id:
        return target
    try:
        with session.begin_nested():
            session.execute(
                update(ScorecardVersion)
                .where(ScorecardVersion.active.is_(True), ScorecardVersion.id != target.id)
                .values(active=False)
            )
            session.execute(
                update(ScorecardVersion).where(ScorecardVersion.id == target.id).values(active=True)
            )
    except IntegrityError as exc:
        raise ScorecardVersionConflictError(version) from exc
    for row in rows:
        session.refresh(row)
    record_event(
        session,
        entity_type="scorecard_version",
        entity_id=target.id,
        from_status="inactive",
        to_status="active",
        actor_id=actor_id,
        data={"previous": previous.version if previous else None},
    )
    add_job(session, RESCORE_ALL_JOB, f"{RESCORE_ALL_JOB}:{target.version}:{secrets.token_hex(6)}")
    return target


RESCORE_ALL_JOB = "recompute_all_scores"


def borrower_ids_after(session: Session, after_id: int, *, limit: int) -> list[int]:
    """Borrower ids greater than ``after_id``, ascending: the pages a batch job walks through."""
    return list(
        session.scalars(select(Borrower.id).where(Borrower.id > after_id).order_by(Borrower.id).limit(limit))
    )
