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
