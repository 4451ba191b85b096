"""latest_scores: the batch form of latest_score gives each borrower the same score."""

from __future__ import annotations

import datetime as dt

import pytest

from credit_profile.scoring import latest_score, latest_scores
from tests.factories import BorrowerFactory, CreditScoreFactory

pytestmark = pytest.mark.smoke

JAN, FEB = dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


def _score(session, borrower, grade, computed_at):
    return CreditScoreFactory(borrower_id=borrower.id, grade=grade, computed_at=computed_at)


def test_latest_scores_agrees_with_latest_score(session):
    newer_later, older_later, tied, never = (BorrowerFactory() for _ in range(4))
    session.flush()
    _score(session, newer_later, "D", JAN)
    _score(session, newer_later, "B", FEB)
    _score(session, older_later, "A", FEB)
    _score(session, older_later, "E", JAN)  # inserted last, computed earlier
    _score(session, tied, "C", FEB)
    _score(session, tied, "A", FEB)  # same moment: the later row wins
    ids = [b.id for b in (newer_later, older_later, tied, never)]

    scores = latest_scores(session, ids)

    assert {b: s.grade for b, s in scores.items()} == {newer_later.id: "B", older_later.id: "A", tied.id: "A"}
    for borrower_id in ids:
        assert scores.get(borrower_id) is latest_score(session, borrower_id)
    assert latest_scores(session, []) == {}
