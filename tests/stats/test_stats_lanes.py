"""The statistics over committed rows on PostgreSQL, where their statements run side by side (core.lanes):
the same figures as the plain-Python recomputation, with every family read in a lane."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core import lanes
from stats import figures
from stats.windows import Window
from tests.conftest import IS_POSTGRES
from tests.factories import bind_factories
from tests.stats.test_stats_properties import assert_matches_reference, insert, make_world, seeded_case

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="lanes are PostgreSQL's")


@pytest.fixture
def lane_flags(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each need, lead and loan statement run: whether it ran in a lane."""
    flags: list[bool] = []
    for name in ("need_figures", "lead_figures", "loan_statements"):
        real = getattr(figures, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            if _name == "loan_statements":
                level, borrowers = _real(*args, **kwargs)
                return (lambda s: (flags.append(lanes.IN_LANE in s.info), level(s))[1],
                        lambda s: (flags.append(lanes.IN_LANE in s.info), borrowers(s))[1])  # fmt: skip
            flags.append(lanes.IN_LANE in args[0].info)
            return _real(*args, **kwargs)

        monkeypatch.setattr(figures, name, spy)
    return flags


@pytest.fixture
def committed_world(committed_db: Any) -> Iterator[Any]:
    _engine, factory = committed_db
    yield factory
    lanes.dispose()


@pytest.mark.parametrize("seed", [7, 2024, 31337])
def test_figures_read_in_lanes_match_the_raw_rows(committed_world, lane_flags, seed):
    factory = committed_world
    needs, window, region = seeded_case(seed)
    with factory() as s:
        bind_factories(s)
        world = make_world(s)
        insert(s, world, needs)
        s.commit()
    with factory() as fresh:
        assert_matches_reference(fresh, Window(window[0], window[1], region))
    assert lane_flags and all(lane_flags)
