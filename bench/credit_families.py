"""Shared by bench/german_credit.py and bench/credit_data.py: both model families beside the black box.

On every fold of a stratified k-fold split (fixed seed) it trains, on the same rows,

* the binned logistic scorecard (``train_scorecard(method="scorecard")``),
* the additive model per characteristic, interpret's EBM (``method="ebm"``), which chooses its bins,
  pairs and characteristics on its own development rows,
* an untuned ``HistGradientBoostingClassifier`` (the reference),

and scores the held-out rows: both cards through the runtime scorecard (integer scores, as in
production, artefacts read back from their JSON form), the reference by its probability. The training
procedure is exactly what ``flask scorecard train --method ...`` runs; no per-dataset tuning.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold

from credit_profile.additive import AdditiveSettings
from credit_profile.scorecard import Scorecard
from credit_profile.training import score_table, train_scorecard

SEED = 20261122
N_FOLDS = 5
TOLERANCE = 0.01
FAMILIES = ("scorecard", "ebm")
# At --tiny: a small, fast EBM (the suite's CPU budget), not the one production trains.
TINY_ADDITIVE = AdditiveSettings(outer_bags=2, max_rounds=300, grid_bins=(32,), grid_interactions=(0,))


@dataclass(frozen=True)
class FoldResult:
    fold: int
    auc: dict[str, float]
    ks: dict[str, float]


def first_columns(df: pd.DataFrame, target: str, columns: int | None) -> pd.DataFrame:
    """Only the first ``columns`` characteristics (in the table's order) and the target; all with None."""
    if columns is None:
        return df
    return df[[*[name for name in df.columns if name != target][:columns], target]]


def ks_statistic(y: np.ndarray, risk: np.ndarray) -> float:
    false_positive, true_positive, _ = roc_curve(y, risk)
    return float(np.max(true_positive - false_positive))


def run(
    df: pd.DataFrame,
    target: str,
    *,
    folds: int = N_FOLDS,
    seed: int = SEED,
    additive: AdditiveSettings | None = None,
    exclude: tuple[str, ...] = (),
) -> list[FoldResult]:
    y = df[target].to_numpy()
    features = df.drop(columns=[target, *exclude])
    # Categories fixed on the whole table so that every fold's reference model sees the same codes.
    baseline_features = features.copy()
    for name in baseline_features.columns:
        if not pd.api.types.is_numeric_dtype(baseline_features[name]):
            baseline_features[name] = baseline_features[name].astype("category")
    results = []
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (train, test) in enumerate(splits.split(features, y), start=1):
        auc: dict[str, float] = {}
        ks: dict[str, float] = {}
        for method in FAMILIES:
            artefact, _ = train_scorecard(
                df.iloc[train],
                target,
                version=f"bench-{method}-{fold}",
                method=method,
                additive=additive,
                exclude=exclude,
                reference=False,
            )
            card = Scorecard.from_dict(Scorecard.from_dict(artefact).to_dict())
            risk = -np.asarray(score_table(card, df.iloc[test]), dtype=np.float64)
            auc[method] = float(roc_auc_score(y[test], risk))
            ks[method] = ks_statistic(y[test], risk)
        baseline = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
        baseline.fit(baseline_features.iloc[train], y[train])
        risk = baseline.predict_proba(baseline_features.iloc[test])[:, 1]
        auc["hgb"] = float(roc_auc_score(y[test], risk))
        ks["hgb"] = ks_statistic(y[test], risk)
        results.append(FoldResult(fold=fold, auc=auc, ks=ks))
    return results


def report(title: str, results: list[FoldResult], *, tiny: bool) -> int:
    """Print the table and the verdict; 1 if the additive family's mean AUC is more than TOLERANCE
    below the reference's (never at ``--tiny``)."""
    print(title)
    print(
        f"{'fold':>6} {'scorecard AUC':>14} {'KS':>6} {'EBM AUC':>8} {'KS':>6} {'HGB AUC':>8} {'KS':>6}"
        f" {'Δscorecard':>10} {'ΔEBM':>7}"
    )

    def line(label: str, auc: dict[str, float], ks: dict[str, float]) -> None:
        print(
            f"{label:>6} {auc['scorecard']:>14.4f} {ks['scorecard']:>6.3f} {auc['ebm']:>8.4f} {ks['ebm']:>6.3f}"
            f" {auc['hgb']:>8.4f} {ks['hgb']:>6.3f} {auc['scorecard'] - auc['hgb']:>+10.4f}"
            f" {auc['ebm'] - auc['hgb']:>+7.4f}"
        )

    for r in results:
        line(str(r.fold), r.auc, r.ks)
    keys = (*FAMILIES, "hgb")
    mean_auc = {k: float(np.mean([r.auc[k] for r in results])) for k in keys}
    mean_ks = {k: float(np.mean([r.ks[k] for r in results])) for k in keys}
    line("mean", mean_auc, mean_ks)
    best = max(FAMILIES, key=lambda k: mean_auc[k])
    print(f"best glass-box family: {best} (what `--method auto` is meant to find)")
    difference = mean_auc["ebm"] - mean_auc["hgb"]
    verdict = "FAIL" if difference < -TOLERANCE else "OK"
    if tiny:
        print(f"{verdict} (not graded at --tiny): EBM mean AUC {difference:+.4f} from the reference")
        return 0
    if verdict == "FAIL":
        print(f"FAIL: EBM mean AUC is more than {TOLERANCE} below the reference")
        return 1
    print("OK: EBM mean AUC is within tolerance of (or above) the reference")
    return 0


def main(
    description: str,
    load: Callable[[int | None], pd.DataFrame],
    target: str,
    title: str,
    *,
    tiny: dict[str, int],
    argv: list[str] | None = None,
) -> int:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--folds", type=int, default=N_FOLDS)
    parser.add_argument("--columns", type=int, help="only the first N characteristics (default: all)")
    parser.add_argument("--rows", type=int, help="only a stratified sample of N rows (default: all)")
    parser.add_argument(
        "--tiny", action="store_true", help="a few seconds' run, not graded, as the tests run it"
    )
    args = parser.parse_args(argv)
    if args.tiny:  # the tiny sizes as defaults: a size given explicitly still wins
        parser.set_defaults(**tiny)
        args = parser.parse_args(argv)
    df = load(args.columns)
    if args.rows is not None and args.rows < len(df):
        df = df.groupby(target, group_keys=False).sample(frac=args.rows / len(df), random_state=SEED)
    results = run(df, target, folds=args.folds, additive=TINY_ADDITIVE if args.tiny else None)
    heading = (
        f"{title}, {args.folds}-fold stratified CV (seed {SEED}), {len(df)} rows, {df.shape[1] - 1}"
        " characteristics; reference = untuned HistGradientBoosting"
    )
    return report(heading, results, tiny=args.tiny)
