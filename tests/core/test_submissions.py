"""The idempotency guard of creating forms: once per submission within the window."""

from __future__ import annotations

import datetime as dt

from core.models import FormSubmission
from core.submissions import WINDOW, claim_submission, submission_key
from core.types import utcnow


def test_the_same_submission_is_claimed_once_until_the_window_has_passed(session):
    key = submission_key(None, "admin.providers", {"name": ["国网吉安"], "source": ["electricity"]})
    assert key != submission_key(None, "admin.providers", {"name": ["国网吉安"], "source": ["tax"]})
    assert key != submission_key(7, "admin.providers", {"name": ["国网吉安"], "source": ["electricity"]})
    assert claim_submission(session, key, user_id=None) is True
    assert claim_submission(session, key, user_id=None) is False
    row = session.get(FormSubmission, key)
    row.created_at = utcnow() - WINDOW - dt.timedelta(seconds=1)
    session.flush()
    assert claim_submission(session, key, user_id=None) is True
