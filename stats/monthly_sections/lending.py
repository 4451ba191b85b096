"""The monthly report's lending sections: the summary, the key figures with month-on-month and
year-on-year changes, the trend, the county ranking, the banks, the funnel, first loans and renewals,
data quality and the detail tables (stats.monthly_sections.base for the frame)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from core.reference import REGIONS
from stats import charts, formats, periods
from stats.exports import (
    FIGURE_LABELS,
    STEP_LABELS,
    breakdown_table,
    funnel_table,
    institutions_table,
    maturities_table,
    timeseries_table,
)
from stats.monthly_sections.base import (
    Block,
    Chart,
    KeyFigure,
    KeyFigures,
    Paragraphs,
    ReportContext,
    Section,
    anchor,
    name_of,
    plain,
    register,
    table_block,
    value_text,
    wan_number,
)
from stats.quality import FLAG_LABELS, flagged_loans
from stats.tables import Column, Table

# --- the sections ---------------------------------------------------------------------------------

KEY_FIGURES = (
    "needs",
    "needs_amount",
    "loans",
    "loans_amount",
    "borrowers",
    "first_loan_borrowers",
    "first_loan_share",
    "renewal_loans",
    "renewal_amount",
    "renewal_success_rate",
    "credit_loan_share",
    "avg_rate",
    "inclusive_loans_pboc",
    "farmer_loans",
    "median_hours_to_claim",
)
MOVERS = (
    "needs",
    "needs_amount",
    "loans",
    "loans_amount",
    "borrowers",
    "first_loan_borrowers",
    "renewal_loans",
    "renewal_amount",
    "farmer_loans",
    "inclusive_loans_pboc",
)


def key_figures(ctx: ReportContext) -> Section:
    now, last_month, last_year = ctx.figures()
    items = []
    rows = []
    for name in KEY_FIGURES:
        kind = formats.kind_of(name)
        value, unit = value_text(name, now[name])
        items.append(
            KeyFigure(
                label=plain(FIGURE_LABELS[name]),
                value=value,
                unit=unit,
                month_on_month=formats.change(kind, now[name], last_month[name]),
                year_on_year=formats.change(kind, now[name], last_year[name]),
                anchor=anchor(name),
            )
        )
        rows.append(
            {
                "label": FIGURE_LABELS[name],
                "kind": kind,
                "now": now[name],
                "month": last_month[name],
                "year": last_year[name],
                "mom": items[-1].month_on_month,
                "yoy": items[-1].year_on_year,
            }
        )
    note = Paragraphs(
        (
            f"环比对比{name_of(ctx.previous_month)}，同比对比{name_of(ctx.last_year)}；说明见附录“同比、环比”。",
        )
    )
    return Section(
        "key_figures",
        "主要指标",
        (note, KeyFigures(tuple(items))),
        (*[anchor(n) for n in KEY_FIGURES], "indicators"),
        (_key_figures_sheet(rows),),
    )


def _key_figures_sheet(rows: list[dict[str, Any]]) -> Table:
    columns = [
        Column("label", "指标"),
        Column("now", "本月", "mixed"),
        Column("month", "上月", "mixed"),
        Column("mom", "环比"),
        Column("year", "去年同月", "mixed"),
        Column("yoy", "同比"),
    ]
    return Table("key_figures", "主要指标", columns, rows)


def summary(ctx: ReportContext) -> Section:
    """The written summary: the month in one sentence, the largest movers, the counties and banks that
    fell behind, the renewals maturing next month."""
    now, last_month, last_year = ctx.figures()
    mom = formats.change("amount", now["loans_amount"], last_month["loans_amount"])
    yoy = formats.change("amount", now["loans_amount"], last_year["loans_amount"])
    lines = [
        f"{ctx.month_name}，{ctx.region_name}在平台上收到融资需求 {formats.count(now['needs'])} 笔、"
        f"{formats.wan(now['needs_amount'])} 万元；银行放款 {formats.count(now['loans'])} 笔、"
        f"{formats.wan(now['loans_amount'])} 万元（环比 {mom}，同比 {yoy}），"
        f"惠及 {formats.count(now['borrowers'])} 户，"
        f"其中首贷户 {formats.count(now['first_loan_borrowers'])} 户"
        f"（占 {formats.percent(now['first_loan_share'])}）；"
        f"无还本续贷 {formats.count(now['renewal_loans'])} 笔、{formats.wan(now['renewal_amount'])} 万元。"
    ]
    moves = [
        (growth, name)
        for name in MOVERS
        if (growth := formats.growth(now[name], last_month[name])) is not None and growth != 0
    ]
    ups = sorted((m for m in moves if m[0] > 0), reverse=True)[:2]
    downs = sorted(m for m in moves if m[0] < 0)[:2]
    if ups or downs:
        parts = []
        if ups:
            parts.append("环比增长最多的是" + "、".join(_move(name, now, last_month) for _g, name in ups))
        if downs:
            parts.append("下降最多的是" + "、".join(_move(name, now, last_month) for _g, name in downs))
        lines.append("；".join(parts) + "。")
    else:
        lines.append("与上月相比，主要数量和金额指标没有可比较的变化（上月无数据或持平）。")
    if ctx.is_city:
        lines.append(_counties_behind(ctx))
    lines.append(_banks_behind(ctx))
    lines.append(_maturing_next_month(ctx))
    flagged, _counts = ctx.memo("quality", lambda: flagged_loans(ctx.session, ctx.window))
    if flagged:
        lines.append(f"有 {len(flagged)} 笔放款的填报可能有误（见“数据质量提示”），建议报送前向银行核实。")
    return Section("summary", "情况摘要", (Paragraphs(tuple(lines)),), ("indicators", "maturities"))


def _move(name: str, now: dict[str, Any], then: dict[str, Any]) -> str:
    kind = formats.kind_of(name)
    return f"{plain(FIGURE_LABELS[name])}（{formats.change(kind, now[name], then[name])}）"


def _counties_behind(ctx: ReportContext) -> str:
    now = {i["key"]: i for i in ctx.breakdown("county")["items"]}
    then = {i["key"]: i for i in ctx.breakdown("county", ctx.previous_month)["items"]}
    fell = []
    for code in REGIONS:
        a, b = now.get(code, {}).get("loans_amount"), then.get(code, {}).get("loans_amount")
        growth = formats.growth(a, b)
        if growth is not None and growth < 0:
            fell.append((growth, code))
    fell.sort()
    none = [REGIONS[code] for code in REGIONS if not now.get(code, {}).get("loans")]
    parts = []
    if fell:
        parts.append(
            "放款金额环比下降的县（市、区）："
            + "、".join(
                f"{REGIONS[c]}（{formats.change('amount', now[c]['loans_amount'], then[c]['loans_amount'])}）"
                for _g, c in fell[:5]
            )
        )
    if none:
        parts.append(f"本月没有放款的县（市、区）{len(none)} 个：" + "、".join(none))
    return ("；".join(parts) + "。") if parts else "各县（市、区）放款金额均未低于上月。"


def _banks_behind(ctx: ReportContext) -> str:
    items = ctx.board()["items"]
    slow = sorted(
        (i for i in items if i["sla_breaches"]),
        key=lambda i: (-Decimal(i["sla_breach_rate"] or 0), i["name"]),
    )
    idle = [i["name"] for i in items if i["leads_pushed"] and not i["loans"]]
    parts = []
    if slow:
        parts.append(
            "未在承诺时限内认领线索的银行："
            + "、".join(
                f"{i['name']}（超时 {i['sla_breaches']} 条，占 {formats.percent(i['sla_breach_rate'])}）"
                for i in slow[:5]
            )
        )
    if idle:
        parts.append("收到线索但本月没有放款的银行：" + "、".join(idle[:8]))
    return ("；".join(parts) + "。") if parts else "各银行本月均在时限内认领线索，且收到线索的银行都有放款。"


def _maturing_next_month(ctx: ReportContext) -> str:
    """Next month's maturities: platform loans (disbursed on + term) and loans applicants declared when
    asking for a renewal, with how many have no renewal under way."""
    month = name_of(ctx.next_month)
    parts = []
    for source, what in (("loans", "平台贷款"), ("renewal_needs", "申请人填报的续贷贷款")):
        items = [i for i in ctx.maturing()["items"] if i["source"] == source]
        count = sum(i["count"] for i in items)
        if not count:
            continue
        amount = sum((Decimal(i["amount"]) for i in items), Decimal(0))
        waiting = sum(i["count"] for i in items if i["renewal_status"] in ("none", "requested", "unmatched"))
        state = "尚未申请续贷" if source == "loans" else "续贷仍在办理或未匹配到产品"
        parts.append(f"{what} {count} 笔、{formats.wan(amount)} 万元（其中 {waiting} 笔{state}）")
    if not parts:
        return f"{month}没有已知到期的贷款。"
    return f"{month}将到期：" + "；".join(parts) + "。建议提醒银行提前对接，符合条件的办理无还本续贷。"


def trend(ctx: ReportContext) -> Section:
    series = ctx.timeseries()
    items = series["items"]
    months = [item["period"] for item in items]
    partial = periods.partial_note(dt.date.fromisoformat(items[-1]["to"])) if items else None
    counts = charts.responsive(
        charts.line_chart,
        months,
        {
            plain(FIGURE_LABELS[name]): [float(item[name] or 0) for item in items]
            for name in ("needs", "loans", "first_loan_borrowers")
        },
        "需求、放款与首贷户（近12个月）",
        partial_last=partial,
    )
    amounts = charts.responsive(
        charts.line_chart,
        months,
        {
            "放款金额": [wan_number(item["loans_amount"]) for item in items],
            "无还本续贷金额": [wan_number(item["renewal_amount"]) for item in items],
        },
        "放款与续贷金额（近12个月，万元）",
        partial_last=partial,
    )
    names = (
        "needs",
        "loans",
        "loans_amount",
        "borrowers",
        "first_loan_borrowers",
        "renewal_loans",
        "renewal_amount",
    )
    block = table_block(timeseries_table(series, names=names), columns=("period", *names))
    return Section("trend", "月度趋势", (Chart(counts), Chart(amounts), block), ("timeseries",))


RANKED = ("loans", "loans_amount", "borrowers", "first_loan_borrowers", "renewal_loans", "needs")


def counties(ctx: ReportContext) -> Section | None:
    """The 13 divisions ranked by loans amount, with the change from last month (city reports only)."""
    if not ctx.is_city:
        return None
    ranking = county_ranking(
        ctx.breakdown("county"), ctx.breakdown("county", ctx.previous_month), "loans_amount"
    )
    chart = charts.responsive(
        charts.bar_chart,
        [row["label"] for row in ranking],
        {
            "本月": [wan_number(row["loans_amount"]) for row in ranking],
            "上月": [wan_number(row["previous"]["loans_amount"]) for row in ranking],
        },
        "各县（市、区）放款金额（万元）",
    )
    table = ranking_table(ranking, "loans_amount")
    return Section("counties", "县（市、区）排名", (Chart(chart), table_block(table)), ("ranking",))


def county_ranking(now: dict[str, Any], then: dict[str, Any], by: str) -> list[dict[str, Any]]:
    """The counties of a breakdown by county ranked on a figure (highest first, ties by name), each with
    its rank, the previous period's figures and rank."""
    previous = {i["key"]: i for i in then["items"]}

    def order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(
            (i for i in items if i["key"] in REGIONS),
            key=lambda i: (-Decimal(str(i[by] or 0)), i["key"]),
        )

    then_rank = {i["key"]: n for n, i in enumerate(order(then["items"]), start=1)}
    return [
        {
            **item,
            "rank": n,
            "label": REGIONS[item["key"]],
            "previous": previous.get(item["key"], {}),
            "previous_rank": then_rank.get(item["key"]),
        }
        for n, item in enumerate(order(now["items"]), start=1)
    ]


def ranking_table(ranking: list[dict[str, Any]], by: str) -> Table:
    """A ranking as a table: rank, county, the headline figures and the change of the ranked one."""
    kind = formats.kind_of(by)
    columns = [
        Column("rank", "排名", "count"),
        Column("label", "县（市、区）"),
        *[Column(n, FIGURE_LABELS[n], formats.kind_of(n)) for n in RANKED],
        Column("change", f"{plain(FIGURE_LABELS[by])}环比"),
        Column("rank_change", "名次变化"),
    ]
    rows = []
    for row in ranking:
        # A rank among zeros says nothing: no change is shown where the county had none of it before.
        had = row["previous"].get(by) not in (None, 0, "0", "0.00")
        moved = _rank_change(row["previous_rank"] - row["rank"]) if had and row["previous_rank"] else "—"
        rows.append(
            {**row, "change": formats.change(kind, row[by], row["previous"].get(by)), "rank_change": moved}
        )
    return Table("ranking", "县（市、区）排名", columns, rows)


def _rank_change(places: int) -> str:
    return "—" if places == 0 else (f"↑{places}" if places > 0 else f"↓{-places}")


def banks(ctx: ReportContext) -> Section:
    board = ctx.board()
    items = sorted(board["items"], key=lambda i: -Decimal(i["loans_amount"]))
    chart = charts.responsive(
        charts.bar_chart,
        [i["name"] for i in items] or ["暂无数据"],
        {"": [wan_number(i["loans_amount"]) for i in items] or [0.0]},
        "各银行放款金额（万元）",
    )
    table = institutions_table({"items": items})
    block = table_block(
        table,
        columns=(
            "name",
            "leads_pushed",
            "median_hours_to_claim",
            "sla_breach_rate",
            "approval_rate",
            "loans",
            "loans_amount",
            "avg_rate",
            "first_loan_borrowers",
        ),
    )
    return Section("banks", "银行看板", (Chart(chart), block), ("institutions", "sla_breaches"))


def funnel(ctx: ReportContext) -> Section:
    result = ctx.funnel()
    chart = charts.responsive(
        charts.funnel_chart,
        [STEP_LABELS[step["step"]] for step in result["steps"]],
        [step["count"] for step in result["steps"]],
        "本月融资需求走到了哪一步",
    )
    return Section("funnel", "转化漏斗", (Chart(chart), table_block(funnel_table(result))), ("funnel",))


def first_and_renewal(ctx: ReportContext) -> Section:
    items = ctx.timeseries()["items"]
    months = [item["period"] for item in items]
    partial = periods.partial_note(dt.date.fromisoformat(items[-1]["to"])) if items else None
    chart = charts.responsive(
        charts.line_chart,
        months,
        {
            "首贷户数": [float(i["first_loan_borrowers"] or 0) for i in items],
            "无还本续贷笔数": [float(i["renewal_loans"] or 0) for i in items],
            "续贷申请数": [float(i["renewal_requests"] or 0) for i in items],
        },
        "首贷与续贷（近12个月）",
        partial_last=partial,
    )
    maturing = maturities_table(ctx.maturing())
    maturing.title = f"{name_of(ctx.next_month)}到期的贷款与续贷"
    return Section(
        "first_and_renewal",
        "首贷与续贷",
        (Chart(chart), Paragraphs((_maturing_next_month(ctx),)), table_block(maturing)),
        ("first_loan_borrowers", "renewal_loans", "renewal_requests", "maturities"),
    )


def quality(ctx: ReportContext) -> Section:
    """The loans to check with their bank before the figures go out (stats.quality)."""
    flagged, counts = ctx.memo("quality", lambda: flagged_loans(ctx.session, ctx.window))
    total = len({f.loan_id for f in flagged})
    if not total:
        lines: tuple[str, ...] = ("本月没有需要核实的放款记录。",)
    else:
        lines = (
            f"本月有 {total} 笔放款的填报可能有误，建议在报送前向放款银行核实：" + "；".join(
                f"{FLAG_LABELS[name]} {n} 笔" for name, n in counts.items() if n
            ) + "。这些贷款仍计入以上各项统计。",
        )  # fmt: skip
    columns = [
        Column("disbursed_on", "放款日期"),
        Column("borrower", "借款主体"),
        Column("institution", "金融机构"),
        Column("amount", "放款金额（元）", "amount"),
        Column("need_amount", "申请金额（元）", "amount"),
        Column("flags", "提示"),
    ]
    rows = [
        {
            "disbursed_on": f.disbursed_on.isoformat(),
            "borrower": f.borrower,
            "institution": f.institution,
            "amount": f.amount,
            "need_amount": f.need_amount,
            "flags": "；".join(FLAG_LABELS[k] for k in f.flags),
        }
        for f in flagged[:QUALITY_ROWS]
    ]
    table = Table("quality", "需要核实的放款", columns, rows)
    blocks: tuple[Block, ...] = (Paragraphs(lines), table_block(table)) if rows else (Paragraphs(lines),)
    return Section("quality", "数据质量提示", blocks, ("quality",))


QUALITY_ROWS = 30
DETAIL_COLUMNS = (
    "label",
    "needs",
    "loans",
    "loans_amount",
    "borrowers",
    "first_loan_borrowers",
    "renewal_loans",
    "credit_loan_share",
    "avg_rate",
)
DETAIL_TITLES = {"kind": "按主体类型", "industry": "按行业门类", "tag": "按产品标签"}


def details(ctx: ReportContext) -> Section:
    blocks: list[Block] = []
    for by, title in DETAIL_TITLES.items():
        result = ctx.breakdown(by)
        if by == "industry":  # only the sections with rows: 20 empty lines help no reader
            result = {**result, "items": [i for i in result["items"] if i["loans"] or i["needs"]]}
        table = breakdown_table(result, by)
        table.title = title
        blocks.append(table_block(table, columns=DETAIL_COLUMNS, title=title))
    return Section("details", "明细表", tuple(blocks), ("breakdown",))


for _key, _build in (
    ("summary", summary),
    ("key_figures", key_figures),
    ("trend", trend),
    ("counties", counties),
    ("banks", banks),
    ("funnel", funnel),
    ("first_and_renewal", first_and_renewal),
    ("quality", quality),
    ("details", details),
):
    register(_key, _build)
