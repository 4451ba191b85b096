"""Helpers for credit_profile tests: months relative to today, consents and stored records."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from core.types import local_today
from credit_profile.consents import grant_consent
from credit_profile.features import period_index, period_label
from tests.factories import DataRecordFactory


def month(back: int = 1) -> str:
    """The month ``back`` months before the current one (Asia/Shanghai)."""
    today = local_today()
    return period_label(period_index(f"{today:%Y-%m}") - back)


def store(session, borrower_id: int, source: str, periods, consent_id: int | None, **values) -> None:
    """A record of ``source`` for each period: the source's typical values (DataRecordFactory), or these."""
    for period in periods:
        DataRecordFactory(
            borrower_id=borrower_id, source=source, period=period, consent_id=consent_id, **values
        )


def grant(session, borrower, **kwargs):
    values = {
        "sources": ["electricity", "tax", "bank_flow"],
        "purpose": "融资需求匹配",
        "expires_on": local_today() + dt.timedelta(days=365),
        "actor_id": None,
    }
    values.update(kwargs)
    return grant_consent(session, borrower_id=borrower.id, **values)


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def trained_artefact(version: str, auc: float | None, offset: float = 600.0) -> dict:
    """The expert card's points under a new version, with the metadata a trained version carries
    (method, training-data fingerprint, validation figures; no figures when ``auc`` is None)."""
    from credit_profile.expert import expert_scorecard

    card = expert_scorecard()
    card["version"] = version
    card["offset_points"] = offset
    card["metadata"] = {
        "kind": "trained",
        "method": "ebm",
        "training_data": {"fingerprint": f"sha256:{version:0<12}", "n_rows": 1000, "n_bad": 300},
        "validation": {} if auc is None else {"auc": auc, "ks": 0.4, "gini": 2 * auc - 1, "psi": 0.01},
        "reference": {"model": "hgb", "auc": 0.77},
    }
    return card
