"""Background jobs of the matching package: primitive ids in, own session, safe to run twice.

`PERIODIC` declares the sweeps run on a schedule (core.runtime.Periodic); `INTERACTIVE` names the jobs
a person is waiting for, run before bulk work such as deliveries.
`FOLLOW_UPS` names jobs the worker queues (through the outbox) after another package's job has run,
so that credit_profile never has to import matching: a new score re-matches the borrower's needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import runtime
from core.types import utcnow
from credit_profile.rescoring import RESCORE_JOB
from credit_profile.scorecards import RESCORE_ALL_JOB
from matching import dispatch, loans, needs, rematching, sweeps


def match_need(need_id: int) -> None:
    """Run the first matching round for the need (a no-op once the need has left `submitted`)."""
    with runtime.job_session() as session:
        dispatch.match_need(session, need_id, top_n=runtime.settings().dispatch_top_n)


def expire_overdue_leads() -> int:
    """The SLA sweep: expire unclaimed leads past due and re-dispatch their needs, one need per
    transaction (a long sweep never holds many needs locked against claims)."""
    policy = dispatch.DispatchPolicy.from_settings(runtime.settings())
    now = utcnow()
    with runtime.job_session() as session:
        need_ids = sweeps.overdue_need_ids(session, now=now)
    cache = dispatch.ContextCache()
    expired = 0
    for need_id in need_ids:
        with runtime.job_session() as session:
            expired += len(sweeps.expire_need_leads(session, need_id, policy=policy, now=now, cache=cache))
    return expired


def sweep_stale_leads() -> int:
    """The stale sweep: flag claimed leads left without progress, release those flagged too long; one
    lead per transaction."""
    policy = dispatch.DispatchPolicy.from_settings(runtime.settings())
    now = utcnow()
    with runtime.job_session() as session:
        leads = sweeps.leads_in_hand(session)
    cache = dispatch.ContextCache()
    changed = 0
    for lead in leads:
        with runtime.job_session() as session:
            changed += sweeps.check_stale_lead(session, lead, policy=policy, now=now, cache=cache) is not None
    return changed


def send_renewal_reminders() -> int:
    """Remind applicants 60, 30 and 15 days before a declared renewal falls due (each once)."""
    with runtime.job_session() as session:
        return loans.send_renewal_reminders(session)


def _rematch(*, product_id: int | None, borrower_id: int | None, reason: str) -> int:
    """Re-match the candidates in batches of `rematch_batch_size` needs, one transaction each: a long
    re-match never holds many needs locked for long. A batch that fails is rolled back alone and fails
    the job (those before it stay committed; running the job again tops up the rest)."""
    settings = runtime.settings()
    with runtime.job_session() as session:
        need_ids = rematching.rematch_candidates(session, borrower_id=borrower_id)
        if not need_ids:
            return 0
        context = dispatch.load_match_context(session)
    probe = rematching.product_probe(context, product_id)
    size = max(settings.rematch_batch_size, 1)
    created = 0
    for start in range(0, len(need_ids), size):
        with runtime.job_session() as session:
            leads = rematching.rematch_needs(
                session,
                need_ids[start : start + size],
                top_n=settings.dispatch_top_n,
                context=context,
                probe=probe,
                reason=reason,
            )
            created += len(leads)
    return created


def rematch_open_needs(product_id: int | None = None) -> int:
    """Re-match open needs after a product was published, changed or retired; a batch of needs per
    transaction."""
    return _rematch(product_id=product_id, borrower_id=None, reason="product")


def rematch_borrower(borrower_id: int) -> int:
    """Re-match a borrower's open needs after their score changed."""
    return _rematch(product_id=None, borrower_id=borrower_id, reason="score")


JOBS: dict[str, Callable[..., Any]] = {
    needs.MATCH_JOB: match_need,
    rematching.REMATCH_JOB: rematch_open_needs,
    rematching.REMATCH_BORROWER_JOB: rematch_borrower,
    "expire_overdue_leads": expire_overdue_leads,
    "sweep_stale_leads": sweep_stale_leads,
    "send_renewal_reminders": send_renewal_reminders,
}

# job name -> jobs to queue with the same arguments once it has run
FOLLOW_UPS: dict[str, tuple[str, ...]] = {
    RESCORE_JOB: (rematching.REMATCH_BORROWER_JOB,),
    # every score changed with the active scorecard: every open need may now fit other products
    RESCORE_ALL_JOB: (rematching.REMATCH_JOB,),
}

# Sweeps, every SWEEP_INTERVAL_SECONDS: rq.cron with Redis (`flask cron`), the app's thread without.
PERIODIC: tuple[runtime.Periodic, ...] = (
    runtime.Periodic("expire_overdue_leads", expire_overdue_leads),
    runtime.Periodic("sweep_stale_leads", sweep_stale_leads),
    runtime.Periodic("send_renewal_reminders", send_renewal_reminders),
)
# A first matching round: the applicant watches the need.
INTERACTIVE: frozenset[str] = frozenset({needs.MATCH_JOB})
