"""The second model family: an additive model per characteristic (interpret's explainable boosting
machine, EBM), optionally with a few pairwise terms, exported into the scorecard artefact family.

Training-time only (imports interpret and pandas, the ``train`` extra). The fitted model is a sum of
per-term lookup tables on the log-odds scale, ``logit P(bad) = intercept + sum(term_score(bin))``, so
it exports exactly into points with the same scaling as the logistic scorecard:

* ``offset_points = offset - factor * intercept``;
* a main term's bin earns ``-factor * term_score``; EBM bins numbers by ascending cuts (a value equal to
  a cut falls above it, as a scorecard bin's ``upper`` is exclusive), gives missing values a score of
  their own and unseen categories another (``other_points``);
* a pairwise term becomes an ``interactions`` table of the ``jihuitong-scorecard/2`` format.

The runtime (:mod:`credit_profile.scorecard`, numpy only) then reproduces EBM's own prediction to
floating-point rounding (tests/credit_profile/test_additive.py).

Choices made on the development rows only (:func:`choose_additive`): how finely numbers are binned,
how strongly the boosting is smoothed, whether pairwise terms help, and which characteristics to keep.
Characteristics whose direction the domain fixes (:data:`credit_profile.characteristics.RISK_DIRECTION`)
are constrained monotone and kept out of pairs, so their points read one way.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from interpret.glassbox import ExplainableBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from credit_profile.characteristics import RISK_DIRECTION, characteristic_label
from credit_profile.scorecard import FORMAT, FORMAT_PAIRS, Scaling, artefact_head

Column = npt.NDArray[Any]
IntArray = npt.NDArray[np.int64]
# A characteristic whose term moves the log-odds by less than this share of the strongest term's mean
# absolute contribution is dropped, if dropping it does not cost check-split AUC.
MIN_IMPORTANCE_SHARE: Final = 0.02
AUC_SLACK: Final = 0.002


@dataclass(frozen=True)
class AdditiveSettings:
    """The EBM's knobs. ``choose_additive`` searches ``max_bins`` x ``interactions`` and keeps the
    rest; tests shrink ``outer_bags`` and ``max_rounds`` to stay fast."""

    max_bins: int = 256
    interactions: int = 3
    smoothing_rounds: int = 75
    outer_bags: int = 8
    max_rounds: int = 5000
    learning_rate: float = 0.015
    exclude: tuple[str, ...] = ()
    random_state: int = 0
    grid_bins: tuple[int, ...] = (32, 256)
    grid_interactions: tuple[int, ...] = (0, 3)


def _frame(columns: Mapping[str, Column], kinds: Mapping[str, str]) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for name, values in columns.items():
        if kinds[name] == "numeric":
            data[name] = np.asarray(values, dtype=np.float64)
        else:
            data[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(data)


def fit_additive(
    columns: Mapping[str, Column],
    kinds: Mapping[str, str],
    y: IntArray,
    settings: AdditiveSettings,
    *,
    direction: Mapping[str, int] | None = None,
) -> ExplainableBoostingClassifier:
    """Fit an EBM on prepared columns (float arrays for numeric, object arrays of ``str``/``None``
    for categorical characteristics); ``direction`` (default: the platform's RISK_DIRECTION) makes the
    named numeric characteristics monotone in the risk."""
    direction = RISK_DIRECTION if direction is None else direction
    names = [name for name in columns if name not in settings.exclude]
    frame = _frame({name: columns[name] for name in names}, kinds)
    constraints = [direction.get(name, 0) if kinds[name] == "numeric" else 0 for name in names]
    model = ExplainableBoostingClassifier(
        feature_names=names,
        feature_types=["continuous" if kinds[name] == "numeric" else "nominal" for name in names],
        max_bins=settings.max_bins,
        interactions=settings.interactions,
        smoothing_rounds=settings.smoothing_rounds,
        outer_bags=settings.outer_bags,
        max_rounds=settings.max_rounds,
        learning_rate=settings.learning_rate,
        monotone_constraints=constraints if any(constraints) else None,
        n_jobs=1,
        random_state=settings.random_state,
    )
    with warnings.catch_warnings():
        # interpret asks to replace missing values for its charts; missing is a bin of its own here.
        warnings.filterwarnings("ignore", message="Missing values detected", category=UserWarning)
        # On a few dozen rows a characteristic's bin can be empty in one outer bag; interpret's own
        # nan-statistics then warn, and the term is simply flat there.
        warnings.filterwarnings("ignore", message="All-NaN slice encountered", category=RuntimeWarning)
        model.fit(frame, y)
    return model


def predict_logit(
    model: ExplainableBoostingClassifier, columns: Mapping[str, Column], kinds: Mapping[str, str]
) -> Any:
    """EBM's own log-odds of a bad outcome for prepared columns."""
    names = list(model.feature_names_in_)
    return model.decision_function(_frame({name: columns[name] for name in names}, kinds))


def inner_split(y: IntArray, random_state: int) -> tuple[IntArray, IntArray]:
    """The development rows split 75/25 (stratified) into fitting and checking parts."""
    fit_idx, check_idx = train_test_split(
        np.arange(y.size), test_size=0.25, stratify=y, random_state=random_state
    )
    return np.sort(fit_idx), np.sort(check_idx)


def choose_additive(
    columns: Mapping[str, Column],
    kinds: Mapping[str, str],
    y: IntArray,
    base: AdditiveSettings,
    *,
    direction: Mapping[str, int] | None = None,
) -> tuple[AdditiveSettings, dict[str, Any]]:
    """Pick bins, smoothing, pairs and characteristics on these (development) rows only.

    The rows are split once more (75/25, stratified); every candidate of the grid is fitted on the
    first part and judged by AUC on the second. Then characteristics contributing little
    (``MIN_IMPORTANCE_SHARE``) are dropped together if that costs no more than ``AUC_SLACK``.
    Returns the chosen settings and a log of what was tried.
    """
    fit_idx, check_idx = inner_split(y, base.random_state)

    def take(indices: IntArray) -> dict[str, Column]:
        return {name: values[indices] for name, values in columns.items()}

    fit_cols, check_cols = take(fit_idx), take(check_idx)

    def judge(settings: AdditiveSettings) -> tuple[float, ExplainableBoostingClassifier]:
        model = fit_additive(fit_cols, kinds, y[fit_idx], settings, direction=direction)
        return float(roc_auc_score(y[check_idx], predict_logit(model, check_cols, kinds))), model

    tried: list[dict[str, Any]] = []
    best: tuple[float, AdditiveSettings, ExplainableBoostingClassifier] | None = None
    for max_bins in base.grid_bins:
        for interactions in base.grid_interactions:
            candidate = replace(base, max_bins=max_bins, interactions=interactions)
            auc, model = judge(candidate)
            tried.append({"max_bins": max_bins, "interactions": interactions, "check_auc": auc})
            if best is None or auc > best[0] + 1e-9:
                best = (auc, candidate, model)
    assert best is not None
    auc, chosen, model = best
    importances = dict(zip(model.term_names_, model.term_importances(), strict=True))
    strongest = max((v for k, v in importances.items() if "&" not in k), default=0.0)
    weak = tuple(
        name
        for name in model.feature_names_in_
        if importances.get(name, 0.0) < MIN_IMPORTANCE_SHARE * strongest
    )
    dropped: tuple[str, ...] = ()
    if weak and len(weak) < len(model.feature_names_in_):
        slim = replace(chosen, exclude=(*chosen.exclude, *weak))
        slim_auc, _ = judge(slim)
        tried.append({"exclude": list(weak), "check_auc": slim_auc})
        if slim_auc >= auc - AUC_SLACK:
            chosen, dropped, auc = slim, weak, slim_auc
    log = {
        "tried": tried,
        "chosen": {"max_bins": chosen.max_bins, "interactions": chosen.interactions},
        "dropped": list(dropped),
        "check_auc": auc,
        "check_rows": int(check_idx.size),
    }
    return chosen, log


def _points(value: float, factor: float) -> float:
    # -0.0 written as 0.0 keeps the JSON tidy; full precision keeps runtime = EBM to rounding.
    return -factor * float(value) + 0.0


def export_additive(
    model: ExplainableBoostingClassifier,
    kinds: Mapping[str, str],
    scaling: Scaling,
    *,
    version: str,
    grades: Sequence[tuple[str, int]],
    labels: Mapping[str, str] | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The fitted EBM as a ``jihuitong-scorecard/1`` artefact (``/2`` when it has pairwise terms)."""
    factor = scaling.factor
    names = list(model.feature_names_in_)

    def label(name: str) -> str:
        return (labels or {}).get(name) or characteristic_label(name)

    characteristics: list[dict[str, Any]] = []
    interactions: list[dict[str, Any]] = []
    for features, scores in zip(model.term_features_, model.term_scores_, strict=True):
        if len(features) == 1:
            name = names[features[0]]
            characteristics.append(
                _main_term(name, kinds[name], model.bins_[features[0]][0], scores, factor, label(name))
            )
        else:
            axes = []
            for index in features:
                levels = model.bins_[index]
                bins = levels[min(1, len(levels) - 1)]
                axes.append(_axis(names[index], kinds[names[index]], bins))
            first, second = (names[i] for i in features)
            interactions.append(
                {
                    "label": f"{label(first)}与{label(second)}的组合",
                    "axes": axes,
                    "points": [[_points(v, factor) for v in row] for row in np.asarray(scores)],
                }
            )
    artefact: dict[str, Any] = {
        **artefact_head(FORMAT_PAIRS if interactions else FORMAT, version, created_at, scaling),
        "offset_points": scaling.offset - factor * float(model.intercept_[0]),
        "characteristics": characteristics,
        "grades": [{"grade": grade, "min_score": min_score} for grade, min_score in grades],
    }
    if interactions:
        artefact["interactions"] = interactions
    return artefact


def _main_term(name: str, kind: str, bins: Any, scores: Any, factor: float, label: str) -> dict[str, Any]:
    scores = np.asarray(scores, dtype=np.float64)
    if kind == "numeric":
        cuts = [float(c) for c in np.asarray(bins, dtype=np.float64)]
        uppers: list[float | None] = [*cuts, None]
        return {
            "name": name,
            "label": label,
            "kind": "numeric",
            "bins": [
                {"upper": upper, "points": _points(scores[i + 1], factor)} for i, upper in enumerate(uppers)
            ],
            "missing_points": _points(scores[0], factor),
        }
    by_index: dict[int, list[str]] = {}
    for value, index in bins.items():
        by_index.setdefault(int(index), []).append(str(value))
    return {
        "name": name,
        "label": label,
        "kind": "categorical",
        "categories": [
            {"values": values, "points": _points(scores[index], factor)}
            for index, values in sorted(by_index.items())
        ],
        "missing_points": _points(scores[0], factor),
        "other_points": _points(scores[-1], factor),
    }


def _axis(name: str, kind: str, bins: Any) -> dict[str, Any]:
    if kind == "numeric":
        return {
            "name": name,
            "kind": "numeric",
            "cuts": [float(c) for c in np.asarray(bins, dtype=np.float64)],
        }
    ordered = sorted(bins.items(), key=lambda item: int(item[1]))
    # The runtime numbers values 1..n in list order; EBM's indices must be exactly that.
    if [int(index) for _, index in ordered] != list(range(1, len(ordered) + 1)):
        raise ValueError(f"pair axis {name!r}: category indices are not 1..n")
    return {"name": name, "kind": "categorical", "values": [str(value) for value, _ in ordered]}


def logit_from_points(total: Any, scaling: Scaling) -> Any:
    """Log-odds of a bad outcome from a card's unrounded points (the inverse of the export)."""
    return -(np.asarray(total, dtype=np.float64) - scaling.offset) / (scaling.pdo / math.log(2))
