"""Background jobs of the matching package: primitive ids in, own session, safe to run twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import runtime
from matching import reports, services
from matching.models import Report


def match_need(need_id: int) -> None:
    """Run one matching round for the need (a no-op once the need has left `submitted`)."""
    with runtime.job_session() as session:
        services.match_need(session, need_id, top_n=runtime.settings().dispatch_top_n)


JOBS: dict[str, Callable[..., Any]] = {services.MATCH_JOB: match_need}


def expire_overdue_leads() -> None:
    """The SLA sweep (scheduled): expire unclaimed leads past due and re-dispatch their needs."""
    with runtime.job_session() as session:
        services.expire_overdue_leads(session, top_n=runtime.settings().dispatch_top_n)


JOBS["expire_overdue_leads"] = expire_overdue_leads


def build_monthly_report(report_id: int) -> None:
    """Build a queued monthly report, committing its progress after each sheet; on failure the report is
    marked failed in a fresh transaction and the error re-raised so that rq may retry."""
    try:
        with runtime.job_session() as session:

            def commit_progress(_report: Report) -> None:
                session.commit()

            reports.build_monthly_report(session, report_id, on_progress=commit_progress)
    except Exception as exc:
        with runtime.job_session() as session:
            reports.mark_report_failed(session, report_id, f"{type(exc).__name__}: {exc}")
        raise


JOBS[reports.REPORT_JOB] = build_monthly_report
