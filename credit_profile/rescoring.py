"""Rescoring: whatever changes the data a borrower's score may use queues a recomputation of it.

Granting, revoking or expiring a consent and new authorised data each call `enqueue_rescoring` inside the
service that makes the change, so every front door (page, API, CLI, job) gets it. Once the score is
recomputed, the matching package re-matches the borrower's open needs (its jobs' FOLLOW_UPS).
"""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from core.outbox import add_job

RESCORE_JOB = "recompute_score"


def enqueue_rescoring(session: Session, borrower_id: int, *, reason: str) -> None:
    """Queue a recomputation of the borrower's score after new data or a consent change.

    The job itself is idempotent (it scores whatever is held at the time it runs), so each event gets
    its own outbox row; running one twice only stores the same score twice.
    """
    add_job(
        session,
        RESCORE_JOB,
        f"{RESCORE_JOB}:{borrower_id}:{reason}:{secrets.token_hex(6)}",
        borrower_id=borrower_id,
    )
