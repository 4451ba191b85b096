"""A training table read into columns: the target checked, each characteristic typed (numeric or
categorical), rows split into development and validation parts; and a table scored by a trained card.

Used by :mod:`credit_profile.training` and its model families; needs the ``train`` extra (pandas,
scikit-learn).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import train_test_split

from credit_profile.scorecard import Scorecard
from credit_profile.scorecard_terms import NumericCharacteristic
from credit_profile.validation import IntArray

MIN_ROWS: Final = 20

Kind = Literal["numeric", "categorical"]
Column = npt.NDArray[Any]


class TrainingDataError(ValueError):
    """The table cannot be used to train a scorecard; ``code`` says why, the message in English."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ColumnTypeError(ValueError):
    """A numeric characteristic's column holds a value that is not a number."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def fingerprint(df: pd.DataFrame, target: str) -> str:
    """SHA-256 of the training table (column names, then every row as CSV), order included: the same
    file always gives the same fingerprint."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in df.columns], ensure_ascii=False).encode())
    digest.update(target.encode())
    digest.update(df.to_csv(index=False, header=False).encode())
    return "sha256:" + digest.hexdigest()


def score_table(scorecard: Scorecard, df: pd.DataFrame) -> list[int]:
    """Score every row of ``df`` in order; a characteristic without a column is missing for every row.

    Numeric characteristics need numeric columns (empty cells are missing); categorical values are
    compared by their ``str()``, so read CSV files with ``dtype=str`` for those columns.

    Raises:
        ColumnTypeError: a numeric characteristic's column holds a value that is not a number.
    """
    columns: dict[str, Column] = {}
    for characteristic in scorecard.characteristics:
        if characteristic.name not in df.columns:
            continue
        series = df[characteristic.name]
        if isinstance(characteristic, NumericCharacteristic):
            try:
                columns[characteristic.name] = pd.to_numeric(series).to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
            except (ValueError, TypeError) as exc:
                raise ColumnTypeError(
                    characteristic.name, f"column {characteristic.name!r} must be numeric"
                ) from exc
        else:
            columns[characteristic.name] = _categorical_values(series)
    return [int(s) for s in scorecard.score_many(columns, n_rows=len(df))]


def score_columns(scorecard: Scorecard, columns: Mapping[str, Column]) -> IntArray:
    """Score prepared columns (float arrays for numeric, object arrays for categorical characteristics)."""
    size = len(next(iter(columns.values()))) if columns else 0
    return scorecard.score_many(
        {c.name: columns[c.name] for c in scorecard.characteristics if c.name in columns}, n_rows=size
    )


def prepare_columns(
    df: pd.DataFrame, target: str, categorical: Collection[str], exclude: Collection[str]
) -> tuple[dict[str, Column], dict[str, Kind], IntArray]:
    """The characteristics' columns, their kinds and the 0/1 target of a training table.

    Raises:
        TrainingDataError: ``missing_target``, ``too_few_rows``, ``target_not_binary``, ``single_class``
            or ``no_characteristics`` (see :func:`credit_profile.training.train_scorecard`).
    """
    if target not in df.columns:
        raise TrainingDataError("missing_target", f"target column {target!r} not found")
    if len(df) < MIN_ROWS:
        raise TrainingDataError("too_few_rows", f"at least {MIN_ROWS} rows are needed, got {len(df)}")
    raw_target = df[target]
    if raw_target.isna().any() or not raw_target.isin([0, 1]).all():
        raise TrainingDataError(
            "target_not_binary", f"target column {target!r} must hold only 0 (good) and 1 (bad)"
        )
    y = raw_target.to_numpy().astype(np.int64)
    if y.min() == y.max():
        raise TrainingDataError(
            "single_class", f"target column {target!r} needs both good (0) and bad (1) rows"
        )

    columns: dict[str, Column] = {}
    kinds: dict[str, Kind] = {}
    for name in df.columns:
        if name == target or name in exclude:
            continue
        series = df[name]
        if name not in categorical and (
            pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
        ):
            kinds[name] = "numeric"
            columns[name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            kinds[name] = "categorical"
            columns[name] = _categorical_values(series)
    if not columns:
        raise TrainingDataError(
            "no_characteristics", "the table has no characteristic columns besides the target"
        )
    return columns, kinds, y


def _categorical_values(series: pd.Series) -> Column:
    return np.array([None if pd.isna(v) else str(v) for v in series], dtype=object)


def split_rows(y: IntArray, fraction: float, random_state: int) -> tuple[IntArray, IntArray]:
    """Development and validation row indices, stratified by outcome, ``fraction`` of them validation.

    Raises:
        TrainingDataError: (``too_few_outcomes``) the validation part would lack good or bad rows.
    """
    n_bad = int(y.sum())
    n_good = int(y.size - n_bad)
    if min(n_bad, n_good) * fraction < 1 or min(n_bad, n_good) < 2:
        raise TrainingDataError("too_few_outcomes", "too few good or bad rows to hold out a validation part")
    dev_idx, val_idx = train_test_split(
        np.arange(y.size), test_size=fraction, stratify=y, random_state=random_state
    )
    return np.sort(dev_idx), np.sort(val_idx)


def take_rows(columns: Mapping[str, Column], indices: IntArray) -> dict[str, Column]:
    """The given rows of every column."""
    return {name: values[indices] for name, values in columns.items()}
