"""The retention sweep: data held only under long-ended consents is deleted, and redacted from scores."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.models import FormSubmission
from core.submissions import WINDOW, claim_submission, submission_key
from core.types import SHANGHAI, utcnow
from credit_profile import jobs
from credit_profile.consent_text import RETENTION_DAYS
from credit_profile.consents import (
    consent_end,
    effective_status,
    revoke_consent,
)
from credit_profile.models import ConsentUse, DataPurge, DataRecord
from credit_profile.retention import purge_expired_data
from credit_profile.scoring import compute_score
from tests.credit_profile.helpers import count, grant, month, store
from tests.factories import BorrowerFactory, ConsentFactory

pytestmark = pytest.mark.smoke


# --- retention sweep ------------------------------------------------------------------------------


def ended(session, borrower, days_ago: float, **kwargs):
    """A consent revoked ``days_ago`` days before now."""
    consent = grant(session, borrower, **kwargs)
    revoke_consent(session, consent, actor_id=None)
    consent.revoked_at = consent.revoked_at - dt.timedelta(days=days_ago)
    session.flush()
    return consent


def test_retention_sweep_deletes_data_held_only_under_long_ended_consents(session):
    borrower = BorrowerFactory()
    old = ended(session, borrower, RETENTION_DAYS + 1, sources=["electricity", "tax"])
    recent = ended(session, borrower, RETENTION_DAYS - 1, sources=["tax"])
    periods = [month(i) for i in range(1, 7)]
    store(session, borrower.id, "electricity", periods, old.id)
    store(session, borrower.id, "tax", periods, old.id)
    other = BorrowerFactory()
    active = grant(session, other, sources=["electricity"])
    store(session, other.id, "electricity", periods, active.id)

    purges = purge_expired_data(session)

    # Tax is still held under the consent revoked within the retention period; electricity is not.
    assert [(p.borrower_id, p.source, p.records) for p in purges] == [(borrower.id, "electricity", 6)]
    assert (purges[0].first_period, purges[0].last_period) == (periods[-1], periods[0])
    assert purges[0].consent_ids == [old.id]
    assert (
        count(session, DataRecord, DataRecord.borrower_id == borrower.id, DataRecord.source == "electricity")
        == 0
    )
    assert count(session, DataRecord, DataRecord.borrower_id == borrower.id, DataRecord.source == "tax") == 6
    assert count(session, DataRecord, DataRecord.borrower_id == other.id) == 6
    assert recent.id not in purges[0].consent_ids

    assert purge_expired_data(session) == []
    assert count(session, DataPurge) == 1
    # Once the second consent has also been over for longer than the retention period, tax goes too.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    assert [(p.source, p.records) for p in purge_expired_data(session, now=later)] == [("tax", 6)]


def test_an_active_consent_covering_the_month_keeps_the_record(session):
    borrower = BorrowerFactory()
    old = ended(session, borrower, RETENTION_DAYS + 30, sources=["bank_flow"])
    grant(session, borrower, sources=["bank_flow"], period_from=month(3))
    store(session, borrower.id, "bank_flow", [month(i) for i in range(1, 7)], old.id)

    purges = purge_expired_data(session)

    assert [(p.records, p.first_period, p.last_period) for p in purges] == [(3, month(6), month(4))]
    kept = session.scalars(select(DataRecord.period).where(DataRecord.borrower_id == borrower.id)).all()
    assert sorted(kept) == sorted(month(i) for i in (1, 2, 3))


def test_expired_consents_count_from_the_end_of_their_last_day(session):
    borrower = BorrowerFactory()
    consent = ConsentFactory(
        borrower_id=borrower.id, sources=["electricity"], expires_on=dt.date(2025, 3, 31), status="expired"
    )
    session.flush()
    store(session, borrower.id, "electricity", ["2025-01", "2025-02"], consent.id)
    end = dt.datetime(2025, 4, 1, tzinfo=SHANGHAI)
    assert effective_status(consent) == "expired"
    assert consent_end(consent) == end
    just_inside = end + dt.timedelta(days=RETENTION_DAYS)
    assert purge_expired_data(session, now=just_inside) == []
    assert [p.records for p in purge_expired_data(session, now=just_inside + dt.timedelta(seconds=1))] == [2]


def test_purged_data_is_redacted_from_earlier_scores(session):
    borrower = BorrowerFactory()
    consent = grant(session, borrower, sources=["electricity", "tax"])
    periods = [month(i) for i in range(1, 13)]
    store(session, borrower.id, "electricity", periods, consent.id, kwh=0)
    store(session, borrower.id, "tax", periods, consent.id, arrears=True, credit_rating="D")
    before = compute_score(session, borrower.id)
    codes = {r["code"] for r in before.reasons}
    assert {"tax_arrears", "tax_rating_low"} & codes, codes
    revoke_consent(session, consent, actor_id=None)
    consent.revoked_at -= dt.timedelta(days=RETENTION_DAYS + 1)
    session.flush()

    purges = purge_expired_data(session)

    assert {p.source: p.scores_redacted for p in purges} == {"electricity": 1, "tax": 1}
    session.refresh(before)
    about_deleted = [r for r in before.reasons if not r["code"].startswith("bank_flow")]
    assert about_deleted and {r["code"] for r in about_deleted} <= {
        "electricity_data_deleted",
        "tax_data_deleted",
    }
    assert all(r["text"] == "该项依据的数据已在授权结束后按保留期限删除" for r in about_deleted)
    # A reason about data never authorised says nothing about the borrower and stays.
    assert "bank_flow_data_missing" in {r["code"] for r in before.reasons}
    assert before.score and before.model_version  # what the lenders saw is kept, minus the figures
    assert count(session, ConsentUse, ConsentUse.borrower_id == borrower.id) == 0


def test_retention_job_is_registered_and_idempotent(session, app):
    borrower = BorrowerFactory()
    consent = ended(session, borrower, RETENTION_DAYS + 5, sources=["electricity"])
    store(session, borrower.id, "electricity", [month(1), month(2)], consent.id)
    session.flush()
    assert jobs.JOBS["purge_expired_data"]() == 2
    assert jobs.JOBS["purge_expired_data"]() == 0


def test_retention_job_forgets_form_submissions_past_the_guards_window(session, app):
    """The double-submit guard's rows (core.submissions) would otherwise pile up for ever."""
    old = submission_key(None, "admin.providers", {"name": ["国网吉安"]})
    fresh = submission_key(None, "admin.providers", {"name": ["吉安税务"]})
    assert claim_submission(session, old, user_id=None) and claim_submission(session, fresh, user_id=None)
    session.get(FormSubmission, old).created_at = utcnow() - WINDOW - dt.timedelta(minutes=1)
    session.flush()

    jobs.JOBS["purge_expired_data"]()

    session.expire_all()
    assert session.scalars(select(FormSubmission.key)).all() == [fresh]
    assert claim_submission(session, fresh, user_id=None) is False  # the guard still holds within the window


# --- never-verified registrations of an already registered identifier ------------------------------


def test_the_sweep_deletes_old_unverified_registrations_of_a_taken_identifier(session, app):
    """credit_profile.registration writes an unverified account and an identifier-less borrower for a
    registration whose ID was already registered; they can never be verified. After 7 days the sweep
    deletes them and what hangs off them, and nothing else."""
    from core.models import OutgoingMessage, User, VerificationCode
    from credit_profile import registration
    from credit_profile.borrowers import BorrowerInput
    from credit_profile.models import Borrower, CreditScore
    from credit_profile.retention import purge_unverified_registrations
    from tests.factories import PASSWORD, NeedFactory, UserFactory
    from tests.factories.base import make_id_number

    taken = make_id_number()
    owner_borrower = BorrowerFactory(farmer=True, id_number=taken, region_code="360824")
    owner = UserFactory(borrower_id=owner_borrower.id, phone="13907960001")
    session.flush()

    def register(name, id_number, days_ago, phone):
        data = BorrowerInput(
            kind="farmer", name="某某", region_code="360824", industry_code="A", id_number=id_number
        )
        done = registration.register_applicant(session, data, username=name, password=PASSWORD, phone=phone)
        done.user.created_at = utcnow() - dt.timedelta(days=days_ago)
        session.flush()
        return done

    stale = register("stale_dup", taken, 8, "13907960002")
    compute_score(session, stale.borrower.id)  # a score hangs off the borrower and goes with it
    recent = register("recent_dup", taken, 2, "13907960003")
    with_need = register("need_dup", taken, 8, "13907960004")
    NeedFactory(borrower_id=with_need.borrower.id)
    with_consent = register("consent_dup", taken, 8, "13907960005")
    grant(session, with_consent.borrower)
    verified_dup = register("verified_dup", taken, 8, "13907960007")
    verified_dup.user.phone_verified = True
    session.flush()
    owner_texts = count(session, OutgoingMessage, OutgoingMessage.user_id == owner.id)
    assert owner_texts and count(session, VerificationCode, VerificationCode.user_id == stale.user.id)
    stale_user, stale_borrower, recent_borrower = stale.user.id, stale.borrower.id, recent.borrower.id
    kept_borrowers = [d.borrower.id for d in (recent, with_need, with_consent, verified_dup)]

    assert jobs.JOBS["purge_expired_data"]() == 0  # the data count; the accounts go too
    session.expire_all()
    users = set(session.scalars(select(User.username)))
    assert "stale_dup" not in users
    assert {"recent_dup", "need_dup", "consent_dup", "verified_dup", owner.username} <= users
    assert session.get(Borrower, stale_borrower) is None
    assert all(session.get(Borrower, kept) is not None for kept in kept_borrowers)
    assert session.get(Borrower, owner_borrower.id).id_number == taken
    assert count(session, VerificationCode, VerificationCode.user_id == stale_user) == 0
    assert count(session, OutgoingMessage, OutgoingMessage.user_id == stale_user) == 0
    assert count(session, CreditScore, CreditScore.borrower_id == stale_borrower) == 0
    assert count(session, OutgoingMessage, OutgoingMessage.user_id == owner.id) == owner_texts
    # Safe to run twice; and after another week the recent one goes as well.
    assert purge_unverified_registrations(session) == 0
    assert purge_unverified_registrations(session, now=utcnow() + dt.timedelta(days=6)) == 1
    assert session.get(Borrower, recent_borrower) is None


def test_the_sweep_frees_identifiers_held_by_old_registrations_that_never_verified(session, app):
    """A registration that holds its resident ID or USCC but never verified its phone (a typo in the
    number, a text that never came) is deleted after the same 7 days, so the identifier can be
    registered again; a younger one, a verified one and one anything refers to are kept."""
    from core.models import User, VerificationCode
    from credit_profile import registration
    from credit_profile.borrowers import BorrowerInput
    from credit_profile.models import Borrower
    from tests.factories import PASSWORD, NeedFactory
    from tests.factories.base import make_id_number

    def register(name, days_ago, phone):
        data = BorrowerInput(
            kind="farmer", name="某某", region_code="360824", industry_code="A", id_number=make_id_number()
        )
        done = registration.register_applicant(session, data, username=name, password=PASSWORD, phone=phone)
        done.user.created_at = utcnow() - dt.timedelta(days=days_ago)
        session.flush()
        return done

    stale = register("stale_typo", 8, "13907960002")
    young = register("young_typo", 6, "13907960003")
    verified = register("verified_owner", 30, "13907960004")
    verified.user.phone_verified = True
    with_need = register("need_owner", 30, "13907960005")
    NeedFactory(borrower_id=with_need.borrower.id)
    session.flush()
    freed = stale.borrower.id_number
    stale_user, stale_borrower = stale.user.id, stale.borrower.id

    assert jobs.JOBS["purge_expired_data"]() == 0
    session.expire_all()
    users = set(session.scalars(select(User.username)))
    assert "stale_typo" not in users and {"young_typo", "verified_owner", "need_owner"} <= users
    assert session.get(Borrower, stale_borrower) is None
    assert count(session, VerificationCode, VerificationCode.user_id == stale_user) == 0
    assert all(session.get(Borrower, d.borrower.id) is not None for d in (young, verified, with_need))
    # The identifier is free: registering it again writes it on the new borrower row.
    again = registration.register_applicant(
        session,
        BorrowerInput(kind="farmer", name="某某", region_code="360824", industry_code="A", id_number=freed),
        username="real_owner",
        password=PASSWORD,
        phone="13907960006",
    )
    assert again.borrower.id_number == freed and again.borrower.pending_identifier is None
