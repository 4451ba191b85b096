"""Jinja filters and globals: money, Shanghai time, masked identifiers, reference-data labels."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import Flask, g
from flask_babel import get_translations
from flask_babel import gettext as _

from core.identifiers import mask_identifier, mask_phone
from core.reference import (
    BORROWER_KINDS,
    CITY_CODE,
    CITY_NAME,
    COLLATERAL_KINDS,
    DATA_SOURCES,
    INDUSTRY_SECTIONS,
    INSTITUTION_KINDS,
    N_,
    PRODUCT_TAGS,
    REASON_CODES,
    REGIONS,
    industry_section,
)
from core.types import to_shanghai

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


def yuan(value: Decimal | int | None) -> str:
    if value is None:
        return "—"
    amount = Decimal(value)
    if amount >= 10000 and amount % 100 == 0:
        return _("%(n)s万元", n=f"{amount / 10000:,.2f}".rstrip("0").rstrip("."))
    return _("%(n)s元", n=f"{amount:,.2f}")


def percent(value: Decimal | str | None) -> str:
    """A share (0.3333) as a percentage (33.33%)."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)) * 100:.2f}%"


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    return to_shanghai(value).strftime(fmt)


def _translations() -> Any:
    """The translations of this request's locale, looked up once per request: a page asks for a few
    hundred strings, and Flask-Babel's own lookup costs more than the translation itself."""
    found = g.get("jinja_translations")
    if found is None:
        found = g.jinja_translations = get_translations()
    return found


def register(app: Flask) -> None:
    # The same callables Flask-Babel installs, over the request's translations (see `_translations`).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.filters.update(
        yuan=yuan,
        percent=percent,
        local_time=local_time,
        mask=mask_identifier,
        mask_phone=mask_phone,
        label=label,
    )
    app.jinja_env.globals.update(LABELS=LABELS, label=label)
