"""The monthly report's frame: what a section is made of (blocks, Section), the month and region a report
covers with the figures computed once per report (ReportContext), the registry of sections (SECTIONS,
register) and the helpers every section uses to show a table or a figure.

A section is one function `(ReportContext) -> Section | None` (None: nothing to show for this region)
and one registration, in reading order; `register()` adds one (before another, by key). A section holds
blocks (key figures, a chart, paragraphs, a table) that one template renders for the screen and, through
WeasyPrint, for paper; its tables also become the sheets of the report's workbook.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from core.reference import CITY_CODE
from stats import breakdowns, formats, funnels, glossary, maturities, periods
from stats.charts import Responsive
from stats.exports import region_name
from stats.figures import figures_plan, run_plans
from stats.tables import Table
from stats.windows import Window

# --- what a section is made of --------------------------------------------------------------------


@dataclass(frozen=True)
class KeyFigure:
    label: str
    value: str
    unit: str
    month_on_month: str
    year_on_year: str
    anchor: str


@dataclass(frozen=True)
class KeyFigures:
    items: tuple[KeyFigure, ...]
    kind: str = "key_figures"


@dataclass(frozen=True)
class Chart:
    chart: Responsive
    kind: str = "chart"


@dataclass(frozen=True)
class Paragraphs:
    items: tuple[str, ...]
    kind: str = "paragraphs"


@dataclass(frozen=True)
class TableBlock:
    """A table as the report shows it (text formatted by column kind, amounts in 万元); `sheet` is the
    same table with raw values for the workbook."""

    title: str
    headers: tuple[str, ...]
    numeric: tuple[bool, ...]
    rows: tuple[tuple[str, ...], ...]
    sheet: Table
    kind: str = "table"


Block = KeyFigures | Chart | Paragraphs | TableBlock


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    blocks: tuple[Block, ...]
    anchors: tuple[str, ...] = ()  # glossary entries the section's figures need in the appendix
    workbook: tuple[Table, ...] = ()  # sheets for the workbook only (the page shows them otherwise)

    @property
    def sheets(self) -> list[Table]:
        """The workbook's sheets: each table once (two blocks may show parts of one table)."""
        tables = [*self.workbook, *[block.sheet for block in self.blocks if isinstance(block, TableBlock)]]
        return list({id(table): table for table in tables}.values())


@dataclass
class ReportContext:
    """The month and region a report covers, the windows it compares with, and figures computed once."""

    session: Session
    window: Window
    today: dt.date
    _memo: dict[Hashable, Any] = field(default_factory=dict)

    @property
    def month(self) -> str:
        return self.window.first.strftime("%Y-%m")

    @property
    def month_name(self) -> str:
        return f"{self.window.first.year}年{self.window.first.month}月"

    @property
    def is_city(self) -> bool:
        return self.window.county is None

    @property
    def region_name(self) -> str:
        return region_name(self.window.county or CITY_CODE)

    @property
    def previous_month(self) -> Window:
        last = self.window.first - dt.timedelta(days=1)
        return Window(last.replace(day=1), last, self.window.region_code)

    @property
    def last_year(self) -> Window:
        return breakdowns.same_period_last_year(self.window)

    @property
    def next_month(self) -> Window:
        first = self.window.last + dt.timedelta(days=1)
        return Window(first, periods.month_end(first), self.window.region_code)

    @property
    def trend(self) -> Window:
        """The twelve months up to the report's month."""
        start = (self.window.first - dt.timedelta(days=335)).replace(day=1)
        return Window(start, self.window.last, self.window.region_code)

    def memo(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def figures(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The month's figures, the previous month's and the same month last year's."""

        def compute() -> tuple[dict[str, Any], ...]:
            results = run_plans(
                self.session, *[figures_plan(w) for w in (self.window, self.previous_month, self.last_year)]
            )
            return tuple(result[None] for result in results)

        return self.memo("figures", compute)  # type: ignore[no-any-return]

    def breakdown(self, by: str, window: Window | None = None) -> dict[str, Any]:
        w = window or self.window
        return self.memo(("breakdown", by, w), lambda: breakdowns.breakdown(self.session, w, by))  # type: ignore[no-any-return]

    def timeseries(self) -> dict[str, Any]:
        return self.memo("timeseries", lambda: breakdowns.timeseries(self.session, self.trend))  # type: ignore[no-any-return]

    def board(self) -> dict[str, Any]:
        return self.memo("board", lambda: funnels.institution_board(self.session, self.window))  # type: ignore[no-any-return]

    def funnel(self) -> dict[str, Any]:
        return self.memo("funnel", lambda: funnels.funnel(self.session, self.window))  # type: ignore[no-any-return]

    def maturing(self) -> dict[str, Any]:
        return self.memo("maturing", lambda: maturities.maturities(self.session, self.next_month))  # type: ignore[no-any-return]


SectionBuilder = Callable[[ReportContext], Section | None]
SECTIONS: list[tuple[str, SectionBuilder]] = []


def register(key: str, build: SectionBuilder, *, before: str | None = None) -> None:
    """Add a section to the monthly report (at the end, or before the section `before`)."""
    if any(existing == key for existing, _build in SECTIONS):
        raise ValueError(f"report section {key} registered twice")
    at = next((i for i, (existing, _b) in enumerate(SECTIONS) if existing == before), len(SECTIONS))
    SECTIONS.insert(at, (key, build))


# --- helpers --------------------------------------------------------------------------------------


def wan_label(label: str) -> str:
    """A column label in yuan as the report shows it, in 万元."""
    return label.replace("（元）", "（万元）").replace("，元）", "，万元）")


def unitless_label(label: str) -> str:
    """A figure's name in yuan without its unit, for a heading above values that carry their own."""
    return label.replace("（元）", "").replace("，元）", "）")


def table_block(
    table: Table, *, columns: tuple[str, ...] | None = None, title: str | None = None
) -> TableBlock:
    """The report's view of a table (optionally only some columns), values formatted by kind."""
    shown = [c for c in table.columns if columns is None or c.name in columns]
    if columns is not None:
        shown.sort(key=lambda c: columns.index(c.name))
    headers = tuple(wan_label(c.label) if c.kind == "amount" else c.label for c in shown)
    rows = tuple(
        tuple(
            str(row.get(c.name) if row.get(c.name) is not None else formats.DASH)
            if c.kind == "text"
            else formats.show(
                str(row.get("kind") or "count") if c.kind == "mixed" else c.kind, row.get(c.name)
            )
            for c in shown
        )
        for row in table.rows
    )
    return TableBlock(title or table.title, headers, tuple(c.numeric for c in shown), rows, table)


def value_text(name: str, value: Any) -> tuple[str, str]:
    """A key figure's text and unit."""
    kind = formats.kind_of(name)
    if kind == "amount":
        return formats.wan(value), "万元"
    if kind == "count":
        return formats.count(value), "户" if "borrowers" in name else "笔"
    if kind == "hours":
        return formats.hours(value).replace(" 小时", ""), "小时"
    return formats.show(kind, value), ""


def wan_number(value: Any) -> float:
    return float(Decimal(str(value or 0)) / 10_000)


def anchor(name: str) -> str:
    """The glossary entry that explains a figure."""
    return glossary.anchor(name)


def plain(label: str) -> str:
    """A figure's name without its unit (the report shows units beside values)."""
    return label.split("（")[0] if label.endswith(("（元）", "（%）", "（小时）")) else label


def name_of(window: Window) -> str:
    return f"{window.first.year}年{window.first.month}月"
