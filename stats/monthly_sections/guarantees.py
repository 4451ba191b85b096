"""The monthly report's public credit-enhancement sections: government financing guarantees and
risk-compensation funds (在保、新增、代偿、追偿 by scheme, county and guarantor; every scheme against
its limits and every bank's portfolio against the compensation cap, city reports only), and the
renewal bridge funds (续贷周转金). The tables are stats.guarantee_tables', the same as the exports'.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from stats import formats
from stats.guarantee_tables import bridge_table, cap_table, cover_table, scheme_table
from stats.monthly_sections import lending  # noqa: F401  # its sections first: these go before "quality"
from stats.monthly_sections.base import Block, Paragraphs, ReportContext, Section, register, table_block
from stats.tables import Table

# What a page shows of the tables (the workbook has every figure).
SCALE = ("label", "covers_in_force", "balance_in_force", "new_covers", "new_amount", "avg_fee_rate",
         "matured_amount")  # fmt: skip
LOSSES = ("label", "compensation_amount", "compensation_rate", "claims_filed", "claims_paid",
          "claims_pending", "claims_pending_amount", "mean_days_to_pay", "recoveries",
          "recovery_rate")  # fmt: skip
BY_AREA = ("label", "covers_in_force", "balance_in_force", "new_covers", "new_amount",
           "compensation_amount", "compensation_rate", "recoveries")  # fmt: skip
BRIDGE_FLOW = ("label", "bridge_applications", "bridge_approved", "bridge_disbursed", "bridge_amount",
               "bridge_returned", "mean_days_used", "p90_days_used", "fee_income")  # fmt: skip
BRIDGE_RISK = ("label", "overdue_balance", "bridge_breaches", "renewals_enabled")
GUARANTEE_ANCHORS = ("guarantee_balance", "guarantee_new", "compensation_rate", "compensation_claims",
                     "recoveries", "leverage", "compensation_cap")  # fmt: skip
CAP_WARNING = Decimal("0.8")  # a bank's cap this far used is named in the report
BRIDGE_ANCHORS = ("bridge_flow", "bridge_days", "bridge_overdue", "bridge_turnover")


def _total(table: Table) -> dict[str, Any] | None:
    return next((row for row in table.rows if row["key"] is None), None)


def _sheet(table: Table, title: str) -> Table:
    """The table named for its sheet of the workbook (the page titles each part it shows)."""
    table.title = title
    return table


def guarantees(ctx: ReportContext) -> Section:
    """Covers in force at the month's end, new covers, compensations, claims and recoveries in the
    month; by scheme (and county, guarantor); the schemes' limits and the cap monitor for the city."""
    by_scheme = _sheet(cover_table(ctx.session, ctx.window, "scheme"), "担保与补偿（按方案）")
    total = _total(by_scheme)
    if total is None:
        text = f"截至{ctx.month_name}末，{ctx.region_name}没有政府性融资担保或风险补偿资金支持的贷款记录。"
        return Section("guarantees", "政府性融资担保与风险补偿", (Paragraphs((text,)),), GUARANTEE_ANCHORS)
    t, wan, n = total, formats.wan, formats.count
    lines = [
        f"截至{ctx.month_name}末，{ctx.region_name}有政府性融资担保或风险补偿资金支持的在保贷款 "
        f"{n(t['covers_in_force'])} 笔，在保余额 {wan(t['balance_in_force'])} 万元；"
        f"本月新增 {n(t['new_covers'])} 笔、{wan(t['new_amount'])} 万元，"
        f"平均担保费率 {formats.percent(t['avg_fee_rate'], 2)}。"
        f"本月代偿 {wan(t['compensation_amount'])} 万元，代偿率 {formats.percent(t['compensation_rate'], 2)}"
        f"（代偿金额 ÷ 本月到期的在保金额 {wan(t['matured_amount'])} 万元）；"
        f"追偿回收 {wan(t['recoveries'])} 万元；截至月末尚有 {n(t['claims_pending'])} 笔"
        f"代偿或分险请求未支付，金额 {wan(t['claims_pending_amount'])} 万元。",
        "在保余额按放款金额计，不按还款摊减；说明见附录。",
    ]
    blocks: list[Block] = [
        Paragraphs(tuple(lines)),
        table_block(by_scheme, columns=SCALE, title="按方案：业务规模"),
        table_block(by_scheme, columns=LOSSES, title="按方案：代偿与追偿"),
    ]
    if ctx.is_city:
        by_county = _sheet(cover_table(ctx.session, ctx.window, "county"), "担保与补偿（按县）")
        blocks.append(table_block(by_county, columns=BY_AREA, title="按县（市、区）"))
    by_guarantor = _sheet(cover_table(ctx.session, ctx.window, "guarantor"), "担保与补偿（按担保机构）")
    blocks.append(table_block(by_guarantor, columns=BY_AREA, title="按担保机构/资金管理方"))
    if ctx.is_city:
        blocks.append(table_block(scheme_table(ctx.session, ctx.window, only="covers")))
        caps = cap_table(ctx.session, ctx.window)
        blocks.append(Paragraphs((_cap_sentence(caps),)))
        blocks.append(table_block(caps))
    else:
        blocks.append(
            Paragraphs(("方案的放大倍数、资金使用率和各银行的代偿上限按整个方案计算，见全市报表。",))
        )
    return Section("guarantees", "政府性融资担保与风险补偿", tuple(blocks), GUARANTEE_ANCHORS)


def _cap_sentence(caps: Table) -> str:
    tight = [row for row in caps.rows if row["used_share"] is not None and row["used_share"] >= CAP_WARNING]
    if not tight:
        return "各银行在各方案下的代偿均未超过上限的 80%。"
    names = "、".join(
        f"{row['bank']}（{row['scheme']}，已用 {formats.percent(row['used_share'])}）" for row in tight[:5]
    )
    return (
        f"代偿已用到上限 80% 及以上的银行：{names}。超过上限的损失由银行自行承担，请关注这些银行的放款意愿。"
    )


def bridges(ctx: ReportContext) -> Section | None:
    """Bridge applications, money out and back, days used, fees, overdue money and renewals enabled in
    the month, by fund (and county for the city). None when the region has never had a bridge."""
    by_scheme = _sheet(bridge_table(ctx.session, ctx.window, "scheme"), "周转金（按方案）")
    total = _total(by_scheme)
    if total is None:
        return None
    t, wan, n = total, formats.wan, formats.count
    lines = (
        f"{ctx.month_name}，{ctx.region_name}续贷周转金收到申请 {n(t['bridge_applications'])} 笔，"
        f"批准 {n(t['bridge_approved'])} 笔，划出 {n(t['bridge_disbursed'])} 笔、"
        f"{wan(t['bridge_amount'])} 万元；"
        f"归还 {n(t['bridge_returned'])} 笔，平均使用 {formats.number(t['mean_days_used'])} 天，"
        f"费用收入 {wan(t['fee_income'])} 万元；带动续贷 {wan(t['renewals_enabled'])} 万元。"
        f"截至月末逾期未还 {wan(t['overdue_balance'])} 万元；"
        f"本月银行未履行续贷承诺 {n(t['bridge_breaches'])} 笔。",
    )
    blocks: list[Block] = [
        Paragraphs(lines),
        table_block(by_scheme, columns=BRIDGE_FLOW, title="按周转金：申请、划出与归还"),
        table_block(by_scheme, columns=BRIDGE_RISK, title="按周转金：逾期与带动续贷"),
    ]
    if ctx.is_city:
        by_county = _sheet(bridge_table(ctx.session, ctx.window, "county"), "周转金（按县）")
        blocks.append(table_block(by_county, columns=BRIDGE_FLOW, title="按县（市、区）"))
        blocks.append(table_block(scheme_table(ctx.session, ctx.window, only="bridges")))
    return Section("bridges", "续贷周转金", tuple(blocks), BRIDGE_ANCHORS)


register("guarantees", guarantees, before="quality")
register("bridges", bridges, before="quality")
