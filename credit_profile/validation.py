"""Validation of a trained scorecard: discrimination (AUC, KS, Gini), score histograms, population
stability, and the score-distribution chart of the validation report. Training-time only.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score, roc_curve

from credit_profile.scorecard import (
    Scaling,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CALIBRATION_BANDS = 10


def population_stability_index(expected: npt.ArrayLike, actual: npt.ArrayLike, *, n_bins: int = 10) -> float:
    """PSI of ``actual`` against ``expected`` over the deciles of ``expected``.

    ``sum((a - e) * ln(a / e))`` over the bins' shares; below 0.1 is usually read as stable, above 0.25
    as a shift that needs a look.

    Raises:
        ValueError: either array is empty.
    """
    expected_array = np.asarray(expected, dtype=np.float64)
    actual_array = np.asarray(actual, dtype=np.float64)
    if expected_array.size == 0 or actual_array.size == 0:
        raise ValueError("PSI needs two non-empty samples")
    inner_edges = np.unique(np.quantile(expected_array, np.linspace(0, 1, n_bins + 1)[1:-1]))
    expected_share = _shares(np.searchsorted(inner_edges, expected_array, side="right"), inner_edges.size + 1)
    actual_share = _shares(np.searchsorted(inner_edges, actual_array, side="right"), inner_edges.size + 1)
    return float(np.sum((actual_share - expected_share) * np.log(actual_share / expected_share)))


def render_score_distribution(report: Mapping[str, Any]) -> bytes:
    """Draw the report's score histogram by outcome and return it as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    histogram = report["score_distribution"]
    edges = np.asarray(histogram["edges"], dtype=np.float64)
    widths = np.diff(edges)
    chinese = _cjk_font()
    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for key, colour, zh, en in (("good", "#2a9d8f", "好客户", "good"), ("bad", "#e76f51", "坏客户", "bad")):
        counts = np.asarray(histogram[key], dtype=np.float64)
        shares = counts / max(counts.sum(), 1.0)
        axes.bar(
            edges[:-1],
            shares,
            width=widths,
            align="edge",
            alpha=0.55,
            color=colour,
            label=zh if chinese else en,
        )
    title = (
        f"评分分布（{histogram['sample']}）版本 {report['version']}"
        if chinese
        else f"Score distribution ({histogram['sample']}), version {report['version']}"
    )
    axes.set_title(title, fontfamily=chinese or None)
    axes.set_xlabel("评分" if chinese else "score", fontfamily=chinese or None)
    axes.set_ylabel("占比" if chinese else "share of outcome", fontfamily=chinese or None)
    axes.legend(prop={"family": chinese} if chinese else None)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def metrics(y: IntArray, scores: IntArray) -> dict[str, Any]:
    # Higher score = lower risk, so the risk ranking is the negated score.
    risk = -scores.astype(np.float64)
    auc = float(roc_auc_score(y, risk))
    false_positive, true_positive, _ = roc_curve(y, risk)
    return {
        "n_rows": int(y.size),
        "n_bad": int(y.sum()),
        "auc": auc,
        "gini": 2 * auc - 1,
        "ks": float(np.max(true_positive - false_positive)),
        "mean_score": float(scores.mean()),
    }


def _shares(indices: IntArray, n_bins: int) -> FloatArray:
    counts = np.bincount(indices, minlength=n_bins).astype(np.float64)
    # A floor keeps empty bins from making the PSI infinite.
    shares: FloatArray = np.maximum(counts / counts.sum(), 1e-4)
    return shares


def score_histogram(y: IntArray, scores: IntArray, scaling: Scaling, sample: str) -> dict[str, Any]:
    low = int(max(scaling.min_score, math.floor(scores.min() / 10) * 10))
    high = int(min(scaling.max_score, math.ceil((scores.max() + 1) / 10) * 10))
    edges = np.linspace(low, high, 21) if high > low else np.array([low, low + 1], dtype=np.float64)
    return {
        "sample": sample,
        "edges": edges.tolist(),
        "good": np.histogram(scores[y == 0], bins=edges)[0].tolist(),
        "bad": np.histogram(scores[y == 1], bins=edges)[0].tolist(),
    }


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    wanted = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei")
    available = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in wanted if name in available), None)


def metrics_for_risk(y: IntArray, risk: FloatArray) -> dict[str, Any]:
    """AUC, Gini and KS of a risk ranking (higher = riskier), e.g. a probability of a bad outcome."""
    auc = float(roc_auc_score(y, risk))
    false_positive, true_positive, _ = roc_curve(y, risk)
    return {
        "n_rows": int(y.size),
        "n_bad": int(y.sum()),
        "auc": auc,
        "gini": 2 * auc - 1,
        "ks": float(np.max(true_positive - false_positive)),
    }


def bad_rate_of_scores(scores: IntArray, scaling: Scaling) -> FloatArray:
    """The bad rate a score promises: ``odds of good = exp((score - offset) / factor)``."""
    odds_good = np.exp((scores.astype(np.float64) - scaling.offset) / scaling.factor)
    rates: FloatArray = 1.0 / (1.0 + odds_good)
    return rates


def calibration(
    y: IntArray, expected: FloatArray, ranking: npt.ArrayLike, *, n_bands: int = CALIBRATION_BANDS
) -> list[dict[str, Any]]:
    """Expected against observed bad rate per band of ``ranking`` (a score or a probability; bands at
    its quantiles, so ties stay in one band)."""
    values = np.asarray(ranking, dtype=np.float64)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bands + 1)[1:-1]))
    band_of = np.searchsorted(edges, values, side="right")
    bounds = [float(values.min()), *edges.tolist(), float(values.max())]
    bands = []
    for band in range(edges.size + 1):
        mask = band_of == band
        if not mask.any():
            continue
        bands.append(
            {
                "low": bounds[band],
                "high": bounds[band + 1],
                "n_rows": int(mask.sum()),
                "expected_bad_rate": float(expected[mask].mean()),
                "observed_bad_rate": float(y[mask].mean()),
            }
        )
    return bands


def hgb_reference(
    columns: Mapping[str, npt.NDArray[Any]],
    kinds: Mapping[str, str],
    y: IntArray,
    dev_idx: IntArray,
    val_idx: IntArray,
    random_state: int,
) -> dict[str, Any]:
    """The black-box reference line: an untuned HistGradientBoosting fitted on the development rows and
    judged on the validation rows with the same figures as the card (AUC, KS, Gini, PSI, calibration)."""
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame = pd.DataFrame(
        {
            name: values.astype(np.float64) if kinds[name] == "numeric" else pd.Categorical(values)
            for name, values in columns.items()
        }
    )
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=random_state)
    model.fit(frame.iloc[dev_idx], y[dev_idx])
    dev_risk = model.predict_proba(frame.iloc[dev_idx])[:, 1]
    val_risk = model.predict_proba(frame.iloc[val_idx])[:, 1]
    figures = metrics_for_risk(y[val_idx], val_risk)
    figures["model"] = "HistGradientBoostingClassifier (untuned)"
    figures["psi"] = population_stability_index(dev_risk, val_risk)
    figures["calibration"] = calibration(y[val_idx], val_risk, val_risk)
    return figures
