"""Train a points scorecard from a table of characteristics and a good/bad outcome.

This module, the two model families and :mod:`credit_profile.training_tables` are the only ones that
import optbinning, pandas, scikit-learn and interpret (the ``train`` extra; import-linter keeps them out
of the app). Its output is a ``jihuitong-scorecard/1`` artefact scored at runtime by
:mod:`credit_profile.scorecard`, plus a validation report.

Two model families: the binned WoE logistic scorecard (:mod:`credit_profile.woe_scorecard`, which also
describes the method step by step) and the additive model (:mod:`credit_profile.additive`). The table is
read and checked by :mod:`credit_profile.training_tables`.

Validation: the rows are split (stratified) into development and validation parts; the whole procedure
is fitted on the development part and its artefact scored, through the runtime module, on both parts
(AUC, KS, Gini, PSI). The returned artefact is then refitted on all rows with the same settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from credit_profile.additive import (
    AdditiveSettings,
    choose_additive,
    export_additive,
    fit_additive,
    inner_split,
)
from credit_profile.characteristics import characteristic_label
from credit_profile.scorecard import TARGET_MEANING, Scaling, Scorecard
from credit_profile.stability import score_distribution
from credit_profile.training_tables import (
    MIN_ROWS,
    Column,
    ColumnTypeError,
    TrainingDataError,
    fingerprint,
    prepare_columns,
    score_columns,
    score_table,
    split_rows,
    take_rows,
)
from credit_profile.validation import (
    IntArray,
    bad_rate_of_scores,
    calibration,
    hgb_reference,
    metrics,
    population_stability_index,
    score_histogram,
)
from credit_profile.woe_scorecard import (
    DEFAULT_GRADES,
    TrainingSettings,
    WoeModel,
    bin_table,
    characteristic_summary,
    fit_woe,
    logistic_artefact,
    woe_artefact,
)

__all__ = [
    "DEFAULT_GRADES",
    "METHODS",
    "MIN_ROWS",
    "REPORT_FORMAT",
    "TARGET_MEANING",
    "ColumnTypeError",
    "TrainingDataError",
    "TrainingSettings",
    "fingerprint",
    "score_table",
    "train_scorecard",
]

REPORT_FORMAT: Final = "jihuitong-scorecard-report/1"
METHODS: Final = frozenset({"scorecard", "ebm", "auto"})


def train_scorecard(
    df: pd.DataFrame,
    target: str,
    *,
    version: str,
    method: str = "scorecard",
    pdo: float = 40,
    base_score: float = 600,
    base_odds: float = 50,
    min_score: int = 300,
    max_score: int = 900,
    grades: Sequence[tuple[str, int]] = DEFAULT_GRADES,
    labels: Mapping[str, str] | None = None,
    categorical: Collection[str] = (),
    exclude: Collection[str] = (),
    settings: TrainingSettings | None = None,
    additive: AdditiveSettings | None = None,
    reference: bool = True,
    created_at: datetime | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train a card on ``df`` and return ``(artefact, report)``.

    ``method`` picks the model family: ``"scorecard"`` (binned WoE logistic regression, see the module
    docstring), ``"ebm"`` (an additive boosted model per characteristic with a few pairwise terms, see
    :mod:`credit_profile.additive`) or ``"auto"``, which fits both on part of the development rows and
    keeps the one with the higher AUC on the rest (never looking at the validation rows).

    Every column but ``target`` and ``exclude`` is a characteristic: numeric dtypes are binned as
    numbers, everything else (and the columns named in ``categorical``) as categories compared by their
    ``str()``. ``target`` must hold 0 (good) and 1 (bad) only. ``labels`` maps column names to the
    labels shown to users (default: the platform's Chinese name of a platform characteristic, else the
    column name).

    The artefact is a ``jihuitong-scorecard/1`` dict (``/2`` with pairwise terms; see
    :class:`credit_profile.scorecard.Scorecard`) whose ``metadata`` records the method, the training
    data's fingerprint and the validation figures. The report holds AUC/KS/Gini on the development and
    validation parts, the PSI between their score distributions, calibration per score band, the same
    figures for an untuned HistGradientBoosting fitted on the same rows (``reference``), and for the
    scorecard family every characteristic's IV and fate and the bin tables.

    Raises:
        TrainingDataError: (``code`` in brackets) the target column is missing (``missing_target``),
            holds anything but 0/1 (``target_not_binary``) or only one of them (``single_class``);
            there are fewer than ``MIN_ROWS`` rows (``too_few_rows``) or no other columns
            (``no_characteristics``); a validation part would lack good or bad rows
            (``too_few_outcomes``); no characteristic is predictive (``no_predictive_characteristic``);
            ``method`` is unknown (``unknown_method``).
    """
    if method not in METHODS:
        raise TrainingDataError("unknown_method", f"method must be one of {sorted(METHODS)}, got {method!r}")
    settings = settings or TrainingSettings()
    additive = additive or AdditiveSettings(random_state=settings.random_state)
    scaling = Scaling(
        base_score=base_score, base_odds=base_odds, pdo=pdo, min_score=min_score, max_score=max_score
    )
    columns, kinds, y = prepare_columns(df, target, categorical, exclude)
    labels = {name: (labels or {}).get(name) or characteristic_label(name) for name in columns}
    dev_idx, val_idx = (
        split_rows(y, settings.validation_fraction, settings.random_state)
        if settings.validation_fraction > 0
        else (np.arange(y.size), np.arange(0))
    )
    dev_columns, dev_y = take_rows(columns, dev_idx), y[dev_idx]

    selection: dict[str, Any] = {"requested": method}
    ebm_failed = False
    if method in ("ebm", "auto"):
        try:
            additive, selection["ebm"] = choose_additive(dev_columns, kinds, dev_y, additive)
        except ValueError as exc:
            # interpret cannot bag a few dozen rows (its windows outgrow the data): the additive
            # family is not an option on such a table; asked for by name, that is the caller's error.
            if method == "ebm":
                raise TrainingDataError("too_few_outcomes", f"cannot fit the additive model: {exc}") from exc
            ebm_failed, selection["ebm"] = True, {"error": str(exc)}
    if method == "auto":
        check_auc = {"ebm": 0.0 if ebm_failed else max(t["check_auc"] for t in selection["ebm"]["tried"])}
        fit_idx, check_idx = inner_split(dev_y, additive.random_state)
        try:
            check_card = Scorecard.from_dict(
                logistic_artefact(
                    take_rows(dev_columns, fit_idx), kinds, dev_y[fit_idx], settings, scaling, labels
                )
            )
            check_scores = score_columns(check_card, take_rows(dev_columns, check_idx))
            check_auc["scorecard"] = metrics(dev_y[check_idx], check_scores)["auc"]
        except TrainingDataError:
            check_auc["scorecard"] = 0.0
        method = max(check_auc, key=lambda m: (check_auc[m], m == "scorecard"))
        selection["check_auc"] = check_auc
    selection["method"] = method

    model: WoeModel | None = None

    def fit(part: Mapping[str, Column], part_y: IntArray) -> dict[str, Any]:
        nonlocal model
        if method == "ebm":
            return export_additive(
                fit_additive(part, kinds, part_y, additive),
                kinds,
                scaling,
                version=version,
                grades=grades,
                labels=labels,
                created_at=created_at,
            )
        model = fit_woe(part, kinds, part_y, settings)
        return woe_artefact(
            model, scaling, version=version, grades=grades, labels=labels, created_at=created_at
        )

    validation: dict[str, Any] | None = None
    reference_figures: dict[str, Any] | None = None
    distribution: dict[str, Any] | None = None
    development: dict[str, Any]
    if val_idx.size:
        dev_card = Scorecard.from_dict(fit(dev_columns, dev_y))
        dev_scores = score_columns(dev_card, dev_columns)
        val_scores = score_columns(dev_card, take_rows(columns, val_idx))
        development = metrics(dev_y, dev_scores)
        validation = metrics(y[val_idx], val_scores)
        validation["psi"] = population_stability_index(dev_scores, val_scores)
        validation["calibration"] = calibration(
            y[val_idx], bad_rate_of_scores(val_scores, scaling), val_scores
        )
        histogram = score_histogram(y[val_idx], val_scores, scaling, "validation")
        distribution = score_distribution(val_scores)
        if reference:
            try:
                reference_figures = hgb_reference(columns, kinds, y, dev_idx, val_idx, settings.random_state)
            except ValueError:
                # scikit-learn cannot fit its boosting on a table this small; the report says there is
                # no reference line rather than failing the card.
                reference_figures = None

    artefact = fit(columns, y)
    scorecard = Scorecard.from_dict(artefact)
    all_scores = score_columns(scorecard, columns)
    if validation is None:
        development = metrics(y, all_scores)
        histogram = score_histogram(y, all_scores, scaling, "development")
        distribution = score_distribution(all_scores)
    else:
        development = {**development, "refit_in_sample": metrics(y, all_scores)}

    figures = validation or development
    artefact["metadata"] = {
        "kind": "trained",
        "method": method,
        "training_data": {
            "fingerprint": fingerprint(df, target),
            "n_rows": int(y.size),
            "n_bad": int(y.sum()),
            "target": target,
        },
        "validation": {
            key: figures[key] for key in ("n_rows", "n_bad", "auc", "ks", "gini") if key in figures
        }
        | ({"psi": figures["psi"]} if "psi" in figures else {}),
        "reference": None
        if reference_figures is None
        else {k: reference_figures[k] for k in ("model", "auc", "ks", "gini")},
        "score_distribution": distribution,
    }
    report = {
        "format": REPORT_FORMAT,
        "version": version,
        "method": method,
        "selection": selection,
        "target": target,
        "n_rows": int(y.size),
        "n_bad": int(y.sum()),
        "bad_rate": float(y.mean()),
        "training_data_fingerprint": artefact["metadata"]["training_data"]["fingerprint"],
        "settings": dataclasses.asdict(settings) if method == "scorecard" else dataclasses.asdict(additive),
        "development": development,
        "validation": validation,
        "reference": reference_figures,
        "characteristics": characteristic_summary(model)
        if model is not None
        else _term_summary(scorecard, selection.get("ebm", {}).get("dropped", [])),
        "bin_tables": {b.name: bin_table(b, scorecard) for b in model.binned} if model is not None else {},
        "score_distribution": histogram,
    }
    return artefact, report


def _term_summary(scorecard: Scorecard, dropped: Sequence[str]) -> list[dict[str, Any]]:
    terms: list[dict[str, Any]] = [
        {"name": c.name, "decision": "selected"} for c in scorecard.characteristics
    ]
    terms += [{"name": name, "decision": "low_importance"} for name in dropped]
    return terms + [{"name": i.name, "decision": "pair"} for i in scorecard.interactions]
