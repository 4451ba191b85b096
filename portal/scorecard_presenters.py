"""Scorecard versions as the admin API and the admin page show them: each version's quality beside the
active one's. Pure functions of what the services returned; no queries here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from credit_profile.expert import EXPERT_VERSION, expert_scorecard
from credit_profile.models import ScorecardVersion
from credit_profile.scorecards import VersionQuality, needs_reason, version_quality


def scorecard_dict(
    row: ScorecardVersion | None,
    *,
    active: VersionQuality | None,
    stability: Mapping[int, Mapping[str, Any]],
) -> dict[str, Any]:
    """One version (``row=None``: the built-in expert card, not yet registered) with its figures and
    whether activating it over ``active`` needs a reason."""
    artefact = row.artefact if row is not None else expert_scorecard()
    quality = version_quality(artefact)
    live = stability.get(row.id, {}) if row is not None else {}
    return {
        "version": quality.version,
        # An unregistered expert card is the one in use exactly when no version is active.
        "active": row.active if row is not None else active is None or active.version == EXPERT_VERSION,
        "created_at": row.created_at if row is not None else None,
        "note": row.note if row is not None else None,
        "target_meaning": artefact.get("target_meaning"),
        "characteristics": list(quality.characteristics),
        "kind": quality.kind,
        "method": quality.method,
        "training_fingerprint": quality.fingerprint,
        "training_rows": quality.training_rows,
        "validation_auc": quality.validation_auc,
        "validation_ks": quality.validation_ks,
        "validation_gini": quality.validation_gini,
        "validation_psi": quality.validation_psi,
        "reference_auc": quality.reference_auc,
        "interactions": list(quality.interactions),
        "live_psi": live.get("psi"),
        "live_psi_at": live.get("at"),
        "needs_reason": needs_reason(quality, active) and not (row is not None and row.active),
    }
