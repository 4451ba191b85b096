"""Figures as people read them: amounts in 万元 with thousands separators, shares in %, changes with
arrows. One place, used by the report, the pages' tables and the summaries. Pure computation.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

DASH = "—"
TEN_THOUSAND = Decimal(10_000)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def count(value: Any) -> str:
    number = _decimal(value)
    return DASH if number is None else f"{int(number):,}"


def wan(value: Any) -> str:
    """Yuan as 万元 with 2 decimals and thousands separators (`2725000` → `272.50`)."""
    number = _decimal(value)
    if number is None:
        return DASH
    return f"{(number / TEN_THOUSAND).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def wan_unit(value: Any) -> str:
    """An amount as the finance pages show a figure: 万元 with its unit, zero alike (`0` → `0.00万元`,
    `2725000` → `272.50万元`, never `0.00元` beside `272.5万元`); `—` when missing."""
    text = wan(value)
    return text if text == DASH else f"{text}万元"


def percent(value: Any, places: int = 1) -> str:
    """A share (`0.2857`) as a percentage (`28.6%`)."""
    number = _decimal(value)
    if number is None:
        return DASH
    quantum = Decimal(1).scaleb(-places)
    shown = (number * 100).quantize(quantum, rounding=ROUND_HALF_UP)
    if not shown and number:
        # Not "0.0%" for a share that is not zero (a fund's first loans against its capital): two more
        # places, or "<" the smallest of them.
        finer = Decimal(1).scaleb(-places - 2)
        small = (number * 100).quantize(finer, rounding=ROUND_HALF_UP)
        return f"{small.normalize():f}%" if small else f"<{finer}%"
    return f"{shown}%"


def rate(value: Any) -> str:
    """An annual rate already in percent (`3.85`)."""
    number = _decimal(value)
    return DASH if number is None else f"{number.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


def hours(value: Any) -> str:
    number = _decimal(value)
    return DASH if number is None else f"{number.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)} 小时"


def number(value: Any) -> str:
    """A decimal figure without a unit of its own (days on average, a multiple): 2 places, or up to 4
    where 2 would show a figure that is not zero as 0.00 (a scheme's 放大倍数 of 0.0035 early on is
    not "0.00 倍", which reads as nothing lent)."""
    n = _decimal(value)
    if n is None:
        return DASH
    shown = n.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if not shown and n:
        small = n.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        return f"{small.normalize():f}" if small else "<0.0001"
    return f"{shown:,}"


# How a figure's value is shown, by the figure's kind.
KINDS = {"count": count, "amount": wan, "share": percent, "rate": rate, "hours": hours, "number": number}


def show(kind: str, value: Any) -> str:
    return KINDS[kind](value)


def kind_of(name: str) -> str:
    """The kind of a figure from its name: amounts, shares and rates, hours, else a count."""
    if "amount" in name:
        return "amount"
    if name == "avg_rate":
        return "rate"
    if name.endswith(("_share", "_rate")):
        return "share"
    if "hours" in name:
        return "hours"
    return "count"


def arrow(difference: Decimal) -> str:
    return "↑" if difference > 0 else ("↓" if difference < 0 else "→")


def change(kind: str, now: Any, then: Any) -> str:
    """The change from `then` to `now` as a reader wants it: counts and amounts as a growth rate with an
    arrow (`↑12.5%`), shares as percentage points, rates and hours as a difference; `—` when either is
    missing or, for a growth rate, when `then` is 0."""
    a, b = _decimal(now), _decimal(then)
    if a is None or b is None:
        return DASH
    difference = a - b
    if kind in ("count", "amount"):
        if not b:
            return DASH
        growth = (difference / b * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        return f"{arrow(difference)}{abs(growth)}%"
    if kind == "share":
        points = (difference * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        return f"{arrow(difference)}{abs(points)} 个百分点"
    if kind == "rate":
        return f"{arrow(difference)}{abs(difference).quantize(Decimal('0.01'))} 个百分点"
    return f"{arrow(difference)}{abs(difference).quantize(Decimal('0.1'))} 小时"


def growth(now: Any, then: Any) -> Decimal | None:
    """(now − then) / then, or None when then is 0 or either is missing."""
    a, b = _decimal(now), _decimal(then)
    if a is None or not b:
        return None
    return (a - b) / b
