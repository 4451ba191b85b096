"""The monthly report's post-loan warnings section: warnings active at the month's end by level, by
county (city reports) and by bank, those opened in the month, and how many acknowledgements due in the
month the banks made by their deadline (monitoring.figures.window_counts)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.reference import CITY_CODE, REGIONS
from monitoring.figures import WindowCount, window_counts
from products.models import Institution
from stats import formats
from stats.monthly_sections import lending  # noqa: F401  # its sections first: this goes before "quality"
from stats.monthly_sections.base import Block, Paragraphs, ReportContext, Section, register, table_block
from stats.tables import Column, Table

WARNING_COLUMNS = (
    Column("label", ""),
    Column("active_red", "月末未关闭红色预警（条）", "count"),
    Column("active_yellow", "月末未关闭黄色预警（条）", "count"),
    Column("opened_red", "本月新开红色预警（条）", "count"),
    Column("opened_yellow", "本月新开黄色预警（条）", "count"),
    Column("due", "本月到期应确认（条）", "count"),
    Column("kept", "按时确认（条）", "count"),
    Column("kept_share", "按时确认率", "share"),
)
FIELDS = ("active_yellow", "active_red", "opened_yellow", "opened_red", "due", "kept")


def _row(label: str, counts: WindowCount) -> dict[str, object]:
    return {
        "label": label,
        **{name: getattr(counts, name) for name in FIELDS},
        "kept_share": counts.kept_share,
    }


def _total(counts: dict[str | int, WindowCount]) -> WindowCount:
    sums = [sum(getattr(c, name) for c in counts.values()) for name in FIELDS]
    return WindowCount("", *sums)


def _table(name: str, title: str, first: str, rows: list[dict[str, object]]) -> Table:
    columns = [Column("label", first), *WARNING_COLUMNS[1:]]
    return Table(name, title, columns, rows)


def warnings(ctx: ReportContext) -> Section:
    """Post-loan warnings of the month in the report's region."""
    start, end = ctx.window.bounds()
    region = ctx.window.county or CITY_CODE
    by_bank = window_counts(ctx.session, start, end, region, "institution")
    total = _total(by_bank)
    if not any(getattr(total, name) for name in FIELDS):
        text = f"{ctx.month_name}，{ctx.region_name}没有贷后预警记录。"
        return Section("warnings", "贷后预警", (Paragraphs((text,)),), ("warnings_active", "warning_ack_sla"))
    share = total.kept_share
    lines = (
        f"截至{ctx.month_name}末，{ctx.region_name}未关闭的贷后预警红色 {total.active_red} 条、黄色 "
        f"{total.active_yellow} 条；本月新开红色 {total.opened_red} 条、黄色 {total.opened_yellow} 条。"
        f"本月到期应由银行确认的预警 {total.due} 条，按时确认 {total.kept} 条"
        + (f"（{formats.percent(share)}）。" if share is not None else "。")
        + (" 按时确认率低于 90%，请督促银行及时处理。" if share is not None and share < SLA_TARGET else ""),
    )
    names = dict(ctx.session.execute(select(Institution.id, Institution.name)).all())
    bank_rows = [
        _row(names.get(int(key), ""), counts)
        for key, counts in sorted(by_bank.items(), key=lambda item: (-item[1].active_red, str(item[0])))
    ]
    blocks: list[Block] = [Paragraphs(lines)]
    if ctx.is_city:
        by_county = window_counts(ctx.session, start, end, region, "region")
        county_rows = [_row(REGIONS[code], by_county[code]) for code in REGIONS if code in by_county]
        county_rows.append(_row("合计", total))
        blocks.append(table_block(_table("warnings_county", "贷后预警（按县）", "县（市、区）", county_rows)))
    bank_rows.append(_row("合计", total))
    blocks.append(table_block(_table("warnings_bank", "贷后预警（按银行）", "金融机构", bank_rows)))
    return Section("warnings", "贷后预警", tuple(blocks), ("warnings_active", "warning_ack_sla"))


SLA_TARGET = Decimal("0.9")  # below this share of acknowledgements on time, the report asks for action

register("warnings", warnings, before="quality")
