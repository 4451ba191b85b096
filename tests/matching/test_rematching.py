"""Re-matching open needs when the catalogue or a score changes; never two leads for one (need, institution)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core import runtime
from core.models import OutboxJob
from credit_profile.expert import expert_scorecard
from credit_profile.models import CreditScore
from credit_profile.scorecards import RESCORE_ALL_JOB, activate_scorecard, register_scorecard
from matching import jobs, rematching
from matching.dispatch import evaluate, load_match_context, match_need, push
from matching.models import Lead, Need, NeedStatus
from matching.rematching import REMATCH_BORROWER_JOB, REMATCH_JOB, rematch_open_needs
from portal import worker
from products.services import announce_catalogue_change
from tests.conftest import IS_POSTGRES, make_settings
from tests.factories import (
    BorrowerFactory,
    InstitutionFactory,
    LeadFactory,
    ProductFactory,
    UserFactory,
    bind_factories,
)
from tests.matching.helpers import applicant, bank, event_kinds, leads_of, submit

# A score resting on a year of tax data (a score computed from no data is no score: scoring.has_data).
WITH_DATA = {"tax": {"months": 12, "gaps": 0, "consented": True}}


def test_an_unmatched_need_is_matched_when_a_product_that_fits_is_published(session):
    bank(max_amount=Decimal("100000"))  # too small for the need
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    match_need(session, need.id, top_n=3)
    assert need.status == NeedStatus.UNMATCHED

    institution, product, _ = bank()
    created = rematch_open_needs(session, top_n=3, product_id=product.id)

    assert [(lead.need_id, lead.institution_id) for lead in created] == [(need.id, institution.id)]
    assert need.status == NeedStatus.MATCHED and created[0].dispatch_round == 1
    assert rematch_open_needs(session, top_n=3, product_id=product.id) == []
    assert len(leads_of(session, need.id)) == 1


def test_a_matched_need_is_topped_up_only_while_its_round_has_room(session):
    bank("3.50")
    borrower, user = applicant()
    roomy = submit(session, borrower.id, user.id)
    match_need(session, roomy.id, top_n=2)  # one institution so far: room for one more
    other_borrower, other_user = applicant()
    others = [bank("3.60"), bank("3.70")]
    full = submit(session, other_borrower.id, other_user.id)
    match_need(session, full.id, top_n=2)  # two institutions already: no room
    newcomer, product, _ = bank("3.20")

    created = rematch_open_needs(session, top_n=2, product_id=product.id)

    assert [(lead.need_id, lead.institution_id) for lead in created] == [(roomy.id, newcomer.id)]
    assert event_kinds(session, roomy.id)[-1] == "topped_up"
    assert {lead.institution_id for lead in leads_of(session, full.id)} == {others[0][0].id, others[1][0].id}


def test_a_product_the_need_cannot_use_is_not_pushed(session):
    bank()
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    match_need(session, need.id, top_n=3)
    _, farmers_only, _ = bank(borrower_kinds=["farmer"])
    assert rematch_open_needs(session, top_n=3, product_id=farmers_only.id) == []


def test_a_push_to_an_institution_already_holding_the_need_is_refused_by_the_database(session):
    banks = [bank("3.50"), bank("3.60")]
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    need.dispatch_round = 1
    context = load_match_context(session)
    stale = evaluate(session, need, context, limit=2)  # computed before another transaction's push
    LeadFactory(need=need, product=banks[0][1])

    pushed = push(session, need, context, stale, round_no=1)

    assert [lead.institution_id for lead in pushed] == [banks[1][0].id]
    assert session.scalar(select(func.count()).where(Lead.need_id == need.id)) == 2


def test_publishing_writes_one_rematch_job_per_change(session):
    _, product, _ = bank()
    announce_catalogue_change(session, product, reason="published")
    announce_catalogue_change(session, product, reason="published")
    rows = session.scalars(select(OutboxJob).where(OutboxJob.name == REMATCH_JOB)).all()
    assert [row.payload for row in rows] == [{"product_id": product.id}]


def test_a_new_score_rematches_the_borrowers_needs_through_a_follow_up_job(
    session, session_factory, monkeypatch
):
    runtime.bind(session_factory, make_settings())
    institution, _product, _ = bank(min_score=700)
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    match_need(session, need.id, top_n=3)
    assert need.status == NeedStatus.UNMATCHED  # no score yet
    session.commit()

    def fake_rescore(borrower_id):
        with runtime.job_session() as s:
            s.add(
                CreditScore(
                    borrower_id=borrower_id, score=760, grade="A", sources=WITH_DATA, model_version="test"
                )
            )

    monkeypatch.setitem(worker.JOBS, "recompute_score", fake_rescore)
    session.add(
        OutboxJob(name="recompute_score", payload={"borrower_id": borrower.id}, dedup_key="rescore:t")
    )
    session.commit()

    worker.relay_outbox(session_factory, make_settings())

    session.expire_all()
    assert need.status == NeedStatus.MATCHED
    assert [lead.institution_id for lead in leads_of(session, need.id)] == [institution.id]
    follow_up = session.scalar(select(OutboxJob).where(OutboxJob.name == REMATCH_BORROWER_JOB))
    assert follow_up.payload == {"borrower_id": borrower.id} and follow_up.completed_at is not None
    assert event_kinds(session, need.id) == []  # the status event says it: matched after a score change
    assert session.scalars(select(OutboxJob).where(OutboxJob.completed_at.is_(None))).all() == []


def test_activating_a_scorecard_rematches_every_open_need_after_the_rescoring(
    session, session_factory, monkeypatch
):
    runtime.bind(session_factory, make_settings())
    institution, _product, _ = bank(min_score=700)
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    match_need(session, need.id, top_n=3)
    assert need.status == NeedStatus.UNMATCHED  # no score yet
    register_scorecard(session, {**expert_scorecard(), "version": "expert-v2"})
    activate_scorecard(session, "expert-v2", actor_id=None)
    session.commit()

    def fake_rescore_all():
        with runtime.job_session() as s:
            s.add(
                CreditScore(
                    borrower_id=borrower.id, score=760, grade="A", sources=WITH_DATA, model_version="test"
                )
            )

    monkeypatch.setitem(worker.JOBS, RESCORE_ALL_JOB, fake_rescore_all)
    worker.relay_outbox(session_factory, make_settings())

    session.expire_all()
    assert need.status == NeedStatus.MATCHED
    assert [lead.institution_id for lead in leads_of(session, need.id)] == [institution.id]
    follow_up = session.scalar(select(OutboxJob).where(OutboxJob.name == REMATCH_JOB))
    assert follow_up.payload == {} and follow_up.completed_at is not None


@pytest.mark.slow
@pytest.mark.skipif(not IS_POSTGRES, reason="SQLite serialises writers; the race needs PostgreSQL")
def test_concurrent_rematching_never_pushes_twice(committed_db):
    _engine, factory = committed_db
    with factory() as s:
        bind_factories(s)
        for rate in ("3.50", "3.60", "3.70"):
            inst = InstitutionFactory()
            ProductFactory(institution=inst, published=True, rate_min=Decimal(rate))
        needs = []
        for _ in range(5):
            b = BorrowerFactory()
            u = UserFactory(borrower_id=b.id)
            need = submit(s, b.id, u.id)
            need.status = NeedStatus.UNMATCHED
            need.dispatch_round = 1
            needs.append(need.id)
        s.commit()

    barrier = threading.Barrier(4)
    errors = []

    def rematch():
        try:
            with factory() as s:
                barrier.wait()
                rematch_open_needs(s, top_n=3)
                s.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=rematch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    with factory() as s:
        rows = s.execute(select(Lead.need_id, Lead.institution_id)).all()
        assert len(rows) == 15 and len(set(rows)) == 15
        assert {n for n, _ in rows} == set(needs)


def _unmatched_needs(session, count):
    bank(max_amount=Decimal("100000"))  # too small for the needs
    ids = []
    for _ in range(count):
        borrower, user = applicant()
        need = submit(session, borrower.id, user.id)
        match_need(session, need.id, top_n=3)
        assert need.status == NeedStatus.UNMATCHED
        ids.append(need.id)
    return ids


def _spy_batches(monkeypatch, *, fail_on=None):
    """Record the batches the job hands to rematch_needs; fail the `fail_on`-th after its writes."""
    batches = []
    real = rematching.rematch_needs

    def spy(session, need_ids, **kwargs):
        batches.append(list(need_ids))
        leads = real(session, need_ids, **kwargs)
        if len(batches) == fail_on:
            raise RuntimeError("batch failed")
        return leads

    monkeypatch.setattr(rematching, "rematch_needs", spy)
    return batches


def test_the_rematch_job_matches_its_candidates_a_batch_per_transaction(
    session, session_factory, monkeypatch
):
    runtime.bind(session_factory, make_settings(rematch_batch_size=2))
    need_ids = _unmatched_needs(session, 5)
    _, product, _ = bank()
    session.commit()
    batches = _spy_batches(monkeypatch)

    assert jobs.rematch_open_needs(product.id) == 5

    assert batches == [need_ids[0:2], need_ids[2:4], need_ids[4:]]
    session.expire_all()
    assert {session.get(Need, i).status for i in need_ids} == {NeedStatus.MATCHED}


def test_a_failing_batch_is_rolled_back_alone_and_fails_the_job(session, session_factory, monkeypatch):
    runtime.bind(session_factory, make_settings(rematch_batch_size=2))
    need_ids = _unmatched_needs(session, 5)
    _, product, _ = bank()
    session.commit()
    _spy_batches(monkeypatch, fail_on=2)

    with pytest.raises(RuntimeError):
        jobs.rematch_open_needs(product.id)

    session.expire_all()
    statuses = [session.get(Need, i).status for i in need_ids]
    assert statuses == [NeedStatus.MATCHED] * 2 + [NeedStatus.UNMATCHED] * 3
    _spy_batches(monkeypatch)
    assert jobs.rematch_open_needs(product.id) == 3  # run again: the rest, nothing twice
    assert session.scalar(select(func.count()).select_from(Lead)) == 5
