"""What a person reads for each characteristic the platform builds (credit_profile.features), and the
direction the domain fixes for some of them. One place: the expert card, trained cards, reasons and
reports all take their names from here, so no borrower or officer ever reads a column name.
"""

from __future__ import annotations

from typing import Final

from core.i18n import N_
from credit_profile.features import FEATURE_NAMES

FEATURE_LABELS: Final[dict[str, str]] = {
    "elec_kwh_level": N_("近12个月月均用电量"),
    "elec_trend_12m": N_("近12个月用电趋势"),
    "elec_volatility": N_("用电量波动系数"),
    "elec_yoy": N_("用电量同比变化"),
    "elec_zero_months": N_("近12个月零用电月数"),
    "tax_sales_12m": N_("近12个月申报销售额"),
    "tax_sales_yoy": N_("申报销售额同比变化"),
    "tax_burden": N_("增值税税负率"),
    "tax_credit_rating": N_("纳税信用等级"),
    "tax_arrears_12m": N_("近12个月欠税记录"),
    "bank_inflow_avg": N_("近12个月月均入账金额"),
    "bank_inflow_cv": N_("流水入账波动系数"),
    "bank_net_flow_ratio": N_("净现金流比率"),
    "bank_min_balance": N_("最低月末余额"),
    "bank_outflow_exceeds_months": N_("近12个月支出大于收入的月数"),
}
assert set(FEATURE_LABELS) == set(FEATURE_NAMES), "every platform characteristic needs a Chinese label"

# How the risk of a bad outcome may move as the characteristic grows, where the domain leaves no doubt:
# +1 never lowers the risk (more arrears, more months without power or with spending above income never
# raise a score), -1 never raises it (a larger lowest balance never lowers a score). Trained models are
# constrained to these directions; every other characteristic may take any shape the data supports.
RISK_DIRECTION: Final[dict[str, int]] = {
    "tax_arrears_12m": 1,
    "elec_zero_months": 1,
    "bank_outflow_exceeds_months": 1,
    "bank_min_balance": -1,
}


def characteristic_label(name: str, fallback: str | None = None) -> str:
    """The Chinese name of a platform characteristic, else ``fallback`` (else the name itself)."""
    return FEATURE_LABELS.get(name, fallback or name)
