"""Background jobs of the credit_profile package: primitive ids in, own session, safe to run twice."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from core import runtime, submissions
from credit_profile import bulk_scoring, consents, imports, rescoring, retention, scorecards, scoring

log = logging.getLogger(__name__)
RESCORE_BATCH = 200


def recompute_score(borrower_id: int) -> None:
    """Score the borrower from the data held under active consents now."""
    with runtime.job_session() as session:
        scoring.compute_score(session, borrower_id)


def recompute_all_scores() -> None:
    """Score every borrower again (after a scorecard version is activated), one committed batch at a time,
    each batch in bulk (credit_profile.bulk_scoring: two queries and the vectorised features and scores).

    Safe to run twice or to resume after a crash: each run scores whatever is held when it gets there.
    """
    after = 0
    while True:
        with runtime.job_session() as session:
            batch = scorecards.borrower_ids_after(session, after, limit=RESCORE_BATCH)
            bulk_scoring.rescore_many(session, batch)
        if not batch:
            return
        after = batch[-1]


def expire_consents() -> int:
    """The expiry sweep: mark consents past their last day expired (the service queues their borrowers'
    rescoring, and the rescoring their re-matching).

    Safe to run twice: an already expired consent is not marked again. Returns how many it marked.
    """
    with runtime.job_session() as session:
        expired = consents.expire_consents(session)
    log.info("expired %d consents", len(expired))
    return len(expired)


def purge_expired_data() -> int:
    """The retention sweep (daily, 03:00 Asia/Shanghai): delete data held only under consents ended
    over RETENTION_DAYS ago, the double-submit guard's rows (core.submissions) past its 10-minute
    window, which nothing reads any more and which say who submitted which form when, and the
    registrations whose phone was never verified after UNVERIFIED_RETENTION_DAYS, freeing the resident
    ID or USCC they held (retention.purge_unverified_registrations).

    Safe to run twice: a second run finds nothing left to delete. What was deleted is kept as DataPurge
    rows. Returns how many data records it deleted.
    """
    with runtime.job_session() as session:
        deleted = sum(purge.records for purge in retention.purge_expired_data(session))
        forgotten = submissions.purge_submissions(session)
        unverified = retention.purge_unverified_registrations(session)
    log.info(
        "retention sweep deleted %d records, %d form submissions and %d unverified registrations",
        deleted,
        forgotten,
        unverified,
    )
    return deleted


def check_score_stability() -> float | None:
    """The monthly stability check: PSI of the live scores under the active version against its
    validation scores, recorded and warned about above 0.25 (credit_profile.scorecards).

    Safe to run twice: a second run records the same figure again. Returns the PSI, or None."""
    with runtime.job_session() as session:
        check = scorecards.check_score_stability(session)
    return None if check is None else check.psi


def run_data_import(import_id: int) -> str:
    """Check, stage and publish an administrator's table import in short transactions, all or nothing
    (credit_profile.imports). Safe to run twice: a retry starts the unfinished import over."""
    return imports.run_import(runtime.job_session, import_id)


JOBS: dict[str, Callable[..., Any]] = {
    imports.IMPORT_JOB: run_data_import,
    rescoring.RESCORE_JOB: recompute_score,
    scorecards.RESCORE_ALL_JOB: recompute_all_scores,
    "expire_consents": expire_consents,
    "purge_expired_data": purge_expired_data,
    "check_score_stability": check_score_stability,
}

# The expiry sweep every SWEEP_INTERVAL_SECONDS (a consent ends with its day); the retention sweep once a
# day at 19:00 UTC = 03:00 Asia/Shanghai. rq.cron with Redis (`flask cron`), the app's thread without.
PERIODIC: tuple[runtime.Periodic, ...] = (
    runtime.Periodic("expire_consents", expire_consents),
    runtime.Periodic("purge_expired_data", purge_expired_data, cron="0 19 * * *"),
    # 1st of every month, 20:00 UTC = 04:00 Asia/Shanghai on the 2nd.
    runtime.Periodic("check_score_stability", check_score_stability, cron="0 20 1 * *"),
)
# A borrower's new score after their consent or data changed (they look at it next).
INTERACTIVE: frozenset[str] = frozenset({rescoring.RESCORE_JOB})
