"""Background jobs of the matching package: primitive ids in, own session, safe to run twice.

Jobs marked `@runtime.periodic` are the sweeps the scheduler runs every SWEEP_INTERVAL_SECONDS.
`FOLLOW_UPS` names jobs the worker queues (through the outbox) after another package's job has run,
so that credit_profile never has to import matching: a new score re-matches the borrower's needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import runtime
from credit_profile.services import RESCORE_JOB
from matching import services


def match_need(need_id: int) -> None:
    """Run the first matching round for the need (a no-op once the need has left `submitted`)."""
    with runtime.job_session() as session:
        services.match_need(session, need_id, top_n=runtime.settings().dispatch_top_n)


@runtime.periodic
def expire_overdue_leads() -> int:
    """The SLA sweep: expire unclaimed leads past due and re-dispatch their needs."""
    settings = runtime.settings()
    with runtime.job_session() as session:
        expired = services.expire_overdue_leads(
            session, top_n=settings.dispatch_top_n, max_rounds=settings.dispatch_max_rounds
        )
    return len(expired)


@runtime.periodic
def sweep_stale_leads() -> int:
    """The stale sweep: flag claimed leads left without progress, release those flagged too long."""
    settings = runtime.settings()
    with runtime.job_session() as session:
        result = services.sweep_stale_leads(
            session, top_n=settings.dispatch_top_n, max_rounds=settings.dispatch_max_rounds
        )
    return len(result.flagged) + len(result.released)


@runtime.periodic
def send_renewal_reminders() -> int:
    """Remind applicants 60, 30 and 15 days before a declared renewal falls due (each once)."""
    with runtime.job_session() as session:
        return services.send_renewal_reminders(session)


def rematch_open_needs(product_id: int | None = None) -> int:
    """Re-match open needs after a product was published, changed or retired."""
    with runtime.job_session() as session:
        leads = services.rematch_open_needs(
            session, top_n=runtime.settings().dispatch_top_n, product_id=product_id, reason="product"
        )
        return len(leads)


def rematch_borrower(borrower_id: int) -> int:
    """Re-match a borrower's open needs after their score changed."""
    with runtime.job_session() as session:
        leads = services.rematch_open_needs(
            session, top_n=runtime.settings().dispatch_top_n, borrower_id=borrower_id, reason="score"
        )
        return len(leads)


JOBS: dict[str, Callable[..., Any]] = {
    services.MATCH_JOB: match_need,
    services.REMATCH_JOB: rematch_open_needs,
    services.REMATCH_BORROWER_JOB: rematch_borrower,
    "expire_overdue_leads": expire_overdue_leads,
    "sweep_stale_leads": sweep_stale_leads,
    "send_renewal_reminders": send_renewal_reminders,
}

# job name -> jobs to queue with the same arguments once it has run
FOLLOW_UPS: dict[str, tuple[str, ...]] = {RESCORE_JOB: (services.REMATCH_BORROWER_JOB,)}
