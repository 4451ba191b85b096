"""Bridge-fund fees and clocks: pure, Decimal yuan, to the fen."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def days_used(out_on: dt.date, back_on: dt.date) -> int:
    """Days the bridge was out, counting the day it left and not the day it came back, at least 1
    (money out and back on the same day is charged one day)."""
    return max(1, (back_on - out_on).days)


def tiered_fee(amount: Decimal, days: int, tiers: Sequence[Mapping[str, Any]]) -> Decimal:
    """The fee for `days` days of `amount` at the tiers' daily rates.

    Tiers are in order, each `{"up_to_day": n or None, "daily_rate": "0.0002"}`: days 1..n at the first
    rate, the next days up to the second tier's `up_to_day` at its rate, and so on (None: every later
    day). The fee is rounded once, half up, to the fen. Raises ValueError if days are left uncharged.
    """
    total = Decimal(0)
    start = 0
    for tier in tiers:
        limit = tier.get("up_to_day")
        end = days if limit is None else min(days, int(limit))
        if end > start:
            total += amount * Decimal(str(tier["daily_rate"])) * (end - start)
            start = end
        if start >= days:
            break
    if start < days:
        raise ValueError("fee tiers do not cover every day")
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


def days_left(due_on: dt.date, today: dt.date) -> int:
    """Days until the bridge must be back (0 on the due day, negative once overdue)."""
    return (due_on - today).days


def annual_fee_rate(fee: Decimal, amount: Decimal, days: int) -> Decimal:
    """The fee as a yearly rate (fee ÷ amount ÷ days × 365), to compare with a market 过桥 rate."""
    if amount <= 0 or days <= 0:
        return Decimal(0)
    return (fee / amount / days * 365).quantize(Decimal("0.0001"))


def fee_workings(amount: Decimal, days: int, tiers: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The fee's arithmetic, one line per tier used: `{from_day, to_day, days, daily_rate, amount}`
    (each line unrounded, as `tiered_fee` adds them before rounding the total once)."""
    lines: list[dict[str, Any]] = []
    start = 0
    for tier in tiers:
        limit = tier.get("up_to_day")
        end = days if limit is None else min(days, int(limit))
        if end > start:
            rate = Decimal(str(tier["daily_rate"]))
            lines.append(
                {
                    "from_day": start + 1,
                    "to_day": end,
                    "days": end - start,
                    "daily_rate": rate,
                    "amount": amount * rate * (end - start),
                }
            )
            start = end
        if start >= days:
            break
    return lines
