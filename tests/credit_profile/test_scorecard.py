"""The runtime scorecard: artefact validation, bins, missing and unseen values, clamping, grades."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit_profile.scorecard import Scorecard, ScorecardFormatError
from credit_profile.scorecard_terms import CategoricalCharacteristic, CategoryGroup

OFFSET = 600.0


def artefact() -> dict[str, Any]:
    return {
        "format": "jihuitong-scorecard/1",
        "version": "test-2026.11",
        "created_at": "2026-11-22T00:00:00+00:00",
        "target_meaning": "1 = bad outcome",
        "scaling": {"base_score": 600, "base_odds": 50, "pdo": 40, "min_score": 300, "max_score": 900},
        "offset_points": OFFSET,
        "characteristics": [
            {
                "name": "elec_yoy_change",
                "label": "近12个月用电量同比变化",
                "kind": "numeric",
                "bins": [
                    {"upper": -0.3, "points": -20.0},
                    {"upper": 0.0, "points": 5.0},
                    {"upper": None, "points": 30.0},
                ],
                "missing_points": 7.0,
                "woe": [-0.5, 0.1, 0.8],
            },
            {
                "name": "tax_credit_rating",
                "label": "纳税信用等级",
                "kind": "categorical",
                "categories": [
                    {"values": ["A"], "points": 40.0},
                    {"values": ["B", "M"], "points": 10.0},
                    {"values": ["C", "D"], "points": -40.0},
                ],
                "missing_points": 2.0,
                "other_points": -3.0,
            },
        ],
        "grades": [
            {"grade": "A", "min_score": 750},
            {"grade": "B", "min_score": 680},
            {"grade": "C", "min_score": 620},
            {"grade": "D", "min_score": 560},
            {"grade": "E", "min_score": 300},
        ],
    }


def card(**changes: Any) -> Scorecard:
    data = artefact()
    data.update(changes)
    return Scorecard.from_dict(data)


def points_of(scorecard: Scorecard, features: dict[str, Any], name: str) -> float:
    return next(c.points for c in scorecard.score(features).contributions if c.name == name)


def test_artefact_round_trips_through_json() -> None:
    data = artefact()
    assert Scorecard.from_dict(json.loads(json.dumps(Scorecard.from_dict(data).to_dict()))).to_dict() == data


def _broken(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = artefact()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("format",), "jihuitong-scorecard/9", "format must be"),
        (("version",), KeyError, "missing keys"),
        (("typo_key",), 1, "unknown keys"),
        (("created_at",), "2026-11-22T00:00:00", "timezone"),
        (("created_at",), "yesterday", "ISO 8601"),
        (("offset_points",), math.nan, "finite number"),
        (("offset_points",), True, "finite number"),
        (("offset_points",), "512", "finite number"),
        (("scaling", "min_score"), 900, "below scaling.max_score"),
        (("scaling", "pdo"), 0, "positive"),
        (("scaling", "min_score"), 300.5, "integer"),
        (("characteristics",), [], "must not be empty"),
        (("characteristics", 0, "kind"), "ordinal", "'numeric' or 'categorical'"),
        (("characteristics", 0, "bins", 1, "upper"), -0.5, "strictly ascending"),
        (("characteristics", 0, "bins", 1, "upper"), -0.3, "strictly ascending"),
        (("characteristics", 0, "bins", 2, "upper"), 1.0, "last bin's upper must be null"),
        (("characteristics", 0, "bins", 0, "upper"), None, "only the last bin"),
        (("characteristics", 0, "bins"), [], "must not be empty"),
        (("characteristics", 0, "woe"), [0.1, 0.2], "must have 3 entries"),
        (("characteristics", 0, "missing_points"), KeyError, "missing keys"),
        (("characteristics", 1, "other_points"), KeyError, "missing keys"),
        (("characteristics", 1, "categories", 2, "values"), ["C", "B"], "more than one group"),
        (("characteristics", 1, "categories", 2, "values"), ["C", "C"], "more than one group"),
        (("characteristics", 1, "categories", 2, "values"), [], "must not be empty"),
        (("characteristics", 1, "categories", 2, "values"), [1], "non-empty string"),
        (("characteristics", 1, "name"), "elec_yoy_change", "duplicated characteristic names"),
        (("grades", 4, "min_score"), 301, "lowest grade"),
        (("grades", 4, "min_score"), 750, "distinct"),
        (("grades", 4, "grade"), "A", "distinct"),
        (("grades",), [], "must not be empty"),
    ],
)
def test_invalid_artefacts_are_rejected(path: tuple[Any, ...], value: Any, message: str) -> None:
    with pytest.raises(ScorecardFormatError, match=message):
        Scorecard.from_dict(_broken(path, value))


def test_a_non_mapping_artefact_is_rejected() -> None:
    with pytest.raises(ScorecardFormatError, match="must be an object"):
        Scorecard.from_dict([artefact()])  # type: ignore[arg-type]


def test_metadata_is_kept() -> None:
    data = artefact() | {"metadata": {"kind": "expert"}}
    assert Scorecard.from_dict(data).to_dict() == data


@pytest.mark.parametrize(
    ("value", "points"),
    [
        (-math.inf, -20.0),
        (-0.30001, -20.0),
        (-0.3, 5.0),  # bins are right-open: a value equal to an upper bound goes to the next bin
        (-0.0001, 5.0),
        (0.0, 30.0),
        (1e9, 30.0),
        (math.inf, 30.0),
        (0, 30.0),
        (np.float64(-0.5), -20.0),
    ],
)
def test_numeric_values_fall_into_right_open_bins(value: float, points: float) -> None:
    assert points_of(card(), {"elec_yoy_change": value}, "elec_yoy_change") == points


@pytest.mark.parametrize("features", [{}, {"elec_yoy_change": None}, {"elec_yoy_change": math.nan}])
def test_missing_numeric_value_earns_missing_points(features: dict[str, Any]) -> None:
    scorecard = card()
    contribution = scorecard.score(features).contributions[0]
    assert contribution.points == 7.0
    assert contribution.value is None


@pytest.mark.parametrize(
    ("value", "points"),
    [
        ("A", 40.0),
        ("B", 10.0),
        ("M", 10.0),
        ("D", -40.0),
        ("Z", -3.0),
        ("a", -3.0),
        (None, 2.0),
        (math.nan, 2.0),
    ],
)
def test_categorical_values_groups_other_and_missing(value: Any, points: float) -> None:
    assert points_of(card(), {"tax_credit_rating": value}, "tax_credit_rating") == points


def test_numeric_characteristic_rejects_text() -> None:
    with pytest.raises(TypeError, match="elec_yoy_change"):
        card().score({"elec_yoy_change": "0.5"})


def test_score_adds_offset_and_points_and_reports_contributions() -> None:
    result = card().score({"elec_yoy_change": -0.1, "tax_credit_rating": "C"})
    assert result.score == 600 + 5 - 40
    assert result.version == "test-2026.11"
    assert [(c.name, c.label, c.value, c.points, c.max_points) for c in result.contributions] == [
        ("elec_yoy_change", "近12个月用电量同比变化", -0.1, 5.0, 30.0),
        ("tax_credit_rating", "纳税信用等级", "C", -40.0, 40.0),
    ]
    assert [c.shortfall for c in result.contributions] == [25.0, 80.0]


def test_max_points_counts_a_generous_missing_bin() -> None:
    data = artefact()
    data["characteristics"][0]["missing_points"] = 50.0
    contribution = Scorecard.from_dict(data).score({}).contributions[0]
    assert contribution.max_points == 50.0
    assert contribution.shortfall == 0.0


@pytest.mark.parametrize(("offset", "expected"), [(600.5, 601), (600.49, 600), (599.5, 600), (598.5, 599)])
def test_score_rounds_half_up(offset: float, expected: int) -> None:
    scorecard = card(offset_points=offset)
    columns = {"elec_yoy_change": np.array([-0.1]), "tax_credit_rating": np.array(["B"], dtype=object)}
    assert scorecard.score({"elec_yoy_change": -0.1, "tax_credit_rating": "B"}).score == expected + 15
    assert scorecard.score_many(columns).tolist() == [expected + 15]


@pytest.mark.parametrize(("offset", "expected"), [(2000.0, 900), (-500.0, 300)])
def test_score_is_clamped(offset: float, expected: int) -> None:
    scorecard = card(offset_points=offset)
    assert scorecard.score({"elec_yoy_change": 1.0, "tax_credit_rating": "A"}).score == expected
    assert scorecard.score_many({"elec_yoy_change": np.array([1.0])}).tolist() == [expected]


@pytest.mark.parametrize(
    ("score", "grade"),
    [(900, "A"), (750, "A"), (749, "B"), (680, "B"), (679, "C"), (560, "D"), (559, "E"), (300, "E")],
)
def test_grade_thresholds(score: int, grade: str) -> None:
    scorecard = card()
    assert scorecard.grade_for(score) == grade
    assert card(offset_points=score - 7.0 - 2.0).score({}).grade == grade


def test_grades_need_not_be_listed_in_order() -> None:
    data = artefact()
    data["grades"].reverse()
    assert Scorecard.from_dict(data).grade_for(700) == "B"


NUMERIC_VALUES = st.one_of(
    st.none(),
    st.sampled_from([-0.3, 0.0, -math.inf, math.inf, math.nan]),
    st.floats(min_value=-2, max_value=2),
)
CATEGORY_VALUES = st.sampled_from(["A", "B", "M", "C", "D", "X", "", None])


@given(
    rows=st.lists(st.tuples(NUMERIC_VALUES, CATEGORY_VALUES), min_size=1, max_size=30),
    offset=st.floats(min_value=250, max_value=950),
)
def test_score_many_matches_score_row_by_row(
    rows: list[tuple[float | None, str | None]], offset: float
) -> None:
    scorecard = card(offset_points=offset)
    numeric = np.array([math.nan if v is None else v for v, _ in rows], dtype=np.float64)
    categorical = np.array([c for _, c in rows], dtype=object)
    many = scorecard.score_many({"elec_yoy_change": numeric, "tax_credit_rating": categorical})
    one_by_one = [scorecard.score({"elec_yoy_change": v, "tax_credit_rating": c}).score for v, c in rows]
    assert many.tolist() == one_by_one


def test_score_many_treats_absent_columns_as_missing() -> None:
    scorecard = card()
    scores = scorecard.score_many({"tax_credit_rating": np.array(["A", "Z"], dtype=object)})
    assert scores.tolist() == [600 + 7 + 40, 600 + 7 - 3]
    assert scorecard.score_many({}, n_rows=2).tolist() == [609, 609]


def test_score_many_rejects_ragged_columns() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        card().score_many(
            {"elec_yoy_change": np.zeros(2), "tax_credit_rating": np.array(["A"], dtype=object)}
        )
    with pytest.raises(ValueError, match="n_rows"):
        card().score_many({})


def test_from_dict_does_not_keep_references_to_the_input() -> None:
    data = artefact()
    scorecard = Scorecard.from_dict(data)
    before = copy.deepcopy(scorecard.to_dict())
    data["characteristics"][0]["bins"][0]["points"] = 999.0
    assert scorecard.to_dict() == before


def test_categorical_points_many_tells_equal_keys_of_different_types_apart() -> None:
    # 1, 1.0 and True are one dict key but three different strings; a column may repeat each.
    characteristic = CategoricalCharacteristic(
        name="code",
        label="代码",
        categories=(CategoryGroup(values=("1",), points=10.0), CategoryGroup(values=("True",), points=20.0)),
        missing_points=-5.0,
        other_points=-1.0,
    )
    column = [1, 1.0, True, "1", math.nan, None, 1, True, ["unhashable"]]
    assert characteristic.points_many(np.array(column, dtype=object)).tolist() == [
        characteristic.points_for(value) for value in column
    ]
    assert characteristic.points_many(np.array(column, dtype=object)).tolist() == [
        10.0,
        -1.0,
        20.0,
        10.0,
        -5.0,
        -5.0,
        10.0,
        20.0,
        -1.0,
    ]
