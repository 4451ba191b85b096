"""Reference data: counties, industry sections, rejection reasons (public)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from core.i18n import N_
from core.reference import INDUSTRY_SECTIONS, REASON_CODES, REGIONS
from portal.api import api_bp
from portal.api.schemas.reference import CodeNameList


def _items(table: dict[str, str]) -> dict[str, Any]:
    return {"items": [{"code": code, "name": _(name)} for code, name in table.items()]}


@api_bp.get("/reference/regions")
@api_bp.output(CodeNameList)
@api_bp.doc(summary=N_("吉安市县级行政区划（GB/T 2260）"))
def regions() -> dict[str, Any]:
    return _items(REGIONS)


@api_bp.get("/reference/industries")
@api_bp.output(CodeNameList)
@api_bp.doc(summary=N_("国民经济行业门类（GB/T 4754-2017）"))
def industries() -> dict[str, Any]:
    return _items(INDUSTRY_SECTIONS)


@api_bp.get("/reference/reason-codes")
@api_bp.output(CodeNameList)
@api_bp.doc(summary=N_("客户经理拒绝线索时可选的原因"))
def reason_codes() -> dict[str, Any]:
    return _items(REASON_CODES)
