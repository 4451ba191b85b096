"""The idempotency guard of forms that create something (a provider, a user, an institution, a need).

A submission is identified by a digest of who sent it, to which form, with which values. The first one
inserts its row in the transaction that creates the thing; the same submission again within WINDOW (a
refresh of the result page, a double click, a retried request) finds the row, or fails to insert it
once the first commits (the primary key), and creates nothing. A submission whose creation failed is
rolled back with it, so the corrected form goes through. Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.models import FormSubmission
from core.types import utcnow

WINDOW = dt.timedelta(minutes=10)


def submission_key(user_id: int | None, form: str, values: Mapping[str, Sequence[str]]) -> str:
    """The digest of one submission: the user, the form's name and its values (sorted, as sent)."""
    payload = json.dumps(
        [user_id, form, sorted((k, list(v)) for k, v in values.items())], ensure_ascii=False, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def claim_submission(session: Session, key: str, *, user_id: int | None) -> bool:
    """True for the first submission with this key within the window (which is then recorded), False
    for a repeat."""
    now = utcnow()
    session.execute(
        delete(FormSubmission)
        .where(FormSubmission.key == key, FormSubmission.created_at < now - WINDOW)
        .execution_options(synchronize_session=False)
    )
    if session.scalar(select(FormSubmission.key).where(FormSubmission.key == key)) is not None:
        return False
    try:
        with session.begin_nested():
            session.execute(insert(FormSubmission).values(key=key, user_id=user_id, created_at=now))
    except IntegrityError:
        return False
    return True


def purge_submissions(session: Session) -> int:
    """Forget submissions older than the window (a periodic tidy-up; correctness never depends on it)."""
    result = session.execute(delete(FormSubmission).where(FormSubmission.created_at < utcnow() - WINDOW))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
