"""Monthly statistics reports: requested by a finance office, built by a job, kept in the database.

A report is a row that moves queued → running → done (or failed) with a progress percentage the job
updates as it finishes each sheet; the XLSX file is stored on the row so any web machine can serve it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.i18n import N_
from core.outbox import add_job
from core.reference import CITY_CODE, REGIONS
from core.types import SHANGHAI, utcnow
from stats.errors import ReportNotFoundError, ReportNotReadyError
from stats.exports import Table, build_table, region_name, to_xlsx
from stats.models import Report, ReportStatus
from stats.windows import Window

REPORT_JOB = "build_monthly_report"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
FIRST_MONTH = dt.date(2020, 1, 1)
# (sheet, table, dimension): the workbook, in order.
MONTHLY_SHEETS: tuple[tuple[str, str | None], ...] = (
    ("summary", None),
    ("indicators", None),
    ("timeseries", None),
    ("breakdown", "county"),
    ("breakdown", "institution"),
    ("breakdown", "industry"),
    ("breakdown", "kind"),
    ("breakdown", "tag"),
    ("funnel", None),
    ("institutions", None),
    ("maturities", None),
)
SHEET_TITLES: dict[tuple[str, str | None], str] = {
    ("breakdown", "county"): N_("分县区"),
    ("breakdown", "institution"): N_("分机构"),
    ("breakdown", "industry"): N_("分行业"),
    ("breakdown", "kind"): N_("分主体类型"),
    ("breakdown", "tag"): N_("分产品标签"),
}


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


def report_file(session: Session, report_id: int, *, viewer_region: str | None) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of a finished report.

    Raises ReportNotFoundError, ReportNotReadyError."""
    report, content = _finished(session, report_id, viewer_region)
    return report.filename or f"report-{report.id}.xlsx", report.content_type or XLSX_TYPE, content


def report_pdf(session: Session, report_id: int, *, viewer_region: str | None) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of a finished report as PDF, drawn from its stored workbook so
    that both files hold the same figures. Raises ReportNotFoundError, ReportNotReadyError."""
    # Imported here: ReportLab costs every web and worker process 15 MB, and few ever draw a PDF.
    from stats.printouts import PDF_TYPE, workbook_pdf

    report, content = _finished(session, report_id, viewer_region)
    title = f"吉惠通普惠金融月度监测报表 {report.month} {region_name(report.region_code)}"
    name = (report.filename or f"report-{report.id}.xlsx").rsplit(".", 1)[0] + ".pdf"
    return name, PDF_TYPE, workbook_pdf(content, title=title)


def build_monthly_report(
    session: Session, report_id: int, *, on_progress: Callable[[Report], None] = lambda _r: None
) -> Report:
    """Build the workbook, calling on_progress after each sheet (the job commits there so that the
    progress is visible). A finished report is left as it is, so running the job twice is harmless.
    Raises ReportNotFoundError."""
    report = session.get(Report, report_id)
    if report is None:
        raise ReportNotFoundError(str(report_id))
    if report.status == ReportStatus.DONE:
        return report
    report.status, report.progress, report.error = ReportStatus.RUNNING, 0, None
    report.started_at = utcnow()
    on_progress(report)
    window = month_window(report.month, report.region_code)
    # The trend sheet covers the twelve months up to the report's month.
    year_start = (window.first.replace(day=1) - dt.timedelta(days=335)).replace(day=1)
    tables: list[Table] = []
    for i, (name, by) in enumerate(MONTHLY_SHEETS, start=1):
        table_window = Window(year_start, window.last, window.region_code) if name == "timeseries" else window
        table = build_table(session, name, table_window, by=by)
        if (name, by) in SHEET_TITLES:
            table.title = SHEET_TITLES[(name, by)]
        tables.append(table)
        report.progress = int(95 * i / len(MONTHLY_SHEETS))
        on_progress(report)
    filters = [
        ("报表", "吉惠通普惠金融月度监测报表"),
        ("月份", report.month),
        ("统计区间", f"{window.first.isoformat()} 至 {window.last.isoformat()}"),
        ("月度趋势区间", f"{year_start.isoformat()} 至 {window.last.isoformat()}"),
        ("区域", f"{region_name(report.region_code)}（{report.region_code}）"),
        ("生成时间", utcnow().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")),
        ("口径说明", "docs/metrics.md"),
    ]
    report.content = to_xlsx(tables, filters)
    report.content_type = XLSX_TYPE
    report.filename = f"jihuitong-monthly-{report.month}-{report.region_code}.xlsx"
    report.status, report.progress, report.finished_at = ReportStatus.DONE, 100, utcnow()
    session.flush()
    return report


def mark_report_failed(session: Session, report_id: int, error: str) -> None:
    """Record that building the report failed (the job may be retried)."""
    report = session.get(Report, report_id)
    if report is not None and report.status != ReportStatus.DONE:
        report.status, report.error, report.finished_at = ReportStatus.FAILED, error[:500], utcnow()
        session.flush()
