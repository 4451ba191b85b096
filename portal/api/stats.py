"""Statistics for the finance offices; a county office sees only its own county (docs/metrics.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response
from marshmallow import RAISE

from core.errors import InvalidInputError
from core.i18n import N_
from core.models import Role
from core.types import local_today
from portal.api import api_bp
from portal.api.schemas.stats import (
    BreakdownOut,
    BreakdownQuery,
    DrilldownPage,
    DrilldownQuery,
    ExportQuery,
    FunnelOut,
    IndicatorsOut,
    InstitutionBoardOut,
    MaturitiesOut,
    OptionalWindowQuery,
    StatsOut,
    StatsQuery,
    TimeseriesOut,
)
from portal.auth import api_user, token_auth
from portal.db import db
from portal.stats_scope import attachment, check_group, export_file, stats_window
from stats import breakdowns, drilldowns, funnels, maturities
from stats.figures import summary
from stats.reports import XLSX_TYPE
from stats.windows import Window

MATURITY_HORIZON_DAYS = 90
FINANCE = [Role.FINANCE.value]


def _window(first: dt.date, last: dt.date, requested_region: str | None) -> Window:
    return stats_window(api_user(), first, last, requested_region)


def _query_window(query: dict[str, Any]) -> Window:
    return _window(query["from_"], query["to"], query.get("region_code"))


def _out(value: Any) -> Any:
    """Rename `from` to the schemas' attribute name `from_`, at every level."""
    if isinstance(value, dict):
        return {("from_" if k == "from" else k): _out(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_out(v) for v in value]
    return value


@api_bp.get("/stats/summary")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.input(StatsQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(StatsOut)
@api_bp.doc(summary=N_("统计汇总（定义见 docs/metrics.md）"), responses=[401, 403, 422])
def stats_summary(query: dict[str, Any]) -> dict[str, Any]:
    return _out(summary(db(), _query_window(query)))  # type: ignore[no-any-return]


@api_bp.get("/stats/timeseries")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.input(StatsQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(TimeseriesOut)
@api_bp.doc(summary=N_("按月趋势：每个月的点等于该月的统计汇总"), responses=[401, 403, 422])
def stats_timeseries(query: dict[str, Any]) -> dict[str, Any]:
    return _out(breakdowns.timeseries(db(), _query_window(query)))  # type: ignore[no-any-return]


@api_bp.get("/stats/breakdown")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.input(BreakdownQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(BreakdownOut)
@api_bp.doc(
    summary=N_("分组统计：按县（市、区）、机构、行业门类、主体类型或产品标签"), responses=[401, 403, 422]
)
def stats_breakdown(query: dict[str, Any]) -> dict[str, Any]:
    return _out(breakdowns.breakdown(db(), _query_window(query), query["by"]))  # type: ignore[no-any-return]


@api_bp.get("/stats/funnel")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.input(StatsQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(FunnelOut)
@api_bp.doc(summary=N_("转化漏斗：需求 → 推送 → 认领 → 联系 → 审批 → 放款"), responses=[401, 403, 422])
def stats_funnel(query: dict[str, Any]) -> dict[str, Any]:
    return _out(funnels.funnel(db(), _query_window(query)))  # type: ignore[no-any-return]


@api_bp.get("/stats/institutions")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.input(StatsQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(InstitutionBoardOut)
@api_bp.doc(summary=N_("机构响应看板：认领与审批时长、超时、通过率、利率、首贷户"), responses=[401, 403, 422])
def stats_institutions(query: dict[str, Any]) -> dict[str, Any]:
    return _out(funnels.institution_board(db(), _query_window(query)))  # type: ignore[no-any-return]


@api_bp.get("/stats/indicators")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.input(StatsQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(IndicatorsOut)
@api_bp.doc(
    summary=N_("考核指标与去年同期对比（首贷户、续贷、两种普惠小微口径等）"), responses=[401, 403, 422]
)
def stats_indicators(query: dict[str, Any]) -> dict[str, Any]:
    return _out(breakdowns.indicators(db(), _query_window(query)))  # type: ignore[no-any-return]


@api_bp.get("/stats/maturities")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.input(OptionalWindowQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(MaturitiesOut)
@api_bp.doc(
    summary=N_(
        "到期提醒：统计区间内到期的续贷需求与平台贷款（默认今天起 90 天），按 0-30/31-60/61-90 天分段"
    ),
    responses=[401, 403, 422],
)
def stats_maturities(query: dict[str, Any]) -> dict[str, Any]:
    first = query.get("from_") or local_today()
    last = query.get("to") or first + dt.timedelta(days=MATURITY_HORIZON_DAYS)
    return _out(maturities.maturities(db(), _window(first, last, query.get("region_code"))))  # type: ignore[no-any-return]


@api_bp.get("/stats/drilldown")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.input(DrilldownQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(DrilldownPage)
@api_bp.doc(
    summary=N_("指标明细：某项数字背后的需求、线索或贷款（身份证件号码脱敏）"), responses=[401, 403, 422]
)
def stats_drilldown(query: dict[str, Any]) -> dict[str, Any]:
    window = _query_window(query)
    figure, by, key = query["figure"], query.get("by"), query.get("key")
    if figure not in drilldowns.DRILLDOWN_FIGURES:
        raise InvalidInputError({"figure": ["invalid_choice"]})
    check_group(window, by, key)
    page, per_page = query["page"], query["per_page"]
    try:
        rows, total = drilldowns.drilldown(
            db(), window, figure, by=by, key=key, limit=per_page, offset=(page - 1) * per_page
        )
    except breakdowns.NotAttributableError as exc:
        raise InvalidInputError({"by": ["invalid_choice"]}) from exc
    return {"figure": figure, "items": rows, "total": total, "page": page, "per_page": per_page}


@api_bp.get("/stats/export")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.input(ExportQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.doc(
    summary=N_("导出统计表（CSV 或 XLSX，中文表头，文件内注明统计区间与筛选条件）"),
    responses={
        200: {
            "description": N_("文件"),
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX_TYPE: {"schema": {"type": "string"}},
            },
        },
        401: N_("未登录"),
        403: N_("超出本县（市、区）范围"),
        422: N_("参数有误"),
    },
)
def stats_export(query: dict[str, Any]) -> Response:
    exported = export_file(
        db(),
        _query_window(query),
        query["table"],
        query["format"],
        by=query.get("by"),
        figure=query.get("figure"),
        key=query.get("key"),
    )
    return attachment(exported.filename, exported.mimetype, exported.body)
