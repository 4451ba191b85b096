"""The job outbox: a job handed over to the queue and never completed is handed over again."""

from __future__ import annotations

import datetime as dt

from core.outbox import REQUEUE_AFTER, add_job, complete_job, pending_jobs
from core.types import utcnow


def test_a_job_handed_over_long_ago_and_never_completed_is_handed_over_again(session):
    lost = add_job(session, "match_need", "a", need_id=1)
    done = add_job(session, "match_need", "b", need_id=2)
    lost.enqueued_at = done.enqueued_at = utcnow()
    complete_job(session, done.id)
    session.flush()
    assert pending_jobs(session) == []
    later = utcnow() + REQUEUE_AFTER + dt.timedelta(seconds=1)
    assert [row.id for row in pending_jobs(session, now=later)] == [lost.id]
