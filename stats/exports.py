"""Statistics tables as files: CSV (plain UTF-8 with BOM for Excel: the header row, then the data) and
XLSX formatted for an analyst (column widths, thousands separators, percentages, frozen header and
filters on every sheet; the window, filters and definitions on a sheet "说明"). Column headers are
Chinese; `N_` marks them for Flask-Babel extraction and callers pass a translation function (the
portal's gettext). Each column has a kind (count, amount, share, rate, hours or text) that decides its
number format here and its text in the monthly report (stats.formats).

Text cells that a spreadsheet would run as a formula (=, +, -, @ ...) are written as text: borrower and
product names come from users.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from core.i18n import N_
from core.reference import BORROWER_KINDS, CITY_CODE, CITY_NAME, COLLATERAL_KINDS, PRODUCT_TAGS, REGIONS
from core.types import SHANGHAI, utcnow
from stats import breakdowns, drilldowns, formats, funnels, glossary, maturities
from stats.figures import summary
from stats.guarantee_tables import (
    GUARANTEE_TABLE_TITLES,
    bridge_table,
    cap_table,
    cover_table,
    scheme_table,
)
from stats.tables import Column, Table
from stats.windows import FIGURE_FIELDS, SUMMARY_FIELDS, Window

Translate = Callable[[str], str]

FIGURE_LABELS: dict[str, str] = {
    "needs": N_("融资需求数"),
    "needs_amount": N_("需求金额（元）"),
    "leads_pushed": N_("推送线索数"),
    "leads_claimed": N_("已认领线索数"),
    "median_hours_to_claim": N_("认领时长中位数（小时）"),
    "loans": N_("放款笔数"),
    "loans_amount": N_("放款金额（元）"),
    "borrowers": N_("获贷主体数"),
    "first_loan_borrowers": N_("首贷户数"),
    "first_loan_share": N_("首贷户占比"),
    "renewal_loans": N_("无还本续贷笔数"),
    "renewal_amount": N_("无还本续贷金额（元）"),
    "renewal_requests": N_("续贷申请数"),
    "renewal_success_rate": N_("续贷成功率"),
    "credit_loan_share": N_("信用贷款金额占比"),
    "avg_rate": N_("加权平均利率（%）"),
    "inclusive_loans_pboc": N_("普惠小微贷款笔数（人民银行口径）"),
    "inclusive_loans_nfra": N_("普惠小微贷款笔数（金融监管总局口径）"),
    "farmer_loans": N_("农户贷款笔数"),
    "farmer_amount": N_("农户贷款金额（元）"),
    "first_loan_loans": N_("首贷笔数"),
    "first_loan_amount": N_("首贷金额（元）"),
    "credit_loans": N_("信用贷款笔数"),
    "credit_amount": N_("信用贷款金额（元）"),
    "inclusive_amount_pboc": N_("普惠小微贷款金额（人民银行口径，元）"),
    "inclusive_amount_nfra": N_("普惠小微贷款金额（金融监管总局口径，元）"),
    "inclusive_borrowers_pboc": N_("普惠小微贷款户数（人民银行口径）"),
    "inclusive_borrowers_nfra": N_("普惠小微贷款户数（金融监管总局口径）"),
}
TABLE_TITLES: dict[str, str] = {
    "summary": N_("统计汇总"),
    "indicators": N_("考核指标同比"),
    "timeseries": N_("月度趋势"),
    "breakdown": N_("分组统计"),
    "funnel": N_("转化漏斗"),
    "institutions": N_("机构响应看板"),
    "maturities": N_("到期与续贷"),
    "drilldown": N_("明细"),
    **GUARANTEE_TABLE_TITLES,
}
TABLES = tuple(TABLE_TITLES)
DIMENSION_LABELS = {
    "county": N_("县（市、区）"),
    "institution": N_("金融机构"),
    "industry": N_("行业门类"),
    "kind": N_("主体类型"),
    "tag": N_("产品标签"),
}
STEP_LABELS = {
    "needs": N_("提交需求"),
    "matched": N_("已匹配推送"),
    "pushed": N_("已推送"),
    "claimed": N_("银行已认领"),
    "contacted": N_("已联系"),
    "approved": N_("已审批通过"),
    "disbursed": N_("已放款"),
}
RENEWAL_STATE_LABELS = {
    "none": N_("未申请续贷"),
    "requested": N_("续贷办理中"),
    "unmatched": N_("未匹配到产品"),
    "renewed": N_("已续贷"),
    "rejected": N_("未获批"),
    "withdrawn": N_("已撤回"),
}
SOURCE_LABELS = {"renewal_needs": N_("续贷需求（申请人填报到期日）"), "loans": N_("平台贷款（放款日+期限）")}
MAX_EXPORT_ROWS = drilldowns.MAX_DRILLDOWN_ROWS
# Column kinds: how a number is formatted (stats.formats for text, NUMBER_FORMATS in a workbook).
# "mixed": the row's own `kind` decides (a table of indicators of several kinds).
NUMBER_FORMATS = {
    "count": "#,##0",
    "amount": "#,##0.00",
    "share": "0.00%",
    "rate": "0.00%",
    "hours": "#,##0.00",
    # 2 places, up to 4 where they are there: a 放大倍数 of 0.0025 is not 0.00 (stats.formats.number).
    "number": "#,##0.00##",
}
Labeler = Callable[[Any, str], str]


def _no_label(code: Any, _table: str) -> str:
    return "" if code is None else str(code)


def figure_columns(names: Sequence[str] = FIGURE_FIELDS, translate: Translate = N_) -> list[Column]:
    return [Column(n, translate(FIGURE_LABELS[n]), formats.kind_of(n)) for n in names]


def region_name(code: str) -> str:
    return CITY_NAME if code == CITY_CODE else REGIONS.get(code, code)


def summary_table(result: dict[str, Any], _: Translate = N_) -> Table:
    columns = [Column("figure", _("指标")), Column("value", _("数值"), "mixed")]
    rows = [
        {"figure": _(FIGURE_LABELS[n]), "value": result[n], "kind": formats.kind_of(n)}
        for n in SUMMARY_FIELDS
    ]
    return Table("summary", _(TABLE_TITLES["summary"]), columns, rows)


def indicators_table(result: dict[str, Any], _: Translate = N_) -> Table:
    columns = [
        Column("label", _("指标")),
        Column("value", _("本期"), "mixed"),
        Column("previous", _("去年同期"), "mixed"),
        Column("change", _("变动"), "mixed"),
        Column("growth", _("增长率"), "share"),
    ]
    rows = [{**item, "label": _(FIGURE_LABELS[item["code"]])} for item in result["items"]]
    table = Table("indicators", _(TABLE_TITLES["indicators"]), columns, rows)
    table.filters.append((_("对比期（去年同期）"), f"{result['previous_from']} 至 {result['previous_to']}"))
    return table


def timeseries_table(
    result: dict[str, Any], _: Translate = N_, names: Sequence[str] = FIGURE_FIELDS
) -> Table:
    columns = [Column("period", _("月份")), Column("from", _("起")), Column("to", _("止")),
               *figure_columns(names, _)]  # fmt: skip
    return Table("timeseries", _(TABLE_TITLES["timeseries"]), columns, list(result["items"]))


def dimension_label(by: str, key: Any, label: str | None, _: Translate = N_) -> str:
    """A breakdown key's Chinese name (an institution's name, a tag's, a county's); never its code."""
    if label:
        return _(label)
    if key is None:
        return _("未分类")
    return _(PRODUCT_TAGS.get(str(key), str(key))) if by == "tag" else str(key)


def breakdown_table(
    result: dict[str, Any], by: str, _: Translate = N_, names: Sequence[str] = FIGURE_FIELDS
) -> Table:
    columns = [Column("label", _(DIMENSION_LABELS[by])), *figure_columns(names, _)]
    rows = [{**item, "label": dimension_label(by, item["key"], item["label"], _)} for item in result["items"]]
    rows.append({**result["total"], "label": _("合计")})
    table = Table("breakdown", _(TABLE_TITLES["breakdown"]), columns, rows)
    table.filters.append((_("维度"), _(DIMENSION_LABELS[by])))
    return table


def funnel_table(result: dict[str, Any], _: Translate = N_) -> Table:
    columns = [
        Column("unit", _("口径")),
        Column("step", _("环节")),
        Column("count", _("数量"), "count"),
        Column("conversion", _("较上一环节转化率"), "share"),
        Column("overall", _("累计转化率"), "share"),
    ]
    rows = [{**s, "unit": _("融资需求"), "step": _(STEP_LABELS[s["step"]])} for s in result["steps"]]
    rows += [{**s, "unit": _("线索"), "step": _(STEP_LABELS[s["step"]])} for s in result["lead_steps"]]
    return Table("funnel", _(TABLE_TITLES["funnel"]), columns, rows)


def institutions_table(result: dict[str, Any], _: Translate = N_) -> Table:
    columns = [
        Column("name", _("金融机构")),
        *[Column(n, _(label), formats.kind_of(n)) for n, label in INSTITUTION_LABELS.items()],
    ]
    return Table("institutions", _(TABLE_TITLES["institutions"]), columns, list(result["items"]))


def maturities_table(result: dict[str, Any], _: Translate = N_) -> Table:
    columns = [
        Column("source", _("来源")),
        Column("band", _("距统计起日天数")),
        Column("renewal_status", _("续贷状态")),
        Column("count", _("笔数"), "count"),
        Column("amount", _("金额（元）"), "amount"),
    ]
    rows = [
        {
            **i,
            "source": _(SOURCE_LABELS[i["source"]]),
            "band": _("%(band)s 天") % {"band": i["band"]},
            "renewal_status": _(RENEWAL_STATE_LABELS[i["renewal_status"]]),
        }
        for i in result["items"]
    ]
    return Table("maturities", _(TABLE_TITLES["maturities"]), columns, rows)


def build_table(
    session: Session,
    name: str,
    window: Window,
    *,
    by: str | None = None,
    figure: str | None = None,
    key: str | None = None,
    translate: Translate = N_,
    label: Labeler = _no_label,
    sort: str | None = None,
    descending: bool = False,
    query: str | None = None,
) -> Table:
    """One statistics table with its filters. `label` names codes (statuses) in Chinese; a drill-down
    is exported as shown (`sort`, `descending`, `query` as on the page); the public credit-enhancement
    tables (stats.guarantee_tables) are grouped by `by` (county, institution, guarantor or scheme; by
    scheme without one). Raises ValueError for an unknown table, dimension or figure (and
    breakdowns.NotAttributableError), PermissionDeniedError for a scheme-wide table on a county's
    window."""
    _ = translate
    if name == "summary":
        table = summary_table(summary(session, window), _)
    elif name == "indicators":
        table = indicators_table(breakdowns.indicators(session, window), _)
    elif name == "timeseries":
        table = timeseries_table(breakdowns.timeseries(session, window), _)
    elif name == "breakdown":
        if by is None:
            raise ValueError("by")
        table = breakdown_table(breakdowns.breakdown(session, window, by), by, _)
    elif name == "funnel":
        table = funnel_table(funnels.funnel(session, window), _)
    elif name == "institutions":
        table = institutions_table(funnels.institution_board(session, window), _)
    elif name == "maturities":
        table = maturities_table(maturities.maturities(session, window), _)
    elif name in ("guarantees", "bridges"):
        grouped = cover_table if name == "guarantees" else bridge_table
        table = grouped(session, window, by or "scheme", _)
    elif name == "scheme_limits":
        table = scheme_table(session, window, _)
    elif name == "cap_monitor":
        table = cap_table(session, window, _)
    elif name == "drilldown":
        if figure is None:
            raise ValueError("figure")
        items, total = drilldowns.drilldown(
            session,
            window,
            figure,
            by=by,
            key=key,
            limit=MAX_EXPORT_ROWS,
            sort=sort,
            descending=descending,
            query=query,
        )
        columns = [Column(n, _(text), kind) for n, (text, kind) in DRILLDOWN_LABELS.items()]
        table = Table(
            "drilldown",
            _(TABLE_TITLES["drilldown"]),
            columns,
            [_flatten_row(item, _, label) for item in items],
        )
        table.filters.append((_("指标"), _(FIGURE_LABELS.get(figure, figure))))
        if by is not None:
            table.filters.append(
                (_("维度"), f"{_(DIMENSION_LABELS.get(by, by))}：{label(key, _LABEL_TABLES.get(by, by))}")
            )
        if query:
            table.filters.append((_("筛选"), query))
        if sort:
            table.filters.append(
                (_("排序"), f"{_(DRILLDOWN_LABELS[sort][0])}（{_('降序') if descending else _('升序')}）")
            )
        if total > len(items):
            table.filters.append(
                (_("说明"), _("明细超过 %(n)s 行，仅导出前 %(n)s 行") % {"n": MAX_EXPORT_ROWS})
            )
    else:
        raise ValueError(name)
    table.filters[:0] = [
        (_("表"), table.title),
        (_("统计区间"), f"{window.first.isoformat()} 至 {window.last.isoformat()}"),
        (_("区域"), region_name(window.county or CITY_CODE)),
    ]
    table.filters.append((_("导出时间"), utcnow().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")))
    return table


_LABEL_TABLES = {"county": "region"}


INSTITUTION_LABELS = {
    "leads_pushed": N_("推送线索数"),
    "leads_claimed": N_("已认领线索数"),
    "median_hours_to_claim": N_("认领时长中位数（小时）"),
    "median_hours_to_decision": N_("审批决定时长中位数（小时）"),
    "sla_breaches": N_("超时线索数"),
    "sla_breach_rate": N_("超时率"),
    "decided": N_("已作出审批决定数"),
    "approved": N_("审批通过数"),
    "approval_rate": N_("审批通过率"),
    "loans": N_("放款笔数"),
    "loans_amount": N_("放款金额（元）"),
    "avg_rate": N_("加权平均利率（%）"),
    "first_loan_borrowers": N_("首贷户数"),
    "credit_loan_share": N_("信用贷款金额占比"),
    "renewal_loans": N_("无还本续贷笔数"),
}
DRILLDOWN_LABELS = {
    "type": (N_("类型"), "text"),
    "id": (N_("编号"), "text"),
    "date": (N_("日期"), "text"),
    "status": (N_("状态"), "text"),
    "borrower_name": (N_("主体名称"), "text"),
    "borrower_kind": (N_("主体类型"), "text"),
    "uscc": (N_("统一社会信用代码（脱敏）"), "text"),
    "id_number": (N_("身份证号码（脱敏）"), "text"),
    "region": (N_("县（市、区）"), "text"),
    "industry_code": (N_("行业代码"), "text"),
    "institution": (N_("金融机构"), "text"),
    "product": (N_("产品"), "text"),
    "amount": (N_("金额（元）"), "amount"),
    "rate": (N_("利率（%）"), "rate"),
    "term_months": (N_("期限（月）"), "count"),
    "collateral": (N_("担保方式"), "text"),
    "first_loan_borrower": (N_("首贷户"), "text"),
    "renewal_without_repayment": (N_("无还本续贷"), "text"),
    "matures_on": (N_("到期日"), "text"),
}
TYPE_LABELS = {"need": N_("融资需求"), "lead": N_("线索"), "loan": N_("贷款")}


def _flatten_row(item: dict[str, Any], _: Translate, label: Labeler = _no_label) -> dict[str, Any]:
    borrower = item["borrower"]

    def yes_no(value: bool | None) -> str:
        return "" if value is None else (_("是") if value else _("否"))

    status_table = "need_status" if item["type"] == "need" else "lead_status"
    return {
        "type": _(TYPE_LABELS[item["type"]]),
        "id": item["id"],
        "date": item["date"],
        "status": label(item["status"], status_table),
        "borrower_name": borrower["name"],
        "borrower_kind": _(BORROWER_KINDS.get(borrower["kind"], borrower["kind"])),
        "uscc": borrower["uscc"],
        "id_number": borrower["id_number"],
        "region": _(REGIONS.get(borrower["region_code"], borrower["region_code"])),
        "industry_code": borrower["industry_code"],
        "institution": (item.get("institution") or {}).get("name"),
        "product": (item.get("product") or {}).get("name"),
        "amount": item.get("amount"),
        "rate": item.get("rate"),
        "term_months": item.get("term_months"),
        "collateral": _(COLLATERAL_KINDS.get(item.get("collateral") or "", item.get("collateral") or "")),
        "first_loan_borrower": yes_no(item.get("first_loan_borrower")),
        "renewal_without_repayment": yes_no(item.get("renewal_without_repayment")),
        "matures_on": item.get("matures_on"),
    }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _cell(value: Any) -> Any:
    """A value as a file shows it: dates ISO, instants in Asia/Shanghai, booleans 是/否 left to callers."""
    if isinstance(value, dt.datetime):
        return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _csv_safe(value: Any) -> Any:
    value = _cell(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return "" if value is None else value


def to_csv(table: Table) -> bytes:
    """The table as plain CSV for Excel: UTF-8 with a BOM, the Chinese header row, then the data rows
    (the window and filters are in the file name and in the XLSX's sheet "说明", not in comment rows)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.label for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_safe(row.get(c.name)) for c in table.columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _kind(column: Column, row: dict[str, Any]) -> str:
    return str(row.get("kind") or "count") if column.kind == "mixed" else column.kind


def _xlsx_value(value: Any, kind: str) -> Any:
    value = _cell(value)
    if kind != "text" and isinstance(value, str | int | float | Decimal) and _NUMBER.match(str(value)):
        number = Decimal(str(value))
        return number / 100 if kind == "rate" else number  # 3.85 (percent) is 3.85 %
    return value


def _width(value: Any) -> int:
    """Columns of a cell's text in a spreadsheet: a CJK character takes two."""
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


_HEADER_FILL = PatternFill("solid", fgColor="EEF0F3")
_THOUSANDS_SHOWN = 16  # an amount's column is at least as wide as 1,234,567,890.00 with room


def _write(sheet: Any, row: int, column: int, value: Any, *, bold: bool = False) -> Any:
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"  # user text that starts with "=" stays text, never a formula
    if bold:
        cell.font = Font(bold=True)
    return cell


def _sheet_title(title: str, used: set[str]) -> str:
    clean = re.sub(r"[\[\]:*?/\\]", "", title)[:31] or "Sheet"
    candidate, n = clean, 2
    while candidate in used:
        candidate = f"{clean[:28]}({n})"
        n += 1
    used.add(candidate)
    return candidate


def _table_sheet(sheet: Any, table: Table) -> None:
    widths = [_width(c.label) for c in table.columns]
    for j, column in enumerate(table.columns, start=1):
        cell = _write(sheet, 1, j, column.label, bold=True)
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for i, row in enumerate(table.rows, start=2):
        for j, column in enumerate(table.columns, start=1):
            kind = _kind(column, row)
            value = _xlsx_value(row.get(column.name), kind)
            cell = _write(sheet, i, j, value)
            if kind in NUMBER_FORMATS and isinstance(value, Decimal | int | float):
                cell.number_format = NUMBER_FORMATS[kind]
                shown = _THOUSANDS_SHOWN if kind == "amount" else _width(f"{value:,}") + 2
                widths[j - 1] = max(widths[j - 1], shown)
            else:
                widths[j - 1] = max(widths[j - 1], _width(value))
    for j, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(j)].width = min(60, max(8, width + 2))
    sheet.freeze_panes = "A2"
    if table.columns:
        last = get_column_letter(len(table.columns))
        sheet.auto_filter.ref = f"A1:{last}{max(1, len(table.rows) + 1)}"


def _definitions(tables: Sequence[Table]) -> list[glossary.Term]:
    """The glossary entries of the figures the tables show, in the glossary's order."""
    codes = {c.name for t in tables for c in t.columns} | {t.name for t in tables}
    codes |= {str(row.get("code")) for t in tables if t.name == "indicators" for row in t.rows}
    return [term for term in glossary.TERMS if codes & set(term.all_codes)]


def to_xlsx(
    tables: Sequence[Table], filters: Sequence[tuple[str, str]] | None = None, *, translate: Translate = N_
) -> bytes:
    """The tables as one workbook: a sheet per table (frozen header row with filters, widths that fit
    the Chinese labels, numbers formatted by kind) and a last sheet "说明" with the window and filters
    (`filters`, or the first table's) and the plain-language definitions of the figures shown."""
    workbook = Workbook()
    used: set[str] = set()
    first = True
    for table in tables:
        sheet = workbook.active if first else workbook.create_sheet()
        first = False
        assert sheet is not None
        sheet.title = _sheet_title(table.title, used)
        _table_sheet(sheet, table)
    notes = workbook.create_sheet(_sheet_title(translate("说明"), used))
    _write(notes, 1, 1, translate("条件"), bold=True).fill = _HEADER_FILL
    _write(notes, 1, 2, translate("值"), bold=True).fill = _HEADER_FILL
    row = 2
    for label, value in filters if filters is not None else (tables[0].filters if tables else []):
        _write(notes, row, 1, label)
        _write(notes, row, 2, _cell(value))
        row += 1
    row += 1
    _write(notes, row, 1, translate("指标"), bold=True).fill = _HEADER_FILL
    _write(notes, row, 2, translate("含义"), bold=True).fill = _HEADER_FILL
    for term in _definitions(tables):
        row += 1
        _write(notes, row, 1, term.name)
        _write(notes, row, 2, f"{term.counts} {translate('举例：')}{term.example}").alignment = Alignment(
            wrap_text=True, vertical="top"
        )
    notes.column_dimensions["A"].width = 28
    notes.column_dimensions["B"].width = 100
    notes.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
