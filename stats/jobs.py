"""Background jobs of the statistics: building the monthly reports, and queueing last month's reports
at the start of each month. Primitive ids in, own sessions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import runtime
from stats import reports
from stats.models import Report


def build_monthly_report(report_id: int) -> None:
    """Build a queued monthly report, committing its progress after each section; on failure the report
    is marked failed in a fresh transaction and the error re-raised so that rq may retry."""
    try:
        with runtime.job_session() as session:

            def commit_progress(_report: Report) -> None:
                session.commit()

            reports.build_monthly_report(session, report_id, on_progress=commit_progress)
    except Exception as exc:
        with runtime.job_session() as session:
            reports.mark_report_failed(session, report_id, f"{type(exc).__name__}: {exc}")
        raise


def queue_monthly_reports() -> None:
    """Last month's report for the city and every county, queued once each (idempotent)."""
    with runtime.job_session() as session:
        reports.queue_scheduled_reports(session)


SCHEDULE_JOB = "queue_monthly_reports"
JOBS: dict[str, Callable[..., Any]] = {
    reports.REPORT_JOB: build_monthly_report,
    SCHEDULE_JOB: queue_monthly_reports,
}

# A monthly report: the office waits for it.
INTERACTIVE: frozenset[str] = frozenset({reports.REPORT_JOB})

# Daily at 01:30 Asia/Shanghai (17:30 UTC): on the first of the month it queues last month's reports;
# on the other days it finds them queued already (or catches up a first of the month that was missed).
PERIODIC: tuple[runtime.Periodic, ...] = (
    runtime.Periodic(SCHEDULE_JOB, queue_monthly_reports, cron="30 17 * * *"),
)
