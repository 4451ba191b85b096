"""Runtime scorecards: load a points table and score borrowers.

A scorecard artefact is a JSON-compatible dict (format ``jihuitong-scorecard/1``) holding, for every
characteristic, its bins or category groups and the points each earns. Expert scorecards are written
by hand in this format; statistical ones are exported by :mod:`credit_profile.training`.

This module deliberately depends on the standard library and numpy only: the web app and the workers
score with it and must never pull in optbinning, pandas or scikit-learn.

Score = ``offset_points`` + the points of the bin each characteristic falls into, rounded half up to an
integer and clamped to ``[min_score, max_score]``. Higher scores mean a lower risk of a bad outcome.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from credit_profile.scorecard_terms import (
    CategoricalCharacteristic,
    CategoryGroup,
    Characteristic,
    FeatureValue,
    FloatArray,
    IntArray,
    Interaction,
    NumericBin,
    NumericCharacteristic,
    PairAxis,
    is_missing,
)

FORMAT: Final = "jihuitong-scorecard/1"
# Version 2 of the family adds pairwise terms (``interactions``); a card without them is written as /1.
FORMAT_PAIRS: Final = "jihuitong-scorecard/2"
FORMATS: Final = frozenset({FORMAT, FORMAT_PAIRS})


class ScorecardFormatError(ValueError):
    """The artefact is not a valid ``jihuitong-scorecard/1`` document."""


@dataclass(frozen=True)
class Scaling:
    """How log-odds map to points: ``base_score`` points at good:bad odds ``base_odds``; odds double
    every ``pdo`` points. ``min_score``/``max_score`` clamp the final score."""

    base_score: float
    base_odds: float
    pdo: float
    min_score: int
    max_score: int

    @property
    def factor(self) -> float:
        """Points per unit of natural log-odds (``pdo / ln 2``)."""
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        """Score at good:bad odds of 1 (``base_score - factor * ln(base_odds)``)."""
        return self.base_score - self.factor * math.log(self.base_odds)


# What a trained card's target means (both training families write it into the artefact).
TARGET_MEANING: Final = "1 = bad outcome"


def artefact_head(
    format_: str, version: str, created_at: datetime | None, scaling: Scaling
) -> dict[str, Any]:
    """The fields every trained artefact starts with: format, version, creation time, target, scaling."""
    return {
        "format": format_,
        "version": version,
        "created_at": (created_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "target_meaning": TARGET_MEANING,
        "scaling": {
            "base_score": scaling.base_score,
            "base_odds": scaling.base_odds,
            "pdo": scaling.pdo,
            "min_score": scaling.min_score,
            "max_score": scaling.max_score,
        },
    }


@dataclass(frozen=True)
class Grade:
    """A risk grade given to scores at or above ``min_score`` (and below the next grade's)."""

    grade: str
    min_score: int


@dataclass(frozen=True)
class Contribution:
    """What one characteristic added to a score.

    ``max_points - points`` (the :attr:`shortfall`) is what reason codes are built from.
    """

    name: str
    label: str
    value: FeatureValue
    points: float
    max_points: float
    # For a pairwise term: the two characteristics and their values (``value`` is then None).
    pair: tuple[tuple[str, FeatureValue], tuple[str, FeatureValue]] | None = None

    @property
    def shortfall(self) -> float:
        """Points lost against the best outcome of this characteristic (never negative)."""
        return self.max_points - self.points


@dataclass(frozen=True)
class ScoreResult:
    """A score, its grade, the scorecard version that produced it and the per-characteristic points."""

    score: int
    grade: str
    version: str
    contributions: list[Contribution]
    # The card's best possible points for this borrower's terms (offset + every term's max_points):
    # the base from which reasons subtract their shortfalls.
    best_points: float | None = None


@dataclass(frozen=True)
class Scorecard:
    """A validated ``jihuitong-scorecard/1`` artefact."""

    version: str
    created_at: datetime
    target_meaning: str
    scaling: Scaling
    offset_points: float
    characteristics: tuple[Characteristic, ...]
    grades: tuple[Grade, ...]
    metadata: Mapping[str, Any] | None = None
    interactions: tuple[Interaction, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scorecard:
        """Validate an artefact dict and build the scorecard.

        Raises:
            ScorecardFormatError: ``data`` is not a mapping, a key is missing or unknown, a value has
                the wrong type, numeric bounds are not strictly ascending or the last is not ``null``,
                a category value appears in two groups, names or grades are duplicated, or no grade
                covers ``min_score``.
        """
        return _parse_scorecard(data)

    def to_dict(self) -> dict[str, Any]:
        """Serialise to the JSON-compatible artefact dict accepted by :meth:`from_dict`."""
        data: dict[str, Any] = {
            "format": FORMAT_PAIRS if self.interactions else FORMAT,
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "target_meaning": self.target_meaning,
            "scaling": {
                "base_score": self.scaling.base_score,
                "base_odds": self.scaling.base_odds,
                "pdo": self.scaling.pdo,
                "min_score": self.scaling.min_score,
                "max_score": self.scaling.max_score,
            },
            "offset_points": self.offset_points,
            "characteristics": [_characteristic_to_dict(c) for c in self.characteristics],
            "grades": [{"grade": g.grade, "min_score": g.min_score} for g in self.grades],
        }
        if self.interactions:
            data["interactions"] = [_interaction_to_dict(i) for i in self.interactions]
        if self.metadata is not None:
            data["metadata"] = dict(self.metadata)
        return data

    def grade_for(self, score: int) -> str:
        """The grade of a (clamped) score: the highest grade whose ``min_score`` it reaches."""
        for grade in sorted(self.grades, key=lambda g: g.min_score, reverse=True):
            if score >= grade.min_score:
                return grade.grade
        # from_dict guarantees the lowest grade starts at or below min_score.
        return min(self.grades, key=lambda g: g.min_score).grade

    def score(self, features: Mapping[str, FeatureValue]) -> ScoreResult:
        """Score one borrower; a characteristic absent from ``features`` counts as missing.

        Raises:
            TypeError: a numeric characteristic received a non-numeric value.
        """
        total = self.offset_points
        contributions = []
        for characteristic in self.characteristics:
            value = features.get(characteristic.name)
            points = characteristic.points_for(value)
            total += points
            contributions.append(
                Contribution(
                    name=characteristic.name,
                    label=characteristic.label,
                    value=None if is_missing(value) else value,
                    points=points,
                    max_points=characteristic.max_points,
                )
            )
        for interaction in self.interactions:
            points = interaction.points_for(features)
            total += points
            first, second = (axis.name for axis in interaction.axes)
            contributions.append(
                Contribution(
                    name=interaction.name,
                    label=interaction.label,
                    value=None,
                    points=points,
                    max_points=interaction.max_points,
                    pair=(
                        (first, _present(features.get(first))),
                        (second, _present(features.get(second))),
                    ),
                )
            )
        score = min(max(math.floor(total + 0.5), self.scaling.min_score), self.scaling.max_score)
        return ScoreResult(
            score=score,
            grade=self.grade_for(score),
            version=self.version,
            contributions=contributions,
            best_points=self.offset_points + sum(c.max_points for c in contributions),
        )

    def score_many(self, columns: Mapping[str, npt.ArrayLike], *, n_rows: int | None = None) -> IntArray:
        """Score many borrowers at once; gives the same integers as :meth:`score` row by row.

        ``columns`` maps characteristic names to 1-D arrays: float arrays with NaN for missing for
        numeric characteristics, object arrays (``None``/NaN for missing) for categorical ones. A
        characteristic absent from ``columns`` is missing for every row.

        Raises:
            ValueError: columns differ in length, no column is given and ``n_rows`` is not, or a
                numeric column cannot be converted to float.
        """
        total = self.points_total_many(columns, n_rows=n_rows)
        scores = np.clip(np.floor(total + 0.5), self.scaling.min_score, self.scaling.max_score)
        return scores.astype(np.int64)

    def points_total_many(
        self, columns: Mapping[str, npt.ArrayLike], *, n_rows: int | None = None
    ) -> FloatArray:
        """The unrounded, unclamped points of many borrowers (see :meth:`score_many`); on the log-odds
        scale ``ln(odds of good) = (total - offset) / factor``.

        Raises:
            ValueError: as :meth:`score_many`.
        """
        arrays = {name: np.asarray(values).ravel() for name, values in columns.items()}
        lengths = {array.size for array in arrays.values()} | ({n_rows} if n_rows is not None else set())
        if len(lengths) > 1:
            raise ValueError(f"columns have different lengths: {sorted(lengths)}")
        if not lengths:
            raise ValueError("score_many needs at least one column or n_rows")
        (size,) = lengths
        # Added in the same order as score() so that both give bit-identical totals.
        total = np.full(size, self.offset_points, dtype=np.float64)
        for characteristic in self.characteristics:
            column = arrays.get(characteristic.name)
            if column is None:
                total = total + characteristic.missing_points
            else:
                total = total + characteristic.points_many(column)
        for interaction in self.interactions:
            total = total + interaction.points_many(arrays, size)
        return total


def _present(value: FeatureValue) -> FeatureValue:
    return None if is_missing(value) else value


def _interaction_to_dict(interaction: Interaction) -> dict[str, Any]:
    axes = []
    for axis in interaction.axes:
        if axis.cuts is not None:
            axes.append({"name": axis.name, "kind": "numeric", "cuts": list(axis.cuts)})
        else:
            axes.append({"name": axis.name, "kind": "categorical", "values": list(axis.values or ())})
    return {"label": interaction.label, "axes": axes, "points": [list(row) for row in interaction.points]}


def _characteristic_to_dict(characteristic: Characteristic) -> dict[str, Any]:
    data: dict[str, Any] = {"name": characteristic.name, "label": characteristic.label}
    if isinstance(characteristic, NumericCharacteristic):
        data["kind"] = "numeric"
        data["bins"] = [{"upper": b.upper, "points": b.points} for b in characteristic.bins]
        data["missing_points"] = characteristic.missing_points
    else:
        data["kind"] = "categorical"
        data["categories"] = [
            {"values": list(c.values), "points": c.points} for c in characteristic.categories
        ]
        data["missing_points"] = characteristic.missing_points
        data["other_points"] = characteristic.other_points
    if characteristic.woe is not None:
        data["woe"] = list(characteristic.woe)
    if characteristic.event_rate is not None:
        data["event_rate"] = list(characteristic.event_rate)
    return data


_TOP_LEVEL_KEYS: Final = frozenset(
    {
        "format",
        "version",
        "created_at",
        "target_meaning",
        "scaling",
        "offset_points",
        "characteristics",
        "grades",
    }
)
_SCALING_KEYS: Final = frozenset({"base_score", "base_odds", "pdo", "min_score", "max_score"})
_NUMERIC_KEYS: Final = frozenset({"name", "label", "kind", "bins", "missing_points"})
_CATEGORICAL_KEYS: Final = frozenset(
    {"name", "label", "kind", "categories", "missing_points", "other_points"}
)
_OPTIONAL_CHARACTERISTIC_KEYS: Final = frozenset({"woe", "event_rate"})


def _parse_scorecard(data: Mapping[str, Any]) -> Scorecard:
    data = _mapping(data, "scorecard")
    _check_keys(data, _TOP_LEVEL_KEYS, frozenset({"metadata", "interactions"}), "scorecard")
    if data["format"] not in FORMATS:
        raise ScorecardFormatError(f"format must be one of {sorted(FORMATS)}, got {data['format']!r}")
    if "interactions" in data and data["format"] != FORMAT_PAIRS:
        raise ScorecardFormatError(f"interactions need format {FORMAT_PAIRS!r}")
    version = _string(data["version"], "version")
    target_meaning = _string(data["target_meaning"], "target_meaning")
    created_at = _timestamp(data["created_at"], "created_at")
    scaling = _parse_scaling(_mapping(data["scaling"], "scaling"))
    offset_points = _number(data["offset_points"], "offset_points")

    raw_characteristics = _list(data["characteristics"], "characteristics")
    if not raw_characteristics:
        raise ScorecardFormatError("characteristics must not be empty")
    characteristics = tuple(
        _parse_characteristic(_mapping(raw, f"characteristics[{i}]"), f"characteristics[{i}]")
        for i, raw in enumerate(raw_characteristics)
    )
    names = [c.name for c in characteristics]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ScorecardFormatError(f"duplicated characteristic names: {duplicated}")

    grades = _parse_grades(_list(data["grades"], "grades"), scaling)
    interactions = tuple(
        _parse_interaction(_mapping(raw, f"interactions[{i}]"), f"interactions[{i}]", characteristics)
        for i, raw in enumerate(_list(data.get("interactions", []), "interactions"))
    )
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise ScorecardFormatError("metadata must be an object")
    return Scorecard(
        version=version,
        created_at=created_at,
        target_meaning=target_meaning,
        scaling=scaling,
        offset_points=offset_points,
        characteristics=characteristics,
        grades=grades,
        metadata=None if metadata is None else copy.deepcopy(dict(metadata)),
        interactions=interactions,
    )


def _parse_interaction(
    data: Mapping[str, Any], where: str, characteristics: Sequence[Characteristic]
) -> Interaction:
    _check_keys(data, frozenset({"label", "axes", "points"}), frozenset(), where)
    kinds = {c.name: c.kind for c in characteristics}
    raw_axes = _list(data["axes"], f"{where}.axes")
    if len(raw_axes) != 2:
        raise ScorecardFormatError(f"{where}.axes must hold two axes")
    axes = []
    for i, raw in enumerate(raw_axes):
        item = _mapping(raw, f"{where}.axes[{i}]")
        at = f"{where}.axes[{i}]"
        name = _string(item.get("name"), f"{at}.name")
        kind = item.get("kind")
        if kinds.get(name) != kind:
            raise ScorecardFormatError(f"{at}: {name!r} is not a {kind!r} characteristic of the card")
        if kind == "numeric":
            _check_keys(item, frozenset({"name", "kind", "cuts"}), frozenset(), at)
            cuts = tuple(_number(v, f"{at}.cuts") for v in _list(item["cuts"], f"{at}.cuts"))
            if any(a >= b for a, b in itertools.pairwise(cuts)):
                raise ScorecardFormatError(f"{at}.cuts must be strictly ascending")
            axes.append(PairAxis(name=name, cuts=cuts))
        else:
            _check_keys(item, frozenset({"name", "kind", "values"}), frozenset(), at)
            values = tuple(_string(v, f"{at}.values") for v in _list(item["values"], f"{at}.values"))
            if len(set(values)) != len(values):
                raise ScorecardFormatError(f"{at}.values must be distinct")
            axes.append(PairAxis(name=name, values=values))
    if axes[0].name == axes[1].name:
        raise ScorecardFormatError(f"{where}: a pair needs two different characteristics")
    rows = _list(data["points"], f"{where}.points")
    points = tuple(
        tuple(_number(v, f"{where}.points[{r}]") for v in _list(row, f"{where}.points[{r}]"))
        for r, row in enumerate(rows)
    )
    if len(points) != axes[0].size or any(len(row) != axes[1].size for row in points):
        raise ScorecardFormatError(f"{where}.points must be {axes[0].size} x {axes[1].size}")
    return Interaction(label=_string(data["label"], f"{where}.label"), axes=(axes[0], axes[1]), points=points)


def _parse_scaling(data: Mapping[str, Any]) -> Scaling:
    _check_keys(data, _SCALING_KEYS, frozenset(), "scaling")
    scaling = Scaling(
        base_score=_number(data["base_score"], "scaling.base_score"),
        base_odds=_number(data["base_odds"], "scaling.base_odds"),
        pdo=_number(data["pdo"], "scaling.pdo"),
        min_score=_integer(data["min_score"], "scaling.min_score"),
        max_score=_integer(data["max_score"], "scaling.max_score"),
    )
    if scaling.base_odds <= 0 or scaling.pdo <= 0:
        raise ScorecardFormatError("scaling.base_odds and scaling.pdo must be positive")
    if scaling.min_score >= scaling.max_score:
        raise ScorecardFormatError("scaling.min_score must be below scaling.max_score")
    return scaling


def _parse_characteristic(data: Mapping[str, Any], where: str) -> Characteristic:
    kind = data.get("kind")
    if kind == "numeric":
        _check_keys(data, _NUMERIC_KEYS, _OPTIONAL_CHARACTERISTIC_KEYS, where)
        bins = _parse_bins(_list(data["bins"], f"{where}.bins"), f"{where}.bins")
        return NumericCharacteristic(
            name=_string(data["name"], f"{where}.name"),
            label=_string(data["label"], f"{where}.label"),
            bins=bins,
            missing_points=_number(data["missing_points"], f"{where}.missing_points"),
            woe=_optional_numbers(data.get("woe"), len(bins), f"{where}.woe"),
            event_rate=_optional_numbers(data.get("event_rate"), len(bins), f"{where}.event_rate"),
        )
    if kind == "categorical":
        _check_keys(data, _CATEGORICAL_KEYS, _OPTIONAL_CHARACTERISTIC_KEYS, where)
        categories = _parse_categories(
            _list(data["categories"], f"{where}.categories"), f"{where}.categories"
        )
        return CategoricalCharacteristic(
            name=_string(data["name"], f"{where}.name"),
            label=_string(data["label"], f"{where}.label"),
            categories=categories,
            missing_points=_number(data["missing_points"], f"{where}.missing_points"),
            other_points=_number(data["other_points"], f"{where}.other_points"),
            woe=_optional_numbers(data.get("woe"), len(categories), f"{where}.woe"),
            event_rate=_optional_numbers(data.get("event_rate"), len(categories), f"{where}.event_rate"),
        )
    raise ScorecardFormatError(f"{where}.kind must be 'numeric' or 'categorical', got {kind!r}")


def _parse_bins(raw_bins: Sequence[Any], where: str) -> tuple[NumericBin, ...]:
    if not raw_bins:
        raise ScorecardFormatError(f"{where} must not be empty")
    bins = []
    for i, raw in enumerate(raw_bins):
        item = _mapping(raw, f"{where}[{i}]")
        _check_keys(item, frozenset({"upper", "points"}), frozenset(), f"{where}[{i}]")
        upper = None if item["upper"] is None else _number(item["upper"], f"{where}[{i}].upper")
        bins.append(NumericBin(upper=upper, points=_number(item["points"], f"{where}[{i}].points")))
    if bins[-1].upper is not None:
        raise ScorecardFormatError(f"{where}: the last bin's upper must be null (+infinity)")
    uppers = [b.upper for b in bins[:-1]]
    if any(u is None for u in uppers):
        raise ScorecardFormatError(f"{where}: only the last bin may have a null upper")
    finite = [u for u in uppers if u is not None]
    if any(a >= b for a, b in itertools.pairwise(finite)):
        raise ScorecardFormatError(f"{where}: upper bounds must be strictly ascending, got {finite}")
    return tuple(bins)


def _parse_categories(raw_groups: Sequence[Any], where: str) -> tuple[CategoryGroup, ...]:
    if not raw_groups:
        raise ScorecardFormatError(f"{where} must not be empty")
    groups = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_groups):
        item = _mapping(raw, f"{where}[{i}]")
        _check_keys(item, frozenset({"values", "points"}), frozenset(), f"{where}[{i}]")
        values = tuple(
            _string(v, f"{where}[{i}].values[{j}]")
            for j, v in enumerate(_list(item["values"], f"{where}[{i}].values"))
        )
        if not values:
            raise ScorecardFormatError(f"{where}[{i}].values must not be empty")
        repeated = seen.intersection(values) | {v for v in values if values.count(v) > 1}
        if repeated:
            raise ScorecardFormatError(f"{where}[{i}]: values in more than one group: {sorted(repeated)}")
        seen.update(values)
        groups.append(CategoryGroup(values=values, points=_number(item["points"], f"{where}[{i}].points")))
    return tuple(groups)


def _parse_grades(raw_grades: Sequence[Any], scaling: Scaling) -> tuple[Grade, ...]:
    if not raw_grades:
        raise ScorecardFormatError("grades must not be empty")
    grades = []
    for i, raw in enumerate(raw_grades):
        item = _mapping(raw, f"grades[{i}]")
        _check_keys(item, frozenset({"grade", "min_score"}), frozenset(), f"grades[{i}]")
        grades.append(
            Grade(
                grade=_string(item["grade"], f"grades[{i}].grade"),
                min_score=_integer(item["min_score"], f"grades[{i}].min_score"),
            )
        )
    names = [g.grade for g in grades]
    thresholds = [g.min_score for g in grades]
    if len(set(names)) != len(names) or len(set(thresholds)) != len(thresholds):
        raise ScorecardFormatError("grades must have distinct names and distinct min_score values")
    if min(thresholds) > scaling.min_score:
        raise ScorecardFormatError(
            f"the lowest grade must start at or below scaling.min_score ({scaling.min_score})"
        )
    return tuple(grades)


def _check_keys(
    data: Mapping[str, Any], required: frozenset[str], optional: frozenset[str], where: str
) -> None:
    missing = required - data.keys()
    if missing:
        raise ScorecardFormatError(f"{where}: missing keys {sorted(missing)}")
    unknown = data.keys() - required - optional
    if unknown:
        raise ScorecardFormatError(f"{where}: unknown keys {sorted(unknown)}")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScorecardFormatError(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise ScorecardFormatError(f"{where} must be a list")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ScorecardFormatError(f"{where} must be a non-empty string")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScorecardFormatError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _integer(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScorecardFormatError(f"{where} must be an integer, got {value!r}")
    return value


def _optional_numbers(value: Any, length: int, where: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    numbers = tuple(_number(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where)))
    if len(numbers) != length:
        raise ScorecardFormatError(f"{where} must have {length} entries, got {len(numbers)}")
    return numbers


def _timestamp(value: Any, where: str) -> datetime:
    text = _string(value, where)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ScorecardFormatError(f"{where} must be an ISO 8601 timestamp, got {text!r}") from exc
    if parsed.tzinfo is None:
        raise ScorecardFormatError(f"{where} must include a timezone offset")
    return parsed
