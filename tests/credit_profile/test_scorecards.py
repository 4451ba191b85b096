"""Scorecard versions: register artefacts, activate exactly one, score with it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.errors import InvalidInputError
from core.models import OutboxJob, StatusEvent
from credit_profile.errors import ScorecardNotFoundError, ScorecardVersionConflictError
from credit_profile.expert import expert_scorecard
from credit_profile.models import ScorecardVersion
from credit_profile.scorecards import RESCORE_ALL_JOB, activate_scorecard, list_scorecards, register_scorecard
from credit_profile.scoring import active_scorecard, compute_score
from tests.credit_profile.helpers import trained_artefact
from tests.factories import BorrowerFactory

pytestmark = pytest.mark.smoke


def artefact(version: str, offset: float = 600.0) -> dict:
    card = expert_scorecard()
    card["version"] = version
    card["offset_points"] = offset
    return card


def test_register_is_inactive_and_idempotent(session):
    row = register_scorecard(session, artefact("v1"), note="首版")
    assert (row.version, row.active, row.note) == ("v1", False, "首版")
    assert register_scorecard(session, artefact("v1")).id == row.id
    with pytest.raises(ScorecardVersionConflictError):
        register_scorecard(session, artefact("v1", offset=650.0))
    assert [r.version for r in list_scorecards(session)] == ["v1"]


def test_register_refuses_invalid_and_foreign_cards(session):
    with pytest.raises(InvalidInputError) as caught:
        register_scorecard(session, {"format": "something else"})
    assert caught.value.fields == {"model": ["invalid_format"]}
    foreign = artefact("german")
    foreign["characteristics"][0]["name"] = "duration_in_month"
    with pytest.raises(InvalidInputError) as caught:
        register_scorecard(session, foreign)
    assert caught.value.fields == {"model": ["unknown_characteristic"]}
    assert "duration_in_month" in caught.value.detail
    assert list_scorecards(session) == []


def test_activation_switches_exactly_one_version_and_scores_use_it(session):
    borrower = BorrowerFactory()
    assert compute_score(session, borrower.id).model_version == expert_scorecard()["version"]
    register_scorecard(session, artefact("v1", offset=650.0))
    register_scorecard(session, artefact("v2", offset=700.0))

    activate_scorecard(session, "v1", actor_id=None)
    assert active_scorecard(session).version == "v1"
    first = compute_score(session, borrower.id)
    activate_scorecard(session, "v2", actor_id=None)
    second = compute_score(session, borrower.id)

    actives = session.scalars(select(ScorecardVersion.version).where(ScorecardVersion.active.is_(True))).all()
    assert actives == ["v2"]
    assert (first.model_version, second.model_version) == ("v1", "v2")
    assert second.score - first.score == 50
    events = session.scalars(select(StatusEvent).where(StatusEvent.entity_type == "scorecard_version")).all()
    assert [e.data["previous"] for e in events] == [None, "v1"]
    assert len(session.scalars(select(OutboxJob).where(OutboxJob.name == RESCORE_ALL_JOB)).all()) == 2
    # Activating the active version again changes nothing.
    activate_scorecard(session, "v2", actor_id=None)
    assert (
        len(session.scalars(select(StatusEvent).where(StatusEvent.entity_type == "scorecard_version")).all())
        == 2
    )


def test_unknown_version_and_the_database_guard(session):
    with pytest.raises(ScorecardNotFoundError):
        activate_scorecard(session, "nope", actor_id=None)
    register_scorecard(session, artefact("v1"))
    register_scorecard(session, artefact("v2"))
    activate_scorecard(session, "v1", actor_id=None)
    # Even a write that bypasses the service cannot leave two versions active.
    row = session.scalar(select(ScorecardVersion).where(ScorecardVersion.version == "v2"))
    row.active = True
    with pytest.raises(IntegrityError), session.begin_nested():
        session.flush()


def test_rescore_all_job_scores_every_borrower_with_the_active_version(session, app, monkeypatch):
    from credit_profile import jobs
    from credit_profile.models import CreditScore

    monkeypatch.setattr(jobs, "RESCORE_BATCH", 2)  # several batches with five borrowers
    borrowers = [BorrowerFactory() for _ in range(5)]
    register_scorecard(session, artefact("v9"))
    activate_scorecard(session, "v9", actor_id=None)
    session.flush()  # never commit here: on SQLite that would outlive the test's rollback

    jobs.JOBS[RESCORE_ALL_JOB]()

    session.expire_all()
    scored = session.scalars(select(CreditScore.borrower_id).where(CreditScore.model_version == "v9")).all()
    assert sorted(scored) == sorted(b.id for b in borrowers)


def test_a_worse_version_needs_a_reason_which_is_audited_and_the_expert_card_comes_back(session):
    from credit_profile.expert import EXPERT_VERSION

    for version, auc in (("good", 0.78), ("worse", 0.74), ("chance", 0.40), ("unknown", None)):
        register_scorecard(session, trained_artefact(version, auc))
    activate_scorecard(session, "good", actor_id=None)  # better than the expert card's unknown AUC floor
    jobs_before = session.scalar(select(func.count()).select_from(OutboxJob))

    for version in ("worse", "chance", "unknown"):
        with pytest.raises(InvalidInputError) as caught:
            activate_scorecard(session, version, actor_id=None, reason="   ")
        assert caught.value.fields == {"reason": ["reason_required"]}
    assert active_scorecard(session).version == "good"
    assert session.scalar(select(func.count()).select_from(OutboxJob)) == jobs_before

    activate_scorecard(session, "worse", actor_id=None, reason="新版本覆盖县域个体工商户，先试行一个月")
    assert active_scorecard(session).version == "worse"
    event = session.scalars(
        select(StatusEvent)
        .where(StatusEvent.entity_type == "scorecard_version")
        .order_by(StatusEvent.id.desc())
    ).first()
    assert event.note == "新版本覆盖县域个体工商户，先试行一个月"
    assert event.data["below_quality_gate"] is True
    assert (event.data["validation_auc"], event.data["previous_validation_auc"]) == (0.74, 0.78)

    # The built-in expert card: always allowed, no reason, and again after another switch.
    for _ in range(2):
        activate_scorecard(session, EXPERT_VERSION, actor_id=None)
        assert active_scorecard(session).version == EXPERT_VERSION
        activate_scorecard(session, "good", actor_id=None)
    activate_scorecard(session, EXPERT_VERSION, actor_id=None)
    assert active_scorecard(session).version == EXPERT_VERSION
    assert session.scalar(select(func.count()).select_from(OutboxJob)) == jobs_before + 6


def test_monthly_stability_check_warns_above_the_threshold(session, caplog):
    from credit_profile import jobs
    from credit_profile.scorecards import check_score_stability
    from credit_profile.stability import score_distribution

    borrowers = [BorrowerFactory() for _ in range(4)]
    assert check_score_stability(session) is None  # the expert card keeps no validation distribution
    stable = trained_artefact("stable", 0.8, offset=600.0)
    stable["metadata"]["score_distribution"] = score_distribution([600] * 6)
    register_scorecard(session, stable)
    activate_scorecard(session, "stable", actor_id=None)
    for borrower in borrowers:
        compute_score(session, borrower.id)  # no data: every one scores the offset, 600
    check = check_score_stability(session)
    assert check is not None and check.n_scores == 4 and not check.warning

    shifted = trained_artefact("shifted", 0.8, offset=600.0)
    shifted["metadata"]["score_distribution"] = score_distribution(list(range(300, 900, 10)))
    register_scorecard(session, shifted)
    activate_scorecard(session, "shifted", actor_id=None, reason="测试")
    for borrower in borrowers:
        compute_score(session, borrower.id)
    with caplog.at_level("WARNING"):
        check = check_score_stability(session)
    assert check is not None and check.warning and check.psi > 0.25
    assert "PSI" in caplog.text
    event = session.scalars(
        select(StatusEvent).where(StatusEvent.to_status == "psi_checked").order_by(StatusEvent.id.desc())
    ).first()
    assert event.data["warning"] is True and event.data["n_scores"] == 4
    assert "check_score_stability" in jobs.JOBS
    assert any(p.name == "check_score_stability" and p.cron for p in jobs.PERIODIC)
