"""Scorecard versions: registering a trained card, listing versions with their quality beside the active
one, activating one (with a quality gate and an audited reason), and the monthly stability check.

A trained artefact's ``metadata`` records its method, its training data's fingerprint and its
validation figures (credit_profile.training). Activating a version whose validation AUC is below the
active version's, or below ``MIN_AUC``, or unknown (a hand-written card that is not the expert one)
needs an explicit reason, stored in the audit trail. The built-in expert card can always be activated
again. Activation queues a recomputation of every borrower's score, which re-matches their open needs.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.events import record_event
from core.models import StatusEvent
from core.outbox import add_job
from core.types import utcnow
from credit_profile.characteristics import FEATURE_LABELS
from credit_profile.errors import (
    ScorecardNotFoundError,
    ScorecardVersionConflictError,
)
from credit_profile.expert import EXPERT_VERSION, expert_scorecard
from credit_profile.features import (
    FEATURE_NAMES,
)
from credit_profile.models import (
    Borrower,
    CreditScore,
    ScorecardVersion,
)
from credit_profile.scorecard import Scorecard, ScorecardFormatError
from credit_profile.stability import PSI_WARNING, psi_against

log = logging.getLogger(__name__)

MIN_AUC: Final = 0.6
"""Below this validation AUC a version is activated only with a reason (0.5 is a coin toss)."""
MAX_REASON_LENGTH: Final = 500
ENTITY: Final = "scorecard_version"
PSI_EVENT: Final = "psi_checked"


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
    # Whatever the trainer was given as labels, borrowers and officers read the platform's Chinese names.
    for characteristic in stored["characteristics"]:
        characteristic["label"] = FEATURE_LABELS[characteristic["name"]]
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


@dataclass(frozen=True)
class VersionQuality:
    """What an administrator weighs before activating a version (from its artefact's metadata)."""

    version: str
    kind: str  # "expert", "trained" or "manual"
    method: str | None
    fingerprint: str | None
    training_rows: int | None
    validation_auc: float | None
    validation_ks: float | None
    validation_gini: float | None
    validation_psi: float | None
    reference_auc: float | None
    characteristics: tuple[str, ...]
    interactions: tuple[str, ...]


def version_quality(artefact: Mapping[str, Any]) -> VersionQuality:
    """Read a version's method, data fingerprint and validation figures from its artefact. Raises nothing."""
    metadata = artefact.get("metadata") or {}
    validation = metadata.get("validation") or {}
    training = metadata.get("training_data") or {}
    reference = metadata.get("reference") or {}
    kind = "expert" if metadata.get("kind") == "expert" else "trained" if validation else "manual"

    def number(source: Mapping[str, Any], key: str) -> float | None:
        value = source.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    return VersionQuality(
        version=str(artefact.get("version")),
        kind=kind,
        method=metadata.get("method") if kind == "trained" else None,
        fingerprint=training.get("fingerprint"),
        training_rows=training.get("n_rows"),
        validation_auc=number(validation, "auc"),
        validation_ks=number(validation, "ks"),
        validation_gini=number(validation, "gini"),
        validation_psi=number(validation, "psi"),
        reference_auc=number(reference, "auc"),
        characteristics=tuple(str(c.get("name")) for c in artefact.get("characteristics", [])),
        interactions=tuple(
            "&".join(str(a.get("name")) for a in i.get("axes", [])) for i in artefact.get("interactions", [])
        ),
    )


def needs_reason(target: VersionQuality, active: VersionQuality | None) -> bool:
    """Whether activating ``target`` over ``active`` needs an explicit reason (see the module docstring)."""
    if target.kind == "expert":
        return False
    if target.validation_auc is None or target.validation_auc < MIN_AUC:
        return True
    return bool(
        active and active.validation_auc is not None and target.validation_auc < active.validation_auc
    )


def activate_scorecard(
    session: Session, version: str, *, actor_id: int | None, reason: str | None = None
) -> ScorecardVersion:
    """Make this version the one every new score uses, and every other version inactive.

    ``version`` may be the built-in expert card's (``EXPERT_VERSION``), which is registered on first
    use and can always be activated again. A version whose validation AUC is below the active one's,
    below ``MIN_AUC`` or unknown needs ``reason``, which is kept in the audit trail with the figures.
    Queues a recomputation of every borrower's score (and so the re-matching of their open needs).

    Raises ScorecardNotFoundError; InvalidInputError (``reason``: ``reason_required``, ``too_long``);
    ScorecardVersionConflictError if a concurrent activation won.
    """
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > MAX_REASON_LENGTH:
        raise InvalidInputError({"reason": ["too_long"]})
    if version == EXPERT_VERSION:
        register_scorecard(session, expert_scorecard(), note=None)
    # Locking every row serialises concurrent activations (a handful of rows; SQLite locks the file).
    rows = session.scalars(select(ScorecardVersion).order_by(ScorecardVersion.id).with_for_update()).all()
    target = next((row for row in rows if row.version == version), None)
    if target is None:
        raise ScorecardNotFoundError(version)
    previous = next((row for row in rows if row.active), None)
    if previous is not None and previous.id == target.id:
        return target
    target_quality = version_quality(target.artefact)
    active_quality = version_quality(previous.artefact if previous else expert_scorecard())
    gated = needs_reason(target_quality, active_quality)
    if gated and reason is None:
        raise InvalidInputError(
            {"reason": ["reason_required"]},
            detail=f"validation AUC {target_quality.validation_auc} against {active_quality.validation_auc}",
        )
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
        note=reason,
        data={
            "previous": previous.version if previous else None,
            "reason": reason,
            "below_quality_gate": gated,
            "validation_auc": target_quality.validation_auc,
            "previous_validation_auc": active_quality.validation_auc,
        },
    )
    add_job(session, RESCORE_ALL_JOB, f"{RESCORE_ALL_JOB}:{target.version}:{secrets.token_hex(6)}")
    return target


RESCORE_ALL_JOB = "recompute_all_scores"


def borrower_ids_after(session: Session, after_id: int, *, limit: int) -> list[int]:
    """Borrower ids greater than ``after_id``, ascending: the pages a batch job walks through."""
    return list(
        session.scalars(select(Borrower.id).where(Borrower.id > after_id).order_by(Borrower.id).limit(limit))
    )


@dataclass(frozen=True)
class StabilityCheck:
    """The monthly PSI of the live scores of the active version against its validation scores."""

    version: str
    psi: float
    n_scores: int
    warning: bool


def latest_stability(session: Session, version_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The last stability check of each version (its event data), by version id; one query."""
    if not version_ids:
        return {}
    latest = (
        select(func.max(StatusEvent.id))
        .where(
            StatusEvent.entity_type == ENTITY,
            StatusEvent.to_status == PSI_EVENT,
            StatusEvent.entity_id.in_(version_ids),
        )
        .group_by(StatusEvent.entity_id)
    )
    events = session.scalars(select(StatusEvent).where(StatusEvent.id.in_(latest))).all()
    return {event.entity_id: {**(event.data or {}), "at": event.at} for event in events}


@dataclass(frozen=True)
class VersionsOverview:
    """Every registered version (newest first), the active one (None: the built-in expert card) with
    its quality, and each version's last stability check, read in three queries."""

    rows: Sequence[ScorecardVersion]
    active_row: ScorecardVersion | None
    active: VersionQuality | None
    stability: Mapping[int, Mapping[str, Any]]


def versions_overview(session: Session) -> VersionsOverview:
    """What the admin page and API show of the versions (see VersionsOverview). Raises nothing."""
    rows = list_scorecards(session)
    active_row = next((row for row in rows if row.active), None)
    return VersionsOverview(
        rows=rows,
        active_row=active_row,
        active=version_quality(active_row.artefact) if active_row else None,
        stability=latest_stability(session, [row.id for row in rows]),
    )


def check_score_stability(session: Session) -> StabilityCheck | None:
    """PSI of every borrower's latest score under the active version against the distribution its
    validation produced; recorded in the audit trail, logged as a warning above ``PSI_WARNING``.

    Returns None (and records nothing) when no trained version is active, it carries no validation
    distribution, or no borrower has a score under it yet. Raises nothing.
    """
    row = session.scalar(select(ScorecardVersion).where(ScorecardVersion.active.is_(True)))
    distribution = ((row.artefact.get("metadata") or {}).get("score_distribution")) if row else None
    if row is None or not distribution:
        return None
    latest = (
        select(func.max(CreditScore.id))
        .where(CreditScore.model_version == row.version)
        .group_by(CreditScore.borrower_id)
    )
    scores = list(session.scalars(select(CreditScore.score).where(CreditScore.id.in_(latest))))
    if not scores:
        return None
    psi = psi_against(distribution, scores)
    check = StabilityCheck(version=row.version, psi=psi, n_scores=len(scores), warning=psi > PSI_WARNING)
    record_event(
        session,
        entity_type=ENTITY,
        entity_id=row.id,
        from_status="active",
        to_status=PSI_EVENT,
        data={"psi": psi, "n_scores": len(scores), "warning": check.warning, "threshold": PSI_WARNING},
    )
    if check.warning:
        log.warning("score distribution of %s shifted: PSI %.3f > %.2f", row.version, psi, PSI_WARNING)
    return check
