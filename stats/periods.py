"""Period presets of the finance pages: 上月, 本季, 本年, 近12个月 (or custom dates). Pure computation."""

from __future__ import annotations

import datetime as dt

from core.i18n import N_

PRESETS: dict[str, str] = {
    "last_month": N_("上月"),
    "quarter": N_("本季"),
    "year": N_("本年"),
    "last_12_months": N_("近12个月"),
}
CUSTOM = "custom"
DEFAULT = "last_month"  # the last complete month: the first screen of a month is never nearly empty


def preset_dates(preset: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of a preset seen on `today` (Asia/Shanghai). Raises ValueError.

    上月 is the last complete month; 本季 and 本年 run to today; 近12个月 is the last twelve complete months
    (this month, not over yet, is left out), so that it compares whole months with the twelve before
    them (previous_period; the same as the year before, which the indicators compare with)."""
    first_of_month = today.replace(day=1)
    if preset == "last_month":
        last = first_of_month - dt.timedelta(days=1)
        return last.replace(day=1), last
    if preset == "quarter":
        return first_of_month.replace(month=(today.month - 1) // 3 * 3 + 1), today
    if preset == "year":
        return today.replace(month=1, day=1), today
    if preset == "last_12_months":
        return add_months(first_of_month, -12), first_of_month - dt.timedelta(days=1)
    raise ValueError(preset)


def add_months(first_of_month: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after (or before) the month starting on `first_of_month`."""
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def whole_months(first: dt.date, last: dt.date) -> int | None:
    """How many calendar months [first, last] spans when it is whole months (from a 1st to a month's
    end), else None."""
    if first.day != 1 or last != month_end(last) or last < first:
        return None
    return (last.year * 12 + last.month) - (first.year * 12 + first.month) + 1


def previous_period(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The period just before [first, last] that it compares with: as many whole months before when it is
    whole months (上月: the month before; 近12个月: the twelve before), else as many days before."""
    months = whole_months(first, last)
    if months is not None:
        return add_months(first, -months), first - dt.timedelta(days=1)
    days = (last - first).days + 1
    return first - dt.timedelta(days=days), first - dt.timedelta(days=1)


def month_end(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def partial_note(last_day: dt.date) -> str | None:
    """The chart note for a month whose figures stop at `last_day` before its end (the month is not over,
    or the window cuts it), else None."""
    if last_day >= month_end(last_day):
        return None
    return f"{last_day.month}月只含1日至{last_day.day}日"
