"""The glossary: every figure in plain Chinese, for the people who read the figures (the ⓘ on every page
and the monthly report's appendix). What it counts, from which step of the process, and an example.
docs/metrics.md stays the developers' reference (same anchors). Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    anchor: str
    name: str
    counts: str
    step: str
    example: str
    codes: tuple[str, ...] = ()

    @property
    def all_codes(self) -> tuple[str, ...]:
        return (self.anchor, *self.codes)

    @property
    def declared(self) -> bool:
        """The figure rests on the lending bank's declaration, which the platform cannot verify."""
        return _DECLARED in self.counts


_DECLARED = "由放款银行在报告放款时填报，平台无法核实。"

TERMS: tuple[Term, ...] = (
    Term(
        "needs",
        "融资需求数、需求金额",
        "统计期内辖区企业、个体工商户和农户在平台上提交的融资需求笔数，以及申请金额合计。提交后撤回的也计入。",
        "申请人提交需求的时间（北京时间）。",
        "某企业 11 月 3 日申请 100 万元，11 月 20 日撤回：计入 11 月需求 1 笔、100 万元。",
        ("needs_amount",),
    ),
    Term(
        "leads_pushed",
        "推送线索数、已认领线索数",
        "平台把一笔需求推送给一家银行，算一条线索。已认领：银行客户经理接手了这条线索（之后被拒绝的也算已认领）。",
        "平台推送线索的时间。",
        "一笔需求推送给三家银行，其中一家认领：推送线索 3 条，已认领 1 条。",
        ("leads_claimed",),
    ),
    Term(
        "median_hours_to_claim",
        "认领时长中位数（小时）",
        "已认领的线索，从推送到银行认领经过的时间，排在正中间的那个值。按自然时间计算，含夜间和节假日。",
        "推送到认领。",
        "三条线索分别用了 1、2、30 小时认领，中位数为 2 小时。",
    ),
    Term(
        "loans",
        "放款笔数、放款金额",
        "统计期内银行报告已发放的贷款笔数和金额。" + _DECLARED,
        "银行填报的放款日期。",
        "11 月 30 日放款 50 万元，12 月 2 日才在平台报告：计入 11 月。",
        ("loans_amount",),
    ),
    Term(
        "borrowers",
        "获贷主体数",
        "统计期内至少获得一笔贷款的企业、个体工商户和农户户数；同一户多笔贷款只算一户。",
        "放款。",
        "某企业当月在两家银行各贷一笔：放款 2 笔，获贷主体 1 户。",
    ),
    Term(
        "first_loan_borrowers",
        "首贷户数",
        "统计期内获得贷款、且银行认定为第一次从银行获得贷款的户数。" + _DECLARED,
        "放款时银行的填报。",
        "某农户此前从未贷过款，本月在农商行贷到 5 万元：计 1 户首贷户。",
        ("first_loan_loans", "first_loan_amount"),
    ),
    Term(
        "first_loan_share",
        "首贷户占比",
        "首贷户数除以获贷主体数。",
        "放款。",
        "本月 40 户获贷，其中 10 户是首贷户：占比 25%。",
    ),
    Term(
        "renewal_loans",
        "无还本续贷笔数、金额",
        "贷款到期时，借款人不先还本金、由银行直接续贷的笔数和金额。" + _DECLARED,
        "放款时银行的填报。",
        "某企业 300 万元流动资金贷款到期，银行不要求先还款直接续贷一年：计 1 笔、300 万元。",
        ("renewal_amount",),
    ),
    Term(
        "renewal_requests",
        "续贷申请数",
        "统计期内提交的、写明要续贷即将到期贷款的融资需求笔数。",
        "申请人提交需求。",
        "某个体户在需求里填写“原贷款 12 月 20 日到期，申请续贷”：计 1 笔续贷申请。",
    ),
    Term(
        "renewal_success_rate",
        "续贷成功率",
        "统计期内提交的续贷申请中，已有结果（放款、被拒或撤回）的，放款所占比例。仍在办理的不计入，所以最近月份的数字还会变化。",
        "从提交到放款或被拒。",
        "10 笔续贷申请，6 笔放款、2 笔被拒、2 笔办理中：成功率 6 ÷ 8 = 75%。",
    ),
    Term(
        "credit_loan_share",
        "信用贷款金额占比",
        "不需要抵押或担保的信用贷款金额，占全部放款金额的比例（按金额，不按笔数）。" + _DECLARED,
        "放款。",
        "放款 1000 万元，其中信用贷款 300 万元：占比 30%。",
        ("credit_loans", "credit_amount"),
    ),
    Term(
        "avg_rate",
        "加权平均利率",
        "按贷款金额加权的平均年利率：金额大的贷款影响大。",
        "放款。",
        "100 万元利率 4%、300 万元利率 3%：加权平均 (100×4 + 300×3) ÷ 400 = 3.25%。",
    ),
    Term(
        "inclusive_loans",
        "普惠小微贷款（两种口径）",
        "发放给企业和个体工商户的贷款中，该户在统计期内平台放款合计不超过 1000 万元的部分。人民银行口径为 1000 万元以下（不含 1000 万元），"
        "金融监管总局口径为 1000 万元及以下。农户贷款不在其中。平台只看得到本平台的贷款，所以两个数字都可能高于监管部门的正式统计。",
        "放款，按该户当期在平台的放款合计判断。",
        "某企业当月贷款合计正好 1000 万元：只计入金融监管总局口径。",
        (
            "inclusive_loans_pboc",
            "inclusive_loans_nfra",
            "inclusive_amount",
            "inclusive_amount_pboc",
            "inclusive_amount_nfra",
            "inclusive_borrowers_pboc",
            "inclusive_borrowers_nfra",
        ),
    ),
    Term(
        "farmer_loans",
        "农户贷款笔数、金额",
        "发放给农户的贷款笔数和金额。",
        "放款。",
        "某农户春耕贷款 8 万元：计 1 笔、8 万元。",
        ("farmer_amount",),
    ),
    Term(
        "indicators",
        "同比、环比",
        "同比：与去年同一时期比较；环比：与上一个月比较。增长率 = (本期 − 对比期) ÷ 对比期。对比期为 0 时不计算增长率，显示“—”。",
        "与各项指标相同。",
        "本月放款 120 笔，去年同月 100 笔、上月 150 笔：同比 ↑20%，环比 ↓20%。",
    ),
    Term(
        "timeseries",
        "月度趋势",
        "每个月的数值就是那个月单独统计的结果。当月尚未结束时，最后一个点是截至今天的数字，图中用空心点标出。",
        "与各项指标相同。",
        "12 月 6 日查看：12 月只有 6 天的数据，不宜与整月比较。",
    ),
    Term(
        "breakdown",
        "分组统计",
        "把各项指标按县（市、区）、银行、行业、主体类型或产品标签分开统计。按县、行业、主体类型分组时各组相加等于合计；"
        "按银行或产品标签分组时不一定，因为一户可能在两家银行贷款、一个产品可以有几个标签。",
        "与各项指标相同。",
        "一户企业在两家银行各贷一笔：两家银行各计 1 户获贷主体，合计仍是 1 户。",
    ),
    Term(
        "ranking",
        "县（市、区）排名",
        "13 个县（市、区）按所选指标从高到低排列，并列出与上月相比的变化。",
        "与各项指标相同。",
        "吉州区本月放款 80 笔、上月 60 笔：变化 ↑20 笔。",
    ),
    Term(
        "funnel",
        "转化漏斗",
        "统计期内提交的需求，到今天为止分别走到了哪一步：已推送给银行、银行已认领、已联系、审批通过、已放款。"
        "后面的环节不会多于前面的环节；最近提交的需求还在办理，后面几步的数字会继续增长。",
        "提交需求 → 推送 → 认领 → 联系 → 审批 → 放款。",
        "本月 100 笔需求，95 笔已推送、80 笔被认领、30 笔已放款：放款转化率 30%。",
    ),
    Term(
        "institutions",
        "银行响应看板",
        "各银行对推送线索的响应：认领用了多久、审批决定用了多久、有多少线索超时未处理、审批通过率、放款、利率和首贷户。",
        "推送、认领、审批、放款。",
        "某银行本月收到 20 条线索，2 条超过时限未认领：超时率 10%。",
        ("median_hours_to_decision", "decided", "approved", "approval_rate"),
    ),
    Term(
        "sla_breaches",
        "超时线索数、超时率",
        "银行没有在产品承诺的工作时间内认领的线索（包括因超时被转给其他银行的）。超时率 = 超时线索 ÷ 推送线索。",
        "推送到认领，按工作时间计算。",
        "产品承诺 8 个工作小时内认领，周五 16 点推送、下周一 17 点才认领：超时。",
        ("sla_breach_rate",),
    ),
    Term(
        "maturities",
        "到期与续贷",
        "未来一段时间内到期的贷款：申请人续贷时填报的原贷款到期日，以及平台上放款日加期限算出的到期日；并显示是否已申请续贷、办理到了哪一步。",
        "放款、续贷申请。",
        "某企业贷款 1 月 15 日到期、尚未申请续贷：列入“未申请续贷”。",
        ("maturing_loans", "maturing_needs"),
    ),
    Term(
        "quality",
        "数据质量提示",
        "可能填报有误、需要向银行核实的记录：放款金额远高于申请金额（超过 2 倍）或高于产品最高额度；同一线索的几个环节在同一分钟内完成；"
        "银行填报的首贷户或无还本续贷与平台记录矛盾（例如此前已在平台贷过款仍填首贷户，或申请时不是续贷却填为续贷）。"
        "这些记录仍计入统计，提示只是提醒核实。",
        "放款时银行的填报与平台记录对照。",
        "某企业申请 50 万元，银行报告放款 500 万元：提示“放款金额远高于需求”，请向银行核实是否多写了一个 0。",
    ),
    Term(
        "masking",
        "明细中的身份信息",
        "金融办查看明细时，企业显示名称，证件号码只显示首尾几位，农户只显示姓氏。",
        "—",
        "身份证号码显示为 360802********123X。",
    ),
    Term(
        "monthly_report",
        "月度报表",
        "每月初自动生成上个月的报表，也可随时申请生成：封面、主要指标及同比环比、图表、文字摘要、明细表和本附录。县级金融办得到本县的报表。"
        "PDF 与网页版内容相同，另有 Excel 版明细表。",
        "—",
        "12 月 1 日生成 11 月报表，完成后在“月度报表”页面和站内通知中提醒。",
    ),
)

BY_CODE: dict[str, Term] = {code: term for term in TERMS for code in term.all_codes}


def anchor(code: str) -> str:
    """The glossary anchor that explains a figure (its own, or the entry it is part of)."""
    term = BY_CODE.get(code)
    return term.anchor if term else code
