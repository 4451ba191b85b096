"""Reference data: Ji'an's county-level divisions, GB/T 4754-2017 sections, rejection reasons.

Names are data shown to users; `N_` marks them for Flask-Babel extraction, the portal translates them.
"""

from __future__ import annotations

import functools
import re

from core.i18n import N_

CITY_CODE = "360800"
CITY_NAME = N_("吉安市")

REGIONS: dict[str, str] = {
    "360802": N_("吉州区"),
    "360803": N_("青原区"),
    "360821": N_("吉安县"),
    "360822": N_("吉水县"),
    "360823": N_("峡江县"),
    "360824": N_("新干县"),
    "360825": N_("永丰县"),
    "360826": N_("泰和县"),
    "360827": N_("遂川县"),
    "360828": N_("万安县"),
    "360829": N_("安福县"),
    "360830": N_("永新县"),
    "360881": N_("井冈山市"),
}

INDUSTRY_SECTIONS: dict[str, str] = {
    "A": N_("农、林、牧、渔业"),
    "B": N_("采矿业"),
    "C": N_("制造业"),
    "D": N_("电力、热力、燃气及水生产和供应业"),
    "E": N_("建筑业"),
    "F": N_("批发和零售业"),
    "G": N_("交通运输、仓储和邮政业"),
    "H": N_("住宿和餐饮业"),
    "I": N_("信息传输、软件和信息技术服务业"),
    "J": N_("金融业"),
    "K": N_("房地产业"),
    "L": N_("租赁和商务服务业"),
    "M": N_("科学研究和技术服务业"),
    "N": N_("水利、环境和公共设施管理业"),
    "O": N_("居民服务、修理和其他服务业"),
    "P": N_("教育"),
    "Q": N_("卫生和社会工作"),
    "R": N_("文化、体育和娱乐业"),
    "S": N_("公共管理、社会保障和社会组织"),
    "T": N_("国际组织"),
}

# GB/T 4754-2017 divisions (two digits) by section: first and last division of each section.
_DIVISION_RANGES: tuple[tuple[str, int, int], ...] = (
    ("A", 1, 5), ("B", 6, 12), ("C", 13, 43), ("D", 44, 46), ("E", 47, 50), ("F", 51, 52),
    ("G", 53, 60), ("H", 61, 62), ("I", 63, 65), ("J", 66, 69), ("K", 70, 70), ("L", 71, 72),
    ("M", 73, 75), ("N", 76, 79), ("O", 80, 82), ("P", 83, 83), ("Q", 84, 85), ("R", 86, 90),
    ("S", 91, 96), ("T", 97, 97),
)  # fmt: skip
_INDUSTRY_SHAPE = re.compile(r"^([A-T])?([0-9]{2,4})?$")

REASON_CODES: dict[str, str] = {
    "insufficient_cash_flow": N_("经营现金流不足以覆盖还款"),
    "poor_credit_record": N_("信用记录不良"),
    "insufficient_collateral": N_("抵押或担保不足"),
    "outside_product_scope": N_("不符合产品准入范围"),
    "incomplete_materials": N_("申请材料不齐全"),
    "unreachable": N_("多次联系不上申请人"),
    "applicant_withdrew": N_("申请人主动放弃"),
    "high_leverage": N_("负债水平过高"),
    "policy_restricted": N_("属于限制类行业或用途"),
}

BORROWER_KINDS: dict[str, str] = {
    "enterprise": N_("小微企业"),
    "individual_business": N_("个体工商户"),
    "farmer": N_("农户"),
}

COLLATERAL_KINDS: dict[str, str] = {
    "credit": N_("信用"),
    "mortgage": N_("抵押"),
    "guarantee": N_("保证/担保"),
    "pledge": N_("质押"),
}

PRODUCT_TAGS: dict[str, str] = {
    "first_loan": N_("首贷"),
    "renewal": N_("续贷"),
    "agri": N_("涉农"),
    "tech": N_("科技"),
    "credit": N_("信用贷"),
    "green": N_("绿色"),
}

INSTITUTION_KINDS: dict[str, str] = {
    "bank": N_("银行"),
    "guarantor": N_("融资担保机构"),
    "insurer": N_("保险机构"),
    "microcredit": N_("小额贷款公司"),
}

DATA_SOURCES: dict[str, str] = {
    "electricity": N_("用电数据"),
    "tax": N_("纳税数据"),
    "bank_flow": N_("银行流水"),
}


def division_ranges() -> tuple[tuple[str, int, int], ...]:
    """(section, first division, last division) for every GB/T 4754-2017 section."""
    return _DIVISION_RANGES


def section_of_division(division: int) -> str | None:
    for section, first, last in _DIVISION_RANGES:
        if first <= division <= last:
            return section
    return None


@functools.lru_cache(maxsize=4096)  # some 1,400 codes exist; a read model asks once a row
def industry_section(code: str) -> str | None:
    """The GB/T 4754 section letter of a section letter or a deeper code ("C", "C13", "1310"), else None."""
    match = _INDUSTRY_SHAPE.match(code or "")
    if not match or not code:
        return None
    letter, digits = match.groups()
    if digits is None:
        return letter
    derived = section_of_division(int(digits[:2]))
    if derived is None or (letter is not None and letter != derived):
        return None
    return derived


def is_county(code: str) -> bool:
    return code in REGIONS
