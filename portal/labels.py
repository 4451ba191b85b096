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
from guarantees.codes import GUARANTEE_LABELS

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
    "declined": N_("已婉拒"),
}
PRODUCT_STATUS = {
    "draft": N_("草稿"),
    "published": N_("已上架"),
    "retired": N_("已下架"),
    "paused": N_("已暂停"),
}
CONSENT_STATUS = {"active": N_("生效中"), "revoked": N_("已撤回"), "expired": N_("已过期")}
ROLE_NAMES = {
    "applicant": N_("申请人"),
    "officer": N_("客户经理"),
    "product_manager": N_("产品经理"),
    "finance": N_("金融办"),
    "admin": N_("平台管理员"),
    "guarantor": N_("担保机构/资金管理方"),
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
    # an administrator's table import (credit_profile.imports)
    "import_status": {
        "queued": N_("排队中"),
        "checking": N_("校验中"),
        "staging": N_("写入中"),
        "published": N_("已导入"),
        "failed": N_("未导入"),
    },
    # why a rejected need ended (matching.needs.outcome_of)
    "need_outcome": {
        "declined": N_("银行审核后未批准本次申请"),
        "no_response": N_("没有银行在规定时限内响应，并非审核未通过；可调整需求后重新提交"),
    },
}
LABELS.update(GUARANTEE_LABELS)


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
    # the administrators' audit trail (issue 13)
    "audit_entity": {
        "user": N_("用户"),
        "institution": N_("机构"),
        "provider": N_("数据提供方"),
        "need": N_("融资需求"),
        "lead": N_("线索"),
        "product": N_("产品"),
        "consent": N_("授权"),
        "loan": N_("贷款"),
    },
    "audit_action": {
        "created": N_("创建"),
        "updated": N_("修改"),
        "disabled": N_("停用账号"),
        "enabled": N_("恢复账号"),
        "password_reset": N_("重置密码"),
        "phone_verified": N_("确认手机号码"),
        "phone_changed": N_("更换手机号码"),
        # credit_profile.registration: an identifier moved from a registration that never verified its phone
        "identifier_claimed": N_("证件号码转入（原持有的注册从未验证手机）"),
        "identifier_released": N_("证件号码转出（本注册从未验证手机）"),
        "deactivated": N_("停用"),
        "active": N_("恢复启用"),
        "rotated": N_("轮换密钥"),
    },
}


def web_label(code: Any, table: str) -> str:
    if code is None or code == "":
        return _("暂无")
    names = WEB_LABELS[table]
    return _(names[str(code)]) if str(code) in names else str(code)


# Scorecard versions: the codes of the admin page and API (credit_profile.scorecards.version_quality).
WEB_LABELS["scorecard_kind"] = {
    "expert": N_("内置专家评分卡"),
    "trained": N_("统计训练"),
    "manual": N_("人工编写"),
}
WEB_LABELS["scorecard_method"] = {
    "scorecard": N_("分箱逻辑回归评分卡"),
    "ebm": N_("可解释加性提升模型（EBM）"),
}
# --- post-loan monitoring (monitoring/) ---------------------------------------------------------
CONSENT_STATUS["paused"] = N_("已暂停")
WEB_LABELS["use_action"]["monitoring"] = N_("贷后监测读取数据")
LABELS.update(
    {
        "consent_purpose": {
            "application": N_("申请评估"),
            "monitoring": N_("贷后监测"),
            "guarantee_review": N_("担保审查"),
            "bridge_review": N_("转贷审查"),
        },
        "fetch_frequency": {"once": N_("一次"), "monthly": N_("每月"), "weekly": N_("每周")},
        "warning_level": {"yellow": N_("黄色预警"), "red": N_("红色预警")},
        "warning_status": {
            "open": N_("待确认"),
            "acknowledged": N_("已确认"),
            "actioned": N_("已处置"),
            "closed": N_("已关闭"),
        },
        "warning_action": {
            "contacted": N_("已联系借款人"),
            "site_visit": N_("实地走访"),
            "restructured": N_("已调整还款安排"),
            "no_issue": N_("核实无问题"),
            "escalated": N_("已上报"),
        },
        "warning_outcome": {
            "resolved": N_("已化解"),
            "escalated_to_default": N_("转为违约处置"),
            "false_positive": N_("误报"),
        },
        "monitoring_rule": {
            "elec_drop": N_("用电量同比下降"),
            "elec_stop": N_("用电量接近停产"),
            "elec_bills": N_("电费逾期"),
            "tax_grade": N_("纳税信用级别下降"),
            "tax_arrears": N_("欠税"),
            "tax_sales": N_("开票销售额同比下降"),
            "inflow_drop": N_("银行流入下降"),
            "balance_short": N_("余额不足以覆盖下期还款"),
            "elec_and_inflow": N_("用电与流入同时下降"),
            "any": N_("任一规则"),
        },
        "monitoring_signal": {
            "elec_3m_yoy": N_("近3个月用电量同比"),
            "elec_vs_12m": N_("当月用电量较近12个月月均"),
            "bills_overdue_6m": N_("近6个月电费逾期次数"),
            "sales_3m_yoy": N_("近3个月开票销售额同比"),
            "tax_grade": N_("纳税信用级别（A=0，B/M=1，C=2，D=3）"),
            "tax_arrears": N_("欠税记录（有=1）"),
            "inflow_vs_6m": N_("当月银行流入较前6个月月均"),
            "balance_cover": N_("月末余额/下期应还"),
        },
    }
)
