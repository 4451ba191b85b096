"""The consent ledger: data periods and the expiry sweep (the retention sweep: test_retention.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.errors import InvalidInputError
from core.models import OutboxJob, StatusEvent
from core.types import local_today
from credit_profile import jobs
from credit_profile.consents import (
    expire_consents,
)
from credit_profile.models import CreditScore
from credit_profile.rescoring import RESCORE_JOB
from credit_profile.scoring import compute_score
from tests.credit_profile.helpers import count, grant, month, store
from tests.factories import BorrowerFactory, ConsentFactory

pytestmark = pytest.mark.smoke


# --- data period ---------------------------------------------------------------------------------


def test_a_consent_may_cover_a_period_of_months(session):
    borrower = BorrowerFactory()
    consent = grant(session, borrower, period_from="2024-01", period_to="2025-06")
    assert (consent.period_from, consent.period_to) == ("2024-01", "2025-06")
    open_ended = grant(session, borrower, period_from="2024-01")
    assert (open_ended.period_from, open_ended.period_to) == ("2024-01", None)


@pytest.mark.parametrize(
    ("period", "fields"),
    [
        ({"period_from": "2024-13"}, {"period.from": ["invalid_format"]}),
        ({"period_to": "24-01"}, {"period.to": ["invalid_format"]}),
        ({"period_from": "1999-12"}, {"period.from": ["invalid_format"]}),
        ({"period_from": "2025-02", "period_to": "2025-01"}, {"period.to": ["before_start"]}),
    ],
)
def test_bad_periods_are_refused(session, period, fields):
    with pytest.raises(InvalidInputError) as caught:
        grant(session, BorrowerFactory(), **period)
    assert caught.value.fields == fields


def test_the_score_uses_only_the_months_a_consent_covers(session):
    borrower = BorrowerFactory()
    recent = [month(i) for i in range(1, 13)]
    older = [month(i) for i in range(13, 25)]
    consent = grant(session, borrower, sources=["electricity"], period_from=recent[-1])
    store(session, borrower.id, "electricity", recent + older, consent.id)
    profile = compute_score(session, borrower.id)
    assert profile.sources["electricity"]["months"] == 12
    assert profile.sources["electricity"]["first_period"] == recent[-1]
    assert profile.sources["electricity"]["latest_period"] == recent[0]
    assert profile.sources["tax"] == {
        "months": 0,
        "gaps": 0,
        "first_period": None,
        "latest_period": None,
        "consented": False,
    }


# --- expiry sweep -----------------------------------------------------------------------------------


def test_expiry_sweep_marks_consents_past_their_last_day_once(session):
    borrower = BorrowerFactory()
    today = local_today()
    past = ConsentFactory(borrower_id=borrower.id, expires_on=today - dt.timedelta(days=1))
    last_day = ConsentFactory(borrower_id=borrower.id, expires_on=today)
    revoked = ConsentFactory(
        borrower_id=borrower.id, expires_on=today - dt.timedelta(days=3), status="revoked"
    )
    session.flush()

    assert [c.id for c in expire_consents(session, today=today)] == [past.id]
    assert (past.status, last_day.status, revoked.status) == ("expired", "active", "revoked")
    events = session.scalars(
        select(StatusEvent).where(StatusEvent.entity_type == "consent", StatusEvent.entity_id == past.id)
    ).all()
    assert [(e.from_status, e.to_status) for e in events] == [("active", "expired")]

    assert expire_consents(session, today=today) == []
    assert (
        count(session, StatusEvent, StatusEvent.entity_id == past.id, StatusEvent.entity_type == "consent")
        == 1
    )
    # The next day the consent whose last day was today expires too.
    assert [c.id for c in expire_consents(session, today=today + dt.timedelta(days=1))] == [last_day.id]


def test_expiry_job_rescores_the_borrowers(session, app):
    borrower = BorrowerFactory()
    consent = ConsentFactory(borrower_id=borrower.id, expires_on=local_today() - dt.timedelta(days=1))
    session.flush()
    store(session, borrower.id, "electricity", [month(i) for i in range(1, 13)], consent.id)
    session.flush()  # the job opens its own session on the test connection and sees this

    assert jobs.JOBS["expire_consents"]() == 1
    assert jobs.JOBS["expire_consents"]() == 0
    session.expire_all()
    queued = session.scalars(select(OutboxJob).where(OutboxJob.name == RESCORE_JOB)).all()
    assert [(row.payload, row.dedup_key.split(":")[2]) for row in queued] == [
        ({"borrower_id": borrower.id}, f"consent-{consent.id}-expired")
    ]
    for row in queued:  # what the worker runs next
        jobs.JOBS[row.name](**row.payload)
    session.expire_all()
    assert session.get(type(consent), consent.id).status == "expired"
    score = session.scalar(select(CreditScore).where(CreditScore.borrower_id == borrower.id))
    assert score is not None and score.sources["electricity"]["consented"] is False
