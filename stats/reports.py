"""Monthly reports: requested by a finance office or queued at the start of each month, built by a job,
kept in the database.

A report is a row that moves queued → running → done (or failed) with a progress percentage the job
updates as it finishes each section (stats.monthly). The job renders the report's HTML once (the screen
edition), prints the same HTML to PDF (stats.printouts) and writes the sections' tables as a workbook;
all three are stored on the row so any web machine can serve them. When it is done, the people who
asked (or, for a scheduled report, the region's finance offices) get a notification.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.models import Role, User
from core.notifications import notify
from core.outbox import add_job
from core.reference import CITY_CODE, REGIONS
from core.types import SHANGHAI, local_today, utcnow
from stats import glossary, monthly
from stats.errors import ReportNotFoundError, ReportNotReadyError, ReportPdfUnavailableError
from stats.exports import region_name, to_xlsx
from stats.models import Report, ReportStatus
from stats.printouts import PDF_TYPE, PdfUnavailableError, html_pdf
from stats.windows import Window

REPORT_JOB = "build_monthly_report"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTML_TYPE = "text/html; charset=utf-8"
REPORT_TITLE = "吉惠通普惠金融月度报告"
ISSUER = "吉安市地方金融管理部门 · 吉惠通平台"
READY_KIND = "report_ready"
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
FIRST_MONTH = dt.date(2020, 1, 1)
_templates = Environment(
    loader=PackageLoader("stats", "templates"), autoescape=select_autoescape(["html"]), trim_blocks=False
)


def month_window(month: str, region_code: str) -> Window:
    """The whole calendar month `YYYY-MM` in the region. Raises InvalidInputError."""
    match = _MONTH.match(month or "")
    if not match:
        raise InvalidInputError({"month": ["invalid_choice"]})
    first = dt.date(int(match.group(1)), int(match.group(2)), 1)
    today = utcnow().astimezone(SHANGHAI).date()
    if not FIRST_MONTH <= first <= today:
        raise InvalidInputError({"month": ["out_of_range"]})
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return Window(first, last, region_code)


def request_monthly_report(
    session: Session, *, month: str, region_code: str, requested_by: int | None
) -> Report:
    """Queue the monthly report of a region (a county or the city). Raises InvalidInputError."""
    if region_code not in (*REGIONS, CITY_CODE):
        raise InvalidInputError({"region_code": ["invalid_choice"]})
    month_window(month, region_code)
    report = Report(
        kind="monthly",
        month=month,
        region_code=region_code,
        status=ReportStatus.QUEUED,
        progress=0,
        requested_by=requested_by,
        created_at=utcnow(),
    )
    session.add(report)
    session.flush()
    add_job(session, REPORT_JOB, f"{REPORT_JOB}:{report.id}", report_id=report.id)
    return report


def _visible(report: Report, viewer_region: str | None) -> bool:
    return viewer_region == CITY_CODE or report.region_code == viewer_region


def get_report(session: Session, report_id: int, *, viewer_region: str | None) -> Report:
    """A report the viewer's scope covers (the city office: all). Raises ReportNotFoundError."""
    report = session.get(Report, report_id)
    if report is None or not _visible(report, viewer_region):
        raise ReportNotFoundError(str(report_id))
    return report


def list_reports(session: Session, *, viewer_region: str | None, limit: int = 50) -> Sequence[Report]:
    """The reports the viewer's scope covers, newest first."""
    stmt = select(Report).order_by(Report.id.desc()).limit(limit)
    if viewer_region != CITY_CODE:
        stmt = stmt.where(Report.region_code == (viewer_region or ""))
    return session.scalars(stmt).all()


def _finished(session: Session, report_id: int, viewer_region: str | None) -> tuple[Report, bytes]:
    report = get_report(session, report_id, viewer_region=viewer_region)
    if report.status != ReportStatus.DONE or report.content is None:
        raise ReportNotReadyError(report.status)
    return report, report.content


def file_stem(report: Report) -> str:
    """The report's file name without extension, in Chinese (RFC 6266 carries it to the browser)."""
    return f"{REPORT_TITLE}_{report.month}_{region_name(report.region_code)}"


def report_file(session: Session, report_id: int, *, viewer_region: str | None) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of a finished report's workbook.

    Raises ReportNotFoundError, ReportNotReadyError."""
    report, content = _finished(session, report_id, viewer_region)
    return f"{file_stem(report)}.xlsx", report.content_type or XLSX_TYPE, content


def report_pdf(session: Session, report_id: int, *, viewer_region: str | None) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of a finished report's PDF, printed from its HTML when it was
    built. Raises ReportNotFoundError, ReportNotReadyError, ReportPdfUnavailableError (the server that
    built it could not print PDF)."""
    report, _content = _finished(session, report_id, viewer_region)
    if report.pdf is None:
        raise ReportPdfUnavailableError(str(report_id))
    return f"{file_stem(report)}.pdf", PDF_TYPE, report.pdf


def report_html(session: Session, report_id: int, *, viewer_region: str | None) -> tuple[Report, Markup]:
    """A finished report and its screen edition (the HTML its PDF was printed from).

    Raises ReportNotFoundError, ReportNotReadyError."""
    report, _content = _finished(session, report_id, viewer_region)
    return report, Markup(report.html or "")  # noqa: S704 - our own autoescaping template  # nosec B704


def render_report(ctx: monthly.ReportContext, sections: list[monthly.Section]) -> tuple[str, str]:
    """The report's HTML body (for the screen) and the whole document (for WeasyPrint)."""
    anchors = {a for section in sections for a in section.anchors}
    terms = [term for term in glossary.TERMS if term.anchor in anchors]
    now = utcnow().astimezone(SHANGHAI)
    title = f"{ctx.region_name}{ctx.month_name}普惠金融监测报告"
    body = _templates.get_template("report/body.html").render(
        issuer=ISSUER,
        title=title,
        period=f"{ctx.month_name}",
        region=ctx.region_name,
        span=f"{ctx.window.first.isoformat()} 至 {ctx.window.last.isoformat()}",
        generated=now.strftime("%Y年%m月%d日 %H:%M"),
        sections=sections,
        terms=terms,
    )
    document = _templates.get_template("report/document.html").render(title=title, body=Markup(body))  # noqa: S704  # nosec B704
    return body, document


def build_monthly_report(
    session: Session, report_id: int, *, on_progress: Callable[[Report], None] = lambda _r: None
) -> Report:
    """Build the report section by section (stats.monthly.SECTIONS), calling on_progress after each (the
    job commits there so that the progress is visible); then its HTML, PDF and workbook, and notify.
    A finished report is left as it is, so running the job twice is harmless. Raises ReportNotFoundError."""
    report = session.get(Report, report_id)
    if report is None:
        raise ReportNotFoundError(str(report_id))
    if report.status == ReportStatus.DONE:
        return report
    report.status, report.progress, report.error = ReportStatus.RUNNING, 0, None
    report.started_at = utcnow()
    on_progress(report)
    ctx = monthly.ReportContext(session, month_window(report.month, report.region_code), local_today())
    sections: list[monthly.Section] = []
    for i, (_key, build) in enumerate(monthly.SECTIONS, start=1):
        section = build(ctx)
        if section is not None:
            sections.append(section)
        report.progress = int(90 * i / len(monthly.SECTIONS))
        on_progress(report)
    body, document = render_report(ctx, sections)
    try:
        report.pdf = html_pdf(document)
    except PdfUnavailableError:
        report.pdf = None  # the screen edition and the workbook are still served; the PDF link says why
    filters = [
        ("报表", REPORT_TITLE),
        ("月份", report.month),
        ("统计区间", f"{ctx.window.first.isoformat()} 至 {ctx.window.last.isoformat()}"),
        ("月度趋势区间", f"{ctx.trend.first.isoformat()} 至 {ctx.trend.last.isoformat()}"),
        ("区域", ctx.region_name),
        ("生成时间", utcnow().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")),
    ]
    report.html = body
    report.content = to_xlsx([sheet for section in sections for sheet in section.sheets], filters)
    report.content_type = XLSX_TYPE
    report.filename = f"{file_stem(report)}.xlsx"
    report.status, report.progress, report.finished_at = ReportStatus.DONE, 100, utcnow()
    session.flush()
    _notify_ready(session, report)
    return report


def _notify_ready(session: Session, report: Report) -> None:
    """The person who asked for the report, or for a scheduled one every finance office that may read it
    (the region's county office and the city office), hear that it is ready; once per report."""
    if report.requested_by is not None:
        users = [report.requested_by]
    else:
        regions = {report.region_code, CITY_CODE}
        users = list(
            session.scalars(
                select(User.id).where(
                    User.role == Role.FINANCE, User.active.is_(True), User.region_code.in_(regions)
                )
            )
        )
    data = {"report_id": report.id, "month": report.month, "region_code": report.region_code}
    notify(session, users, kind=READY_KIND, data=data, dedup_key=f"report:{report.id}")


def last_complete_month(today: dt.date | None = None) -> str:
    """`YYYY-MM` of the last month that is over (Asia/Shanghai)."""
    first = (today or local_today()).replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def queue_scheduled_reports(session: Session, *, today: dt.date | None = None) -> list[Report]:
    """Queue last month's report for the city and for every county, each once: a region that already has
    that month's scheduled report (queued, running or done) gets none. Run daily by the cron job, so a
    missed first of the month is caught up the next day."""
    month = last_complete_month(today)
    have = set(
        session.scalars(
            select(Report.region_code).where(
                Report.kind == "monthly",
                Report.month == month,
                Report.requested_by.is_(None),
                or_(Report.status != ReportStatus.FAILED, Report.status.is_(None)),
            )
        )
    )
    return [
        request_monthly_report(session, month=month, region_code=region, requested_by=None)
        for region in (CITY_CODE, *REGIONS)
        if region not in have
    ]


def mark_report_failed(session: Session, report_id: int, error: str) -> None:
    """Record that building the report failed (the job may be retried)."""
    report = session.get(Report, report_id)
    if report is not None and report.status != ReportStatus.DONE:
        report.status, report.error, report.finished_at = ReportStatus.FAILED, error[:500], utcnow()
        session.flush()
