"""Finance offices: the monitoring dashboard (one page per view of the same window), the rows behind
any figure, exports and the monthly report. A county office sees only its county (403 otherwise);
the rules are the JSON API's, from portal.stats_scope. Figures are defined in docs/metrics.md and on
the page `finance.metrics`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from core.errors import InvalidInputError, PermissionDeniedError
from core.i18n import N_
from core.models import Role, User
from core.reference import CITY_CODE
from core.types import local_today
from portal.auth import role_required, web_user
from portal.db import db
from portal.labels import WEB_LABELS
from portal.stats_scope import attachment, check_group, export_file, scoped_region, stats_window
from portal.web.common import INVALID_FORM, apply_errors, ok
from portal.web.forms.fields import region_choices
from portal.web.forms.finance import (
    SORT_COLUMNS,
    DashboardForm,
    ExportForm,
    FigureForm,
    MonthlyReportForm,
    StatsForm,
)
from stats import breakdowns, charts, drilldowns, funnels, glossary, maturities, monthly, periods, quality
from stats.exports import (
    DIMENSION_LABELS,
    FIGURE_LABELS,
    INSTITUTION_LABELS,
    RENEWAL_STATE_LABELS,
    SOURCE_LABELS,
    STEP_LABELS,
    TABLES,
    TYPE_LABELS,
)
from stats.printouts import stylesheet
from stats.reports import (
    last_complete_month,
    list_reports,
    report_file,
    report_html,
    report_pdf,
    request_monthly_report,
)
from stats.windows import Window

bp = Blueprint("finance", __name__, url_prefix="/finance")
FINANCE = Role.FINANCE.value
SECTIONS = ("overview", "trend", "breakdown", "funnel", "institutions", "maturities")
MONEY_FIELDS = {"needs_amount", "loans_amount", "renewal_amount", "farmer_amount"}
SHARE_FIELDS = {"first_loan_share", "renewal_success_rate", "credit_loan_share"}
# Columns of the breakdown table (all figures are in the export).
BREAKDOWN_COLUMNS = (
    "needs", "loans", "loans_amount", "borrowers", "first_loan_borrowers", "renewal_loans",
    "credit_loan_share", "avg_rate", "inclusive_loans_pboc", "inclusive_loans_nfra",
)  # fmt: skip
TREND_COLUMNS = (
    "needs", "leads_pushed", "loans", "loans_amount", "first_loan_borrowers", "renewal_loans",
    "credit_loan_share", "avg_rate",
)  # fmt: skip
FUNNEL_FIGURES = {
    "needs": "needs", "matched": "funnel_matched", "claimed": "funnel_claimed",
    "contacted": "funnel_contacted", "approved": "funnel_approved", "disbursed": "funnel_disbursed",
}  # fmt: skip
LEAD_STEP_FIGURES = {"pushed": "leads_pushed", "claimed": "leads_claimed"}
# Indicators drawn against last year (counts only: one axis).
COMPARED = (
    "first_loan_borrowers", "loans", "borrowers", "renewal_requests", "renewal_loans",
    "inclusive_loans_pboc", "inclusive_loans_nfra", "farmer_loans",
)  # fmt: skip
INCLUSIVE_LINES = (
    ("inclusive_loans_pboc", "inclusive_loans_nfra"),
    ("inclusive_amount_pboc", "inclusive_amount_nfra"),
    ("inclusive_borrowers_pboc", "inclusive_borrowers_nfra"),
)
MATURITY_HORIZON_DAYS = 90
PER_PAGE = 50


BOARD_FIGURES = {name: name for name in (
    "leads_pushed", "leads_claimed", "median_hours_to_claim", "sla_breaches", "loans", "loans_amount",
    "avg_rate", "first_loan_borrowers", "credit_loan_share", "renewal_loans",
)}  # fmt: skip
REPORT_STATUS_LABELS = {
    "queued": N_("排队中"),
    "running": N_("生成中"),
    "done": N_("已完成"),
    "failed": N_("失败"),
}


def anchor(figure: str) -> str:
    """The glossary entry that explains a figure."""
    return glossary.anchor(figure)


_DIGITS = re.compile(r"[^0-9.]")


@bp.app_template_filter("nonzero")
def nonzero(text: Any) -> bool:
    """Whether a shown figure (`1,234`, `0.00`, `12.5%`, `—`) is a number other than zero."""
    digits = _DIGITS.sub("", str(text))
    try:
        return bool(digits) and Decimal(digits) != 0
    except ArithmeticError:
        return False


@bp.context_processor
def finance_labels() -> dict[str, Any]:
    """Names and definitions the finance pages show (Chinese, translated in the templates)."""
    # Translated here: Jinja's `_()` would read the `%` in "利率（%）" as a format directive.
    tables = {
        "figure_labels": FIGURE_LABELS,
        "institution_labels": INSTITUTION_LABELS,
        "step_labels": STEP_LABELS,
        "source_labels": SOURCE_LABELS,
        "renewal_state_labels": RENEWAL_STATE_LABELS,
        "dimension_labels": DIMENSION_LABELS,
        "type_labels": TYPE_LABELS,
        "report_status_labels": REPORT_STATUS_LABELS,
    }
    translated = {name: {code: _(text) for code, text in table.items()} for name, table in tables.items()}
    # The pages show amounts in 万元 (the `wan` filter); the exports keep the figures' names in 元.
    names = translated["figure_labels"]
    for table in ("figure_labels", "institution_labels"):
        translated[table] = {code: monthly.wan_label(text) for code, text in translated[table].items()}
    # A drill-down lists rows whose amounts carry their own unit (元): its heading names the figure alone.
    translated["figure_names"] = {code: monthly.unitless_label(text) for code, text in names.items()}
    return {"anchor": anchor, "board_figures": BOARD_FIGURES, **translated}


def period_args(args: MultiDict[str, str], user: User) -> tuple[MultiDict[str, str], str]:
    """The query with its preset applied, and the preset shown as chosen: a preset (上月, 本季, 本年,
    近12个月) sets the dates; dates without a preset are custom; nothing at all is the last complete month."""
    chosen = args.get("period") or (
        periods.CUSTOM if "from_date" in args or "to_date" in args else periods.DEFAULT
    )
    result = MultiDict(args)
    result.setdefault("region_code", user.region_code or "")
    if chosen in periods.PRESETS:
        first, last = periods.preset_dates(chosen, local_today())
        result["from_date"], result["to_date"] = first.isoformat(), last.isoformat()
    return result, chosen


def _window_of(form: StatsForm, user: User) -> Window | None:
    """The form's window within the user's scope; None (errors on the form) when the input is invalid.
    Raises PermissionDeniedError for a county outside the user's own."""
    if not form.validate():
        return None
    try:
        return stats_window(user, form.from_date.data, form.to_date.data, form.region_code.data or None)
    except InvalidInputError as error:
        apply_errors(form, error, aliases={"from": "from_date", "to": "to_date"})
        return None


def _limit_regions(form: StatsForm | MonthlyReportForm, user: User) -> bool:
    """A county office's region list holds only its county (called after validation, so that asking for
    another county is a 403 from the scope check, not a form error). Returns whether it is the city."""
    is_city = user.region_code == CITY_CODE
    if not is_city:
        form.region_code.choices = [c for c in region_choices(with_city=False) if c.value == user.region_code]
    return is_city


def _base_args(window: Window) -> dict[str, str]:
    """The query string that reproduces the window, for drill-down, export and section links."""
    return {
        "from_date": window.first.isoformat(),
        "to_date": window.last.isoformat(),
        "region_code": window.region_code,
    }


def maturity_window(window: Window) -> Window:
    """Maturities look ahead: today and the next 90 days, in the dashboard's region."""
    today = local_today()
    return Window(today, today + dt.timedelta(days=MATURITY_HORIZON_DAYS), window.region_code)


def _number(value: Any) -> float:
    return float(Decimal(str(value))) if value not in (None, "") else 0.0


def _wan(value: Any) -> float:
    """Yuan as 万元 for chart axes (tables keep yuan)."""
    return round(_number(value) / 10000, 2)


# --- sections: each returns the template context of its page ---------------------------------


def _overview(session: Session, window: Window, _form: DashboardForm) -> dict[str, Any]:
    result, indicators = breakdowns.overview(session, window)
    by_code = {item["code"]: item for item in indicators["items"]}
    chart = charts.responsive(
        charts.bar_chart,
        [_(FIGURE_LABELS[code]) for code in COMPARED],
        {
            _("本期"): [_number(by_code[code]["value"]) for code in COMPARED],
            _("去年同期"): [_number(by_code[code]["previous"]) for code in COMPARED],
        },
        _("主要指标与去年同期"),
    )
    _flagged, flag_counts = quality.flagged_loans(session, window, limit=0)
    return {
        "flag_counts": flag_counts,
        "flag_labels": quality.FLAG_LABELS,
        "result": result,
        "rows": [(name, result.get(name)) for name in WEB_LABELS["stat"]],
        "indicators": indicators,
        "lines": [(by_code[pboc], by_code[nfra]) for pboc, nfra in INCLUSIVE_LINES],
        "chart_uri": chart,
    }


def _trend(session: Session, window: Window, _form: DashboardForm) -> dict[str, Any]:
    series = breakdowns.timeseries(session, window)
    items = series["items"]
    months = [item["period"] for item in items]
    partial = periods.partial_note(dt.date.fromisoformat(items[-1]["to"])) if items else None
    counts = charts.responsive(
        charts.line_chart,
        months,
        {_(FIGURE_LABELS[name]): [_number(item[name]) for item in items]
         for name in ("needs", "loans", "first_loan_borrowers")},
        _("需求、放款与首贷户（按月）"),
        partial_last=partial,
    )  # fmt: skip
    amounts = charts.responsive(
        charts.line_chart,
        months,
        {_("放款金额（万元）"): [_wan(item["loans_amount"]) for item in items],
         _("无还本续贷金额（万元）"): [_wan(item["renewal_amount"]) for item in items]},
        _("放款与续贷金额（按月，万元）"),
        partial_last=partial,
    )  # fmt: skip
    return {
        "series": series,
        "columns": TREND_COLUMNS,
        "charts": [counts, amounts],
        "partial": partial,
    }


def _breakdown(session: Session, window: Window, form: DashboardForm) -> dict[str, Any]:
    by = form.by.data or "county"
    result = breakdowns.breakdown(session, window, by)
    labelled = [(item, _(item["label"]) if item["label"] else item["key"]) for item in result["items"]]
    shown = [(item, name) for item, name in labelled if item["loans"] or item.get("needs")]
    chart = charts.responsive(
        charts.bar_chart,
        [name for _item, name in shown] or [_("暂无数据")],
        {"": [_wan(item["loans_amount"]) for item, _name in shown] or [0.0]},
        _("放款金额（万元）· %(dimension)s", dimension=_(DIMENSION_LABELS[by])),
    )
    return {
        "by": by,
        "dimensions": {code: _(text) for code, text in DIMENSION_LABELS.items()},
        "result": result,
        "rows": labelled,
        "columns": BREAKDOWN_COLUMNS,
        "attributable_needs": by in ("county", "industry", "kind"),
        "chart_uri": chart,
    }


def _funnel(session: Session, window: Window, _form: DashboardForm) -> dict[str, Any]:
    result = funnels.funnel(session, window)
    chart = charts.responsive(
        charts.funnel_chart,
        [_(STEP_LABELS[step["step"]]) for step in result["steps"]],
        [step["count"] for step in result["steps"]],
        _("融资需求转化漏斗"),
    )
    return {
        "result": result,
        "step_figures": FUNNEL_FIGURES,
        "lead_step_figures": LEAD_STEP_FIGURES,
        "chart_uri": chart,
    }


def _institutions(session: Session, window: Window, _form: DashboardForm) -> dict[str, Any]:
    result = funnels.institution_board(session, window)
    timed = [item for item in result["items"] if item["median_hours_to_claim"] is not None]
    chart = charts.responsive(
        charts.bar_chart,
        [item["name"] for item in timed] or [_("暂无数据")],
        {"": [_number(item["median_hours_to_claim"]) for item in timed] or [0.0]},
        _("认领时长中位数（小时）"),
    )
    return {"result": result, "chart_uri": chart}


def _maturities(session: Session, window: Window, _form: DashboardForm) -> dict[str, Any]:
    ahead = maturity_window(window)
    result = maturities.maturities(session, ahead)
    bands = [f"{lo}-{hi}" for lo, hi in maturities.MATURITY_BANDS]
    chart = charts.responsive(
        charts.bar_chart,
        [_("%(band)s 天", band=band) for band in bands],
        {
            _(SOURCE_LABELS[source]): [
                float(sum(i["count"] for i in result["items"] if i["band"] == band and i["source"] == source))
                for band in bands
            ]
            for source in SOURCE_LABELS
        },
        _("未来 90 天到期笔数"),
    )
    band_windows = {
        band: {
            "from_date": (ahead.first + dt.timedelta(days=lo)).isoformat(),
            "to_date": (ahead.first + dt.timedelta(days=hi)).isoformat(),
        }
        for band, (lo, hi) in zip(bands, maturities.MATURITY_BANDS, strict=True)
    }
    return {
        "result": result,
        "ahead": ahead,
        "ahead_args": _base_args(ahead),
        "band_windows": band_windows,
        "chart_uri": chart,
    }


def _quality(session: Session, window: Window, form: DashboardForm) -> dict[str, Any]:
    flag = form.flag.data or None
    rows, counts = quality.flagged_loans(session, window, flag=flag)
    return {"flag": flag, "flagged": rows, "counts": counts, "flag_labels": quality.FLAG_LABELS}


def _ranking(session: Session, window: Window, form: DashboardForm) -> dict[str, Any]:
    """The 13 divisions ranked on a headline figure, with the change from the period before."""
    if window.county is not None:
        raise PermissionDeniedError("the ranking compares every county: the city's")
    by = form.rank_by.data or "loans_amount"
    before = previous_window(window)
    now = breakdowns.breakdown(session, window, "county")
    then = breakdowns.breakdown(session, before, "county")
    ranking = monthly.county_ranking(now, then, by)
    chart = charts.responsive(
        charts.bar_chart,
        [row["label"] for row in ranking],
        {_("本期"): [_number(row[by]) / (10000 if "amount" in by else 1) for row in ranking],
         _("上期"): [_number(row["previous"].get(by)) / (10000 if "amount" in by else 1) for row in ranking]},
        _("各县（市、区）%(figure)s", figure=monthly.wan_label(_(FIGURE_LABELS[by]))),
    )  # fmt: skip
    return {
        "rank_by": by,
        "ranked": monthly.RANKED,
        "rank_labels": {code: monthly.wan_label(_(FIGURE_LABELS[code])) for code in monthly.RANKED},
        "ranking": ranking,
        "table": monthly.table_block(monthly.ranking_table(ranking, by)),
        "before": before,
        "chart_uri": chart,
    }


def previous_window(window: Window) -> Window:
    """The period a ranking compares with (stats.periods.previous_period): the months just before a
    window of whole months (the month before a month, the twelve before 近12个月), else as many days."""
    first, last = periods.previous_period(window.first, window.last)
    return Window(first, last, window.region_code)


BUILDERS: dict[str, Callable[[Session, Window, DashboardForm], dict[str, Any]]] = {
    "overview": _overview,
    "trend": _trend,
    "breakdown": _breakdown,
    "funnel": _funnel,
    "institutions": _institutions,
    "maturities": _maturities,
    "quality": _quality,
    "ranking": _ranking,
}


@bp.get("/", defaults={"section": "overview"})
@bp.get("/<any(trend, breakdown, funnel, institutions, maturities, quality, ranking):section>")
@role_required(FINANCE)
def dashboard(section: str) -> tuple[str, int]:
    user = web_user()
    args, period = period_args(request.args, user)
    form = DashboardForm(formdata=args)
    window = _window_of(form, user)
    is_city = _limit_regions(form, user)
    context: dict[str, Any] = {}
    if window is not None:
        context = BUILDERS[section](db(), window, form)
    return (
        render_template(
            f"finance/{section}.html",
            form=form,
            section=section,
            window=window,
            base=_base_args(window) if window else {},
            is_city=is_city,
            period=period,
            presets={key: _(text) for key, text in periods.PRESETS.items()},
            money_fields=MONEY_FIELDS,
            share_fields=SHARE_FIELDS,
            **context,
        ),
        200 if window is not None else INVALID_FORM,
    )


def _shown(form: FigureForm) -> dict[str, str]:
    """How the rows are shown (sort column, order, filter text), as query arguments for links."""
    shown = {"sort": form.sort.data or "", "order": form.order.data or "", "q": form.q.data or ""}
    return {name: value for name, value in shown.items() if value}


@bp.get("/drilldown")
@role_required(FINANCE)
def drilldown() -> tuple[str, int]:
    """The needs, leads or loans behind one figure (identities masked, docs/metrics.md#masking)."""
    user = web_user()
    form = FigureForm(formdata=request.args)
    window = _window_of(form, user)
    is_city = _limit_regions(form, user)
    figure, by, key = form.figure.data or "", form.by.data or None, form.key.data or None
    if window is not None and figure not in drilldowns.DRILLDOWN_FIGURES:
        form.figure.errors = [*form.figure.errors, _("指标无效")]
        window = None
    rows: list[dict[str, Any]] = []
    total = 0
    page = form.page.data or 1
    shown = _shown(form)
    if window is not None:
        try:
            check_group(window, by, key)
            rows, total = drilldowns.drilldown(
                db(), window, figure, by=by, key=key, limit=PER_PAGE, offset=(page - 1) * PER_PAGE,
                sort=shown.get("sort"), descending=shown.get("order") == "desc", query=shown.get("q"),
            )  # fmt: skip
        except breakdowns.NotAttributableError:
            form.by.errors = [*form.by.errors, _("该指标不能按此维度细分")]
            window = None
        except InvalidInputError as error:
            apply_errors(form, error)
            window = None
    pages = max(1, -(-total // PER_PAGE))
    return (
        render_template(
            "finance/drilldown.html",
            form=form,
            window=window,
            is_city=is_city,
            figure=figure,
            by=by,
            key=key,
            rows=rows,
            total=total,
            page=page,
            pages=pages,
            base=_base_args(window) if window else {},
            group={"by": by, "key": key} if by else {},
            shown=shown,
            sort_columns={code: _(text) for code, text in SORT_COLUMNS.items()},
            per_page=PER_PAGE,
        ),
        200 if window is not None else INVALID_FORM,
    )


@bp.get("/export")
@role_required(FINANCE)
def export() -> Response | tuple[str, int]:
    """A statistics table as CSV or XLSX, with the window and filters in the file."""
    user = web_user()
    form = ExportForm(formdata=request.args, tables=TABLES)
    window = _window_of(form, user)
    if window is not None:
        try:
            exported = export_file(
                db(),
                window,
                form.table.data,
                form.file_format.data,
                by=form.by.data or None,
                figure=form.figure.data or None,
                key=form.key.data or None,
                sort=form.sort.data or None,
                descending=form.order.data == "desc",
                query=form.q.data or None,
            )
        except InvalidInputError as error:
            apply_errors(form, error)
        else:
            return attachment(exported.filename, exported.mimetype, exported.body)
    messages = [message for field in form for message in field.errors]
    return render_template("finance/export_error.html", messages=messages), INVALID_FORM


@bp.get("/metrics")
@role_required(FINANCE)
def metrics() -> str:
    """The glossary: what every figure counts, from which step, with an example (stats.glossary)."""
    return render_template("finance/metrics.html", terms=glossary.TERMS)


# --- monthly reports ---------------------------------------------------------------------------


@bp.route("/reports", methods=["GET", "POST"])
@role_required(FINANCE)
def reports() -> Any:
    """Request a monthly report (built by a job) and follow its progress; done reports download."""
    user = web_user()
    form = MonthlyReportForm(data={"month": last_complete_month(), "region_code": user.region_code})
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            region = scoped_region(user, form.region_code.data or None)
            try:
                report = request_monthly_report(
                    db(), month=form.month.data, region_code=region, requested_by=user.id
                )
            except InvalidInputError as error:
                apply_errors(form, error)
            else:
                ok(_("已提交生成 %(month)s 月度报表，请稍候刷新查看进度", month=report.month))
                return redirect(url_for("finance.reports"))
        status = INVALID_FORM
    is_city = _limit_regions(form, user)
    items = list_reports(db(), viewer_region=user.region_code)
    pending = any(report.status in ("queued", "running") for report in items)
    return (
        render_template("finance/reports.html", form=form, reports=items, pending=pending, is_city=is_city),
        status,
    )


@bp.get("/reports/<int:report_id>")
@role_required(FINANCE)
def report_download(report_id: int) -> Response:
    """A finished report's file. Raises ReportNotFoundError (404) or ReportNotReadyError (409)."""
    return attachment(*report_file(db(), report_id, viewer_region=web_user().region_code))


@bp.get("/reports/<int:report_id>/pdf")
@role_required(FINANCE)
def report_download_pdf(report_id: int) -> Response:
    """A finished report as PDF. Raises ReportNotFoundError (404) or ReportNotReadyError (409)."""
    return attachment(*report_pdf(db(), report_id, viewer_region=web_user().region_code))


@bp.get("/reports/<int:report_id>/view")
@role_required(FINANCE)
def report_view(report_id: int) -> str:
    """A finished report on screen: the HTML its PDF was printed from. Raises ReportNotFoundError (404)
    or ReportNotReadyError (409)."""
    report, body = report_html(db(), report_id, viewer_region=web_user().region_code)
    return render_template("finance/report_view.html", report=report, body=body)


@bp.get("/reports/report.css")
@role_required(FINANCE)
def report_css() -> Response:
    """The report's stylesheet, the same one the PDF is printed with."""
    return Response(stylesheet(), mimetype="text/css")
