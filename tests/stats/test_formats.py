"""Figures as people read them (stats.formats): amounts in 万元 with their unit, zero alike."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stats import formats


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "0.00万元"),
        (Decimal("0.00"), "0.00万元"),
        ("0", "0.00万元"),
        (Decimal("2725000"), "272.50万元"),
        (Decimal("123456789.99"), "12,345.68万元"),
        (Decimal("-50000"), "-5.00万元"),
        (None, "—"),
    ],
)
def test_amounts_read_in_wan_with_the_unit_zero_included(value, shown) -> None:
    assert formats.wan_unit(value) == shown


def test_number_has_two_places_and_separators() -> None:
    assert formats.number(Decimal("1234.5")) == "1,234.50"
    assert formats.number(Decimal("0")) == "0.00"
    assert formats.show("number", None) == formats.DASH


def test_a_small_multiple_is_not_shown_as_zero() -> None:
    assert formats.number(Decimal("0.0035")) == "0.0035"
    assert formats.number(Decimal("0.0040")) == "0.004"
    assert formats.number(Decimal("0.005")) == "0.01"
    assert formats.number(Decimal("0.00001")) == "<0.0001"


def test_a_small_share_is_not_shown_as_zero() -> None:
    assert formats.percent(Decimal("0.2857")) == "28.6%"
    assert formats.percent(Decimal("0")) == "0.0%"
    assert formats.percent(Decimal("0.00024")) == "0.024%"
    assert formats.percent(Decimal("0.0003")) == "0.03%"
    assert formats.percent(Decimal("0.0000001")) == "<0.001%"
    assert formats.percent(Decimal("0.00024"), places=2) == "0.02%"
    assert formats.percent(Decimal("0.00004"), places=2) == "0.004%"
