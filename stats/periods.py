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

    上月 is the last complete month; 本季 and 本年 run to today; 近12个月 is the current month (to today)
    and the eleven before it, so its last point is a partial month, marked so in the charts."""
    first_of_month = today.replace(day=1)
    if preset == "last_month":
        last = first_of_month - dt.timedelta(days=1)
        return last.replace(day=1), last
    if preset == "quarter":
        return first_of_month.replace(month=(today.month - 1) // 3 * 3 + 1), today
    if preset == "year":
        return today.replace(month=1, day=1), today
    if preset == "last_12_months":
        months = today.year * 12 + today.month - 1 - 11
        return dt.date(months // 12, months % 12 + 1, 1), today
    raise ValueError(preset)


def month_end(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def partial_note(last_day: dt.date) -> str | None:
    """The chart note for a month whose figures stop at `last_day` before its end (the month is not over,
    or the window cuts it), else None."""
    if last_day >= month_end(last_day):
        return None
    return f"{last_day.month}月只含1日至{last_day.day}日"
