"""The additive model family (interpret's EBM) exported into the scorecard artefact family."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("interpret")

import itertools

import pandas as pd

from credit_profile.additive import (
    AdditiveSettings,
    export_additive,
    fit_additive,
    logit_from_points,
    predict_logit,
)
from credit_profile.scorecard import FORMAT_PAIRS, Scaling, Scorecard
from credit_profile.scorecard_terms import NumericCharacteristic
from credit_profile.training import train_scorecard
from credit_profile.training_tables import prepare_columns

SCALING = Scaling(base_score=600, base_odds=50, pdo=40, min_score=300, max_score=900)
FAST = AdditiveSettings(
    outer_bags=2, max_rounds=300, interactions=2, max_bins=32, grid_bins=(32,), grid_interactions=(0, 2)
)


def platform_table(n: int = 500, seed: int = 3) -> pd.DataFrame:
    """Platform characteristics with an interaction (low balance hurts only with volatile inflows),
    missing values and a categorical rating; arrears carry noise that could bend their curve."""
    rng = np.random.default_rng(seed)
    arrears = rng.integers(0, 2, n).astype(float)
    balance = rng.gamma(2.0, 20_000.0, n)
    volatility = rng.uniform(0, 1.5, n)
    rating = rng.choice(["A", "B", "M", "C", "D"], n)
    kwh = rng.gamma(2.0, 5_000.0, n)  # a characteristic the reason texts have no wording of their own for
    log_odds = (
        -1.5
        - 0.6 * (kwh > 8_000)
        + 1.2 * arrears
        + np.where((balance < 20_000) & (volatility > 0.8), 1.5, 0.0)
        + np.where(np.isin(rating, ["C", "D"]), 0.8, 0.0)
    )
    bad = (rng.random(n) < 1 / (1 + np.exp(-log_odds))).astype(int)
    df = pd.DataFrame(
        {
            "tax_arrears_12m": arrears,
            "bank_min_balance": balance,
            "bank_inflow_cv": volatility,
            "tax_credit_rating": rating,
            "elec_kwh_level": kwh,
            "bad": bad,
        }
    )
    df.loc[rng.random(n) < 0.1, "bank_inflow_cv"] = np.nan
    df.loc[rng.random(n) < 0.1, "tax_credit_rating"] = None
    return df


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, dict[str, Any], dict[str, Any], Any]:
    columns, kinds, y = prepare_columns(platform_table(), "bad", (), ())
    model = fit_additive(columns, kinds, y, FAST)
    artefact = export_additive(model, kinds, SCALING, version="ebm-test", grades=(("A", 750), ("E", 300)))
    return model, columns, kinds, artefact


def test_the_artefact_scored_at_runtime_equals_interprets_own_prediction(fitted: Any) -> None:
    model, columns, kinds, artefact = fitted
    card = Scorecard.from_dict(artefact)
    assert card.interactions, "the model has pairwise terms, and the artefact carries them"
    assert artefact["format"] == FORMAT_PAIRS
    # Besides the training rows, rows whose numbers sit exactly on every cut of the card (mains and
    # pairs), where an off-by-one in the binning would show.
    n = len(next(iter(columns.values())))
    edges = dict(columns)
    for name, kind in kinds.items():
        if kind != "numeric":
            continue
        cuts = [
            b.upper for c in card.characteristics if c.name == name for b in c.bins if b.upper is not None
        ]
        cuts += [cut for i in card.interactions for a in i.axes if a.name == name for cut in a.cuts or ()]
        edges[name] = np.resize(np.asarray(cuts, dtype=np.float64), n)
    columns = {name: np.concatenate([columns[name], edges[name]]) for name in columns}
    n *= 2
    runtime_logit = logit_from_points(card.points_total_many(columns, n_rows=n), SCALING)
    ebm_logit = predict_logit(model, columns, kinds)
    np.testing.assert_allclose(runtime_logit, ebm_logit, rtol=0, atol=1e-9)
    ebm_probability = model.predict_proba(pd.DataFrame({k: columns[k] for k in model.feature_names_in_}))[
        :, 1
    ]
    np.testing.assert_allclose(1 / (1 + np.exp(-runtime_logit)), ebm_probability, rtol=0, atol=1e-9)
    # The integer score is the same rounding of EBM's log-odds, row by row and in bulk.
    expected = np.clip(np.floor(SCALING.offset - SCALING.factor * ebm_logit + 0.5), 300, 900).astype(int)
    assert card.score_many(columns, n_rows=n).tolist() == expected.tolist()
    rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    assert [card.score(row).score for row in rows[:80]] == expected[:80].tolist()


def test_the_artefact_survives_json_and_names_are_chinese(fitted: Any) -> None:
    _, _, _, artefact = fitted
    card = Scorecard.from_dict(artefact)
    assert Scorecard.from_dict(card.to_dict()) == card
    labels = {c.name: c.label for c in card.characteristics}
    assert labels["tax_arrears_12m"] == "近12个月欠税记录"
    assert all(i.label.endswith("的组合") for i in card.interactions)


def test_domain_directions_are_monotone_and_stay_out_of_pairs(fitted: Any) -> None:
    _, _, _, artefact = fitted
    card = Scorecard.from_dict(artefact)
    by_name = {c.name: c for c in card.characteristics}
    arrears = by_name["tax_arrears_12m"]
    balance = by_name["bank_min_balance"]
    assert isinstance(arrears, NumericCharacteristic) and isinstance(balance, NumericCharacteristic)
    arrears_points = [b.points for b in arrears.bins]
    balance_points = [b.points for b in balance.bins]
    # More arrears never raises a score; a larger lowest balance never lowers it.
    assert all(a >= b - 1e-9 for a, b in itertools.pairwise(arrears_points))
    assert all(a <= b + 1e-9 for a, b in itertools.pairwise(balance_points))
    assert len(balance_points) > 2
    constrained = {"tax_arrears_12m", "bank_min_balance"}
    assert not any({a.name for a in i.axes} & constrained for i in card.interactions)


def test_training_chooses_on_the_development_split_and_reports_the_reference() -> None:
    artefact, report = train_scorecard(
        platform_table(), "bad", version="ebm-auto", method="ebm", additive=FAST
    )
    assert report["method"] == "ebm"
    tried = report["selection"]["ebm"]["tried"]
    assert {t.get("interactions") for t in tried if "interactions" in t} == {0, 2}
    assert report["selection"]["ebm"]["check_rows"] < report["development"]["n_rows"]
    assert report["reference"]["auc"] > 0.5 and "calibration" in report["reference"]
    bands = report["validation"]["calibration"]
    assert sum(b["n_rows"] for b in bands) == report["validation"]["n_rows"]
    assert all(0 <= b["expected_bad_rate"] <= 1 and 0 <= b["observed_bad_rate"] <= 1 for b in bands)
    metadata = artefact["metadata"]
    assert metadata["method"] == "ebm"
    assert metadata["training_data"]["fingerprint"].startswith("sha256:")
    assert metadata["validation"]["auc"] == report["validation"]["auc"]
    assert metadata["reference"]["auc"] == report["reference"]["auc"]
    assert sum(metadata["score_distribution"]["shares"]) == pytest.approx(1, abs=0.01)


def test_a_borrowers_reasons_under_a_trained_version_are_chinese_and_add_up_to_the_score(
    session, fitted
) -> None:
    import re

    from credit_profile.explain import base_score, reasons
    from credit_profile.scorecards import activate_scorecard, register_scorecard
    from credit_profile.scoring import active_scorecard, compute_score, consented_data, features_from_records
    from tests.credit_profile.helpers import grant, month, store
    from tests.factories import BorrowerFactory

    _, _, _, artefact = fitted
    trained = {**artefact, "metadata": {"kind": "trained", "method": "ebm", "validation": {"auc": 0.8}}}
    # The trainer was handed raw column names as labels: the platform still shows its Chinese names.
    trained["characteristics"] = [{**c, "label": c["name"]} for c in trained["characteristics"]]
    register_scorecard(session, trained)
    activate_scorecard(session, "ebm-test", actor_id=None)
    with_data, without_data = BorrowerFactory(), BorrowerFactory()
    consent = grant(session, with_data)
    for source in ("electricity", "tax", "bank_flow"):
        store(session, with_data.id, source, [month(back) for back in range(1, 25)], consent.id)
    session.flush()

    card = active_scorecard(session)
    assert card.version == "ebm-test" and card.interactions
    latin = re.compile(r"[A-Za-z_]{2,}")
    for borrower in (with_data, without_data):
        features = features_from_records(consented_data(session, borrower.id).records)
        result = card.score(features)
        every = reasons(result, features, limit=None)
        assert every, "a trained card leaves some points on the table"
        assert base_score(result) + sum(r.impact for r in every) == result.score
        stored = compute_score(session, borrower.id)
        assert stored.score == result.score and stored.model_version == "ebm-test"
        texts = [r.text for r in every] + [r["text"] for r in stored.reasons]
        assert all(not latin.search(text) for text in texts), texts
