"""The Chinese names of codes wherever a code would otherwise reach a page, an export or a message: one
table per kind of code (reference data from core.reference, statuses, roles, page-only names)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from core.i18n import N_
from core.reference import (
    BORROWER_KINDS,
    CITY_CODE,
    CITY_NAME,
    COLLATERAL_KINDS,
    DATA_SOURCES,
    INDUSTRY_SECTIONS,
    INSTITUTION_KINDS,
    PRODUCT_TAGS,
    REASON_CODES,
    REGIONS,
    industry_section,
)

NEED_STATUS = {
    "submitted": N_("已提交，匹配中"),
    "matched": N_("已推送银行"),
    "unmatched": N_("暂无匹配产品"),
    "in_progress": N_("银行受理中"),
    "disbursed": N_("已放款"),
    "rejected": N_("未获批"),
    "withdrawn": N_("已撤回"),
}
LEAD_STATUS = {
    "pushed": N_("待认领"),
    "claimed": N_("已认领"),
    "contacted": N_("已联系"),
    "approved": N_("已审批"),
    "disbursed": N_("已放款"),
    "rejected": N_("已拒绝"),
    "expired": N_("超时未认领"),
    "closed": N_("已关闭"),
}
PRODUCT_STATUS = {"draft": N_("草稿"), "published": N_("已上架"), "retired": N_("已下架")}
CONSENT_STATUS = {"active": N_("生效中"), "revoked": N_("已撤回"), "expired": N_("已过期")}
ROLE_NAMES = {
    "applicant": N_("申请人"),
    "officer": N_("客户经理"),
    "product_manager": N_("产品经理"),
    "finance": N_("金融办"),
    "admin": N_("平台管理员"),
}
LABELS: dict[str, dict[str, str]] = {
    "region": {**REGIONS, CITY_CODE: CITY_NAME},
    "industry": INDUSTRY_SECTIONS,
    "kind": BORROWER_KINDS,
    "collateral": COLLATERAL_KINDS,
    "tag": PRODUCT_TAGS,
    "reason": REASON_CODES,
    "source": DATA_SOURCES,
    "institution_kind": INSTITUTION_KINDS,
    "need_status": NEED_STATUS,
    "lead_status": LEAD_STATUS,
    "product_status": PRODUCT_STATUS,
    "consent_status": CONSENT_STATUS,
    "role": ROLE_NAMES,
    # why a rejected need ended (matching.needs.outcome_of)
    "need_outcome": {
        "declined": N_("银行审核后未批准本次申请"),
        "no_response": N_("没有银行在规定时限内响应，并非审核未通过；可调整需求后重新提交"),
    },
}


def label(code: Any, table: str) -> str:
    """The Chinese name of a reference code (industry codes by their section)."""
    if code is None or code == "":
        return ""
    names = LABELS[table]
    key = str(code)
    if table == "industry" and key not in names:
        key = industry_section(key) or key
    return _(names[key]) if key in names else key


WEB_LABELS: dict[str, dict[str, str]] = {
    "use_action": {
        "ingest": N_("数据提供方报送数据"),
        "self_read": N_("本人查看信用画像"),
        "institution_read": N_("金融机构查看信用画像"),
    },
    "size_band": {
        "micro": N_("微型（10 人以下）"),
        "small": N_("小型（10–99 人）"),
        "medium": N_("中型及以上（100 人以上）"),
    },
    "score_band": {
        "A": N_("A（优）"),
        "B": N_("B（良）"),
        "C": N_("C（中）"),
        "D": N_("D（较弱）"),
        "E": N_("E（弱）"),
    },
    "stat": {
        "needs": N_("提交的融资需求（笔）"),
        "needs_amount": N_("需求金额合计"),
        "leads_pushed": N_("推送线索（条）"),
        "leads_claimed": N_("其中已认领（条）"),
        "median_hours_to_claim": N_("认领用时中位数（小时）"),
        "loans": N_("放款笔数"),
        "loans_amount": N_("放款金额合计"),
        "borrowers": N_("获贷主体（户）"),
        "first_loan_borrowers": N_("其中首贷户（户）"),
        "first_loan_share": N_("首贷户占比"),
        "renewal_loans": N_("无还本续贷（笔）"),
        "renewal_amount": N_("无还本续贷金额"),
        "renewal_requests": N_("续贷申请（笔）"),
        "renewal_success_rate": N_("续贷成功率（已办结的续贷申请中放款的比例）"),
        "credit_loan_share": N_("信用贷款金额占比"),
        "avg_rate": N_("加权平均年利率"),
        "inclusive_loans_pboc": N_("普惠小微贷款笔数（人民银行口径：单户授信 1000 万元以下）"),
        "inclusive_loans_nfra": N_("普惠小微贷款笔数（金融监管总局口径：单户授信 1000 万元及以下）"),
        "farmer_loans": N_("农户贷款（笔）"),
        "farmer_amount": N_("农户贷款金额"),
    },
}


def web_label(code: Any, table: str) -> str:
    if code is None or code == "":
        return _("暂无")
    names = WEB_LABELS[table]
    return _(names[str(code)]) if str(code) in names else str(code)
