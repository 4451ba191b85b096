"""Statistics tables as files: CSV (UTF-8 with BOM, leading `#` rows naming the window and filters) and
XLSX (one sheet per table plus a sheet "筛选条件"). Column headers are Chinese; `N_` marks them for
Flask-Babel extraction and callers pass a translation function (the portal's gettext).

Text cells that a spreadsheet would run as a formula (=, +, -, @ ...) are written as text: borrower and
product names come from users.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from core.i18n import N_
from core.reference import BORROWER_KINDS, CITY_CODE, CITY_NAME, COLLATERAL_KINDS, REGIONS
from core.types import SHANGHAI, utcnow
from stats import breakdowns, drilldowns, funnels, maturities
from stats.figures import summary
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


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    numeric: bool = False


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    filters: list[tuple[str, str]] = field(default_factory=list)


def _figure_columns(names: Sequence[str] = FIGURE_FIELDS) -> list[Column]:
    return [Column(n, FIGURE_LABELS[n], numeric=True) for n in names]


def region_name(code: str) -> str:
    return CITY_NAME if code == CITY_CODE else REGIONS.get(code, code)


def build_table(
    session: Session,
    name: str,
    window: Window,
    *,
    by: str | None = None,
    figure: str | None = None,
    key: str | None = None,
    translate: Translate = N_,
) -> Table:
    """One statistics table with its filters. Raises ValueError for an unknown table, dimension or figure
    (and breakdowns.NotAttributableError)."""
    _ = translate
    filters = [
        (_("表"), _(TABLE_TITLES[name]) if name in TABLE_TITLES else name),
        (_("统计区间"), f"{window.first.isoformat()} 至 {window.last.isoformat()}"),
        (_("区域"), f"{region_name(window.county or CITY_CODE)}（{window.county or CITY_CODE}）"),
    ]
    if name == "summary":
        result = summary(session, window)
        columns = [Column("figure", _("指标")), Column("value", _("数值"), numeric=True)]
        rows = [{"figure": _(FIGURE_LABELS[n]), "value": result[n]} for n in SUMMARY_FIELDS]
    elif name == "indicators":
        result = breakdowns.indicators(session, window)
        filters.append((_("对比期（去年同期）"), f"{result['previous_from']} 至 {result['previous_to']}"))
        columns = [
            Column("label", _("指标")),
            Column("value", _("本期"), numeric=True),
            Column("previous", _("去年同期"), numeric=True),
            Column("change", _("变动"), numeric=True),
            Column("growth", _("增长率"), numeric=True),
        ]
        rows = [{**item, "label": _(FIGURE_LABELS[item["code"]])} for item in result["items"]]
    elif name == "timeseries":
        result = breakdowns.timeseries(session, window)
        columns = [
            Column("period", _("月份")),
            Column("from", _("起")),
            Column("to", _("止")),
            *_figure_columns(),
        ]
        rows = result["items"]
    elif name == "breakdown":
        if by is None:
            raise ValueError("by")
        result = breakdowns.breakdown(session, window, by)
        filters.append((_("维度"), _(DIMENSION_LABELS[by])))
        columns = [Column("key", _("代码")), Column("label", _("名称")), *_figure_columns()]
        rows = [
            {**item, "label": _(item["label"]) if item["label"] else item["label"]}
            for item in result["items"]
        ]
        rows.append({**result["total"], "key": _("合计"), "label": ""})
    elif name == "funnel":
        result = funnels.funnel(session, window)
        columns = [
            Column("unit", _("口径")),
            Column("step", _("环节")),
            Column("count", _("数量"), numeric=True),
            Column("conversion", _("较上一环节转化率"), numeric=True),
            Column("overall", _("累计转化率"), numeric=True),
        ]
        rows = [{**s, "unit": _("融资需求"), "step": _(STEP_LABELS[s["step"]])} for s in result["steps"]]
        rows += [{**s, "unit": _("线索"), "step": _(STEP_LABELS[s["step"]])} for s in result["lead_steps"]]
    elif name == "institutions":
        result = funnels.institution_board(session, window)
        columns = [
            Column("code", _("机构代码")),
            Column("name", _("机构名称")),
            *[Column(n, _(label), numeric=True) for n, label in INSTITUTION_LABELS.items()],
        ]
        rows = result["items"]
    elif name == "maturities":
        result = maturities.maturities(session, window)
        columns = [
            Column("source", _("来源")),
            Column("band", _("距统计起日天数")),
            Column("renewal_status", _("续贷状态")),
            Column("count", _("笔数"), numeric=True),
            Column("amount", _("金额（元）"), numeric=True),
        ]
        rows = [
            {
                **i,
                "source": _(SOURCE_LABELS[i["source"]]),
                "renewal_status": _(RENEWAL_STATE_LABELS[i["renewal_status"]]),
            }
            for i in result["items"]
        ]
    elif name == "drilldown":
        if figure is None:
            raise ValueError("figure")
        items, total = drilldowns.drilldown(session, window, figure, by=by, key=key, limit=MAX_EXPORT_ROWS)
        filters.append((_("指标"), _(FIGURE_LABELS.get(figure, figure))))
        if by is not None:
            filters.append((_("维度"), f"{_(DIMENSION_LABELS.get(by, by))} = {key}"))
        if total > len(items):
            filters.append((_("说明"), _("明细超过 %(n)s 行，仅导出前 %(n)s 行") % {"n": MAX_EXPORT_ROWS}))
        columns = [
            Column(n, _(label), numeric=n in ("amount", "rate", "term_months"))
            for n, label in DRILLDOWN_LABELS.items()
        ]
        rows = [_flatten_row(item, _) for item in items]
    else:
        raise ValueError(name)
    filters.append((_("导出时间"), utcnow().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")))
    filters.append((_("口径说明"), "docs/metrics.md"))
    return Table(name, _(TABLE_TITLES[name]), columns, rows, filters)


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
    "type": N_("类型"),
    "id": N_("编号"),
    "date": N_("日期"),
    "status": N_("状态"),
    "borrower_name": N_("主体名称"),
    "borrower_kind": N_("主体类型"),
    "uscc": N_("统一社会信用代码（脱敏）"),
    "id_number": N_("身份证号码（脱敏）"),
    "region": N_("县（市、区）"),
    "industry_code": N_("行业代码"),
    "institution": N_("金融机构"),
    "product": N_("产品"),
    "amount": N_("金额（元）"),
    "rate": N_("利率（%）"),
    "term_months": N_("期限（月）"),
    "collateral": N_("担保方式"),
    "first_loan_borrower": N_("首贷户"),
    "renewal_without_repayment": N_("无还本续贷"),
    "matures_on": N_("到期日"),
}
TYPE_LABELS = {"need": N_("融资需求"), "lead": N_("线索"), "loan": N_("贷款")}


def _flatten_row(item: dict[str, Any], _: Translate) -> dict[str, Any]:
    borrower = item["borrower"]

    def yes_no(value: bool | None) -> str:
        return "" if value is None else (_("是") if value else _("否"))

    return {
        "type": _(TYPE_LABELS[item["type"]]),
        "id": item["id"],
        "date": item["date"],
        "status": item["status"],
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
    """The table as CSV: `#` rows with the filters, the Chinese header row, the data rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f"# {table.title}"])
    for label, value in table.filters:
        writer.writerow([f"# {label}", _csv_safe(value)])
    writer.writerow([c.label for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_safe(row.get(c.name)) for c in table.columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx_value(value: Any, numeric: bool) -> Any:
    value = _cell(value)
    if numeric and isinstance(value, str) and _NUMBER.match(value):
        return Decimal(value)
    return value


def _write(sheet: Any, row: int, column: int, value: Any, *, bold: bool = False) -> None:
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"  # user text that starts with "=" stays text, never a formula
    if bold:
        cell.font = Font(bold=True)


def _sheet_title(title: str, used: set[str]) -> str:
    clean = re.sub(r"[\[\]:*?/\\]", "", title)[:31] or "Sheet"
    candidate, n = clean, 2
    while candidate in used:
        candidate = f"{clean[:28]}({n})"
        n += 1
    used.add(candidate)
    return candidate


def to_xlsx(
    tables: Sequence[Table], filters: Sequence[tuple[str, str]] | None = None, *, translate: Translate = N_
) -> bytes:
    """The tables as one workbook: a sheet per table (header row, then data) and a sheet "筛选条件"
    holding the window and filters (`filters`, or the first table's)."""
    workbook = Workbook()
    used: set[str] = set()
    first = True
    for table in tables:
        sheet = workbook.active if first else workbook.create_sheet()
        first = False
        assert sheet is not None
        sheet.title = _sheet_title(table.title, used)
        for j, column in enumerate(table.columns, start=1):
            _write(sheet, 1, j, column.label, bold=True)
        for i, row in enumerate(table.rows, start=2):
            for j, column in enumerate(table.columns, start=1):
                _write(sheet, i, j, _xlsx_value(row.get(column.name), column.numeric))
        sheet.freeze_panes = "A2"
    conditions = workbook.create_sheet(_sheet_title(translate("筛选条件"), used))
    _write(conditions, 1, 1, translate("条件"), bold=True)
    _write(conditions, 1, 2, translate("值"), bold=True)
    for i, (label, value) in enumerate(filters if filters is not None else tables[0].filters, start=2):
        _write(conditions, i, 1, label)
        _write(conditions, i, 2, _cell(value))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
