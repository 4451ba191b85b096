"""A scorecard's terms: characteristics binned into points, pairwise terms, and the raw feature values they
read (``is_missing``). Standard library and numpy only, like :mod:`credit_profile.scorecard`, which
assembles them into a card and reads and writes the artefact."""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FeatureValue = float | int | str | None
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def is_missing(value: object) -> bool:
    """Return whether a raw feature value counts as missing (``None`` or a float NaN)."""
    return value is None or (
        isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and math.isnan(value)
    )


@dataclass(frozen=True)
class NumericBin:
    """Values strictly below ``upper`` (and not in an earlier bin); ``upper=None`` means +infinity."""

    upper: float | None
    points: float


@dataclass(frozen=True)
class CategoryGroup:
    """A group of category values that earn the same points."""

    values: tuple[str, ...]
    points: float


@dataclass(frozen=True)
class NumericCharacteristic:
    """A numeric characteristic binned by ascending right-open upper bounds."""

    name: str
    label: str
    bins: tuple[NumericBin, ...]
    missing_points: float
    woe: tuple[float, ...] | None = None
    event_rate: tuple[float, ...] | None = None
    kind: Literal["numeric"] = field(default="numeric", init=False)

    @property
    def max_points(self) -> float:
        """The most points any outcome (a bin or missing) can earn."""
        return max(max(b.points for b in self.bins), self.missing_points)

    def points_for(self, value: FeatureValue) -> float:
        """Points earned by one raw value.

        Raises:
            TypeError: ``value`` is a string or another non-numeric type.
        """
        if is_missing(value):
            return self.missing_points
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"characteristic {self.name!r} is numeric, got {value!r}")
        return self.bins[bisect.bisect_right(self._uppers, float(value))].points

    def points_many(self, values: npt.ArrayLike) -> FloatArray:
        """Points earned by every value of a column (NaN = missing).

        Raises:
            ValueError: the column cannot be converted to float.
        """
        array = np.asarray(values, dtype=np.float64)
        indices = np.searchsorted(np.asarray(self._uppers, dtype=np.float64), array, side="right")
        bin_points = np.asarray([b.points for b in self.bins], dtype=np.float64)
        points: FloatArray = np.where(np.isnan(array), self.missing_points, bin_points[indices])
        return points

    @cached_property
    def _uppers(self) -> list[float]:
        # Bounds of every bin but the last (whose upper bound is +infinity), for bisection.
        return [b.upper for b in self.bins if b.upper is not None]


@dataclass(frozen=True)
class CategoricalCharacteristic:
    """A categorical characteristic whose values are grouped into point-earning categories."""

    name: str
    label: str
    categories: tuple[CategoryGroup, ...]
    missing_points: float
    other_points: float
    woe: tuple[float, ...] | None = None
    event_rate: tuple[float, ...] | None = None
    kind: Literal["categorical"] = field(default="categorical", init=False)

    @property
    def max_points(self) -> float:
        """The most points any outcome (a group, missing or an unseen category) can earn."""
        return max(max(c.points for c in self.categories), self.missing_points, self.other_points)

    def points_for(self, value: FeatureValue) -> float:
        """Points earned by one raw value; non-string values are compared by their ``str()``."""
        if is_missing(value):
            return self.missing_points
        return self._points_by_value.get(str(value), self.other_points)

    def points_many(self, values: npt.ArrayLike) -> FloatArray:
        """Points earned by every value of a column (``None``/NaN = missing)."""
        array = np.asarray(values, dtype=object).ravel()
        # A column holds few distinct values: look each up once. Keyed by type too, because 1, 1.0 and
        # True are equal keys but different strings.
        memo: dict[tuple[type, object], float] = {}

        def points(value: FeatureValue) -> float:
            try:
                key = (type(value), value)
                if key not in memo:
                    memo[key] = self.points_for(value)
                return memo[key]
            except TypeError:  # unhashable
                return self.points_for(value)

        return np.fromiter((points(v) for v in array.tolist()), dtype=np.float64, count=array.size)

    @cached_property
    def _points_by_value(self) -> dict[str, float]:
        return {value: group.points for group in self.categories for value in group.values}


Characteristic = NumericCharacteristic | CategoricalCharacteristic


@dataclass(frozen=True)
class PairAxis:
    """One side of a pairwise term: a value's cell index is 0 when missing, then 1 + its bin (numeric:
    ``cuts`` ascending, a value equal to a cut falls above it) or 1 + its position in ``values``
    (categorical, compared by ``str()``); an unseen category gets the last index."""

    name: str
    cuts: tuple[float, ...] | None = None
    values: tuple[str, ...] | None = None

    @property
    def size(self) -> int:
        """How many cells the axis has (missing, the bins or values, unseen)."""
        inner = len(self.cuts) + 1 if self.cuts is not None else len(self.values or ())
        return inner + 2

    def index_for(self, value: FeatureValue) -> int:
        """The cell of one raw value.

        Raises:
            TypeError: a numeric axis received a non-numeric value.
        """
        if is_missing(value):
            return 0
        if self.cuts is not None:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"characteristic {self.name!r} is numeric, got {value!r}")
            return bisect.bisect_right(self.cuts, float(value)) + 1
        return self._positions.get(str(value), self.size - 1)

    def index_many(self, values: npt.ArrayLike) -> IntArray:
        """The cells of a column (NaN/``None`` = missing)."""
        if self.cuts is not None:
            array = np.asarray(values, dtype=np.float64)
            found = np.searchsorted(np.asarray(self.cuts, dtype=np.float64), array, side="right") + 1
            indices: IntArray = np.where(np.isnan(array), 0, found).astype(np.int64)
            return indices
        column = np.asarray(values, dtype=object).ravel()
        return np.fromiter((self.index_for(v) for v in column.tolist()), dtype=np.int64, count=column.size)

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {value: i + 1 for i, value in enumerate(self.values or ())}


@dataclass(frozen=True)
class Interaction:
    """A pairwise term: points for every combination of two characteristics' cells (``points[i][j]``)."""

    label: str
    axes: tuple[PairAxis, PairAxis]
    points: tuple[tuple[float, ...], ...]

    @property
    def name(self) -> str:
        """``a&b``: how the term is named in reports and reason codes."""
        return f"{self.axes[0].name}&{self.axes[1].name}"

    @property
    def max_points(self) -> float:
        """The most points any combination can earn."""
        return max(max(row) for row in self.points)

    def points_for(self, features: Mapping[str, FeatureValue]) -> float:
        """Points earned by one borrower's pair of values (absent = missing)."""
        first, second = self.axes
        return self.points[first.index_for(features.get(first.name))][
            second.index_for(features.get(second.name))
        ]

    def points_many(self, columns: Mapping[str, npt.NDArray[Any]], size: int) -> FloatArray:
        """Points earned by every row (a characteristic without a column is missing everywhere)."""
        indices = [
            axis.index_many(columns[axis.name]) if axis.name in columns else np.zeros(size, dtype=np.int64)
            for axis in self.axes
        ]
        table = np.asarray(self.points, dtype=np.float64)
        points: FloatArray = table[indices[0], indices[1]]
        return points
