"""Dispatch: the best institutions first, rounds after SLA expiry, opening to all with an alert; and the ranking
inputs (an institution's approval share per grade band, and what it does to the order)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import Notification, OutgoingMessage, User
from core.types import utcnow
from matching.dispatch import MIN_DECIDED_LEADS, approval_rates, institution_stats, match_need
from matching.leads import claim_lead
from matching.models import Alert, LeadStatus, NeedStatus
from matching.sweeps import expire_overdue_leads
from tests.factories import LeadFactory, UserFactory
from tests.matching.helpers import FAR_FUTURE, applicant, bank, event_kinds, leads_of, submit


def test_first_round_pushes_to_the_best_top_n_and_tells_officers_and_applicant(session):
    banks = [bank(rate) for rate in ("3.50", "3.60", "3.70", "3.80")]
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)

    leads = match_need(session, need.id, top_n=3)

    assert need.status == NeedStatus.MATCHED
    assert need.dispatch_round == 1
    assert [lead.institution_id for lead in leads] == [b[0].id for b in banks[:3]]
    assert {lead.dispatch_round for lead in leads} == {1}
    officer_ids = {b[2][0].id for b in banks[:3]}
    pushed = session.scalars(select(Notification).where(Notification.kind == "lead_pushed")).all()
    assert {n.user_id for n in pushed} == officer_ids
    applicant_kinds = [
        n.kind for n in session.scalars(select(Notification).where(Notification.user_id == user.id))
    ]
    assert applicant_kinds.count("lead_status") == 3  # one per pushed lead
    assert "need_status" in applicant_kinds  # submitted -> matched (submission itself was the applicant's)
    sms = session.scalars(select(OutgoingMessage).where(OutgoingMessage.channel == "sms")).all()
    assert sorted(m.user_id for m in sms) == sorted(officer_ids)
    assert all("新线索待认领" in m.body for m in sms)
    assert match_need(session, need.id, top_n=3) == []  # a second run changes nothing
    assert len(leads_of(session, need.id)) == 3


def test_unclaimed_rounds_go_to_the_next_institutions_then_to_everyone(session):
    banks = [bank(f"3.{i}0") for i in range(1, 8)]  # seven institutions, best first
    UserFactory(finance=True, region_code="360802", username="county_jizhou")
    UserFactory(finance=True, region_code="360821", username="county_other")
    borrower, user = applicant(region_code="360802")
    need = submit(session, borrower.id, user.id)
    match_need(session, need.id, top_n=2)
    first = [lead.institution_id for lead in leads_of(session, need.id)]
    assert first == [banks[0][0].id, banks[1][0].id]

    later = utcnow() + FAR_FUTURE
    expired = expire_overdue_leads(session, top_n=2, max_rounds=2, now=later)
    assert len(expired) == 2
    leads = leads_of(session, need.id)
    assert [(lead.dispatch_round, lead.institution_id) for lead in leads if lead.status == "pushed"] == [
        (2, banks[2][0].id),
        (2, banks[3][0].id),
    ]
    assert need.status == NeedStatus.MATCHED and need.dispatch_round == 2 and not need.open_to_all
    assert "redispatched" in event_kinds(session, need.id)
    assert session.scalar(select(Alert)) is None

    expire_overdue_leads(session, top_n=2, max_rounds=2, now=later + FAR_FUTURE)
    assert need.open_to_all and need.dispatch_round == 3
    third = [lead.institution_id for lead in leads_of(session, need.id) if lead.dispatch_round == 3]
    assert third == [b[0].id for b in banks[4:]]  # every remaining eligible institution, not just two
    assert event_kinds(session, need.id)[-1] == "opened_to_all"
    alert = session.scalar(select(Alert))
    assert (alert.kind, alert.need_id, alert.region_code) == ("open_to_all", need.id, "360802")
    assert alert.data["rounds"] == 2 and alert.data["leads"] == 3
    told = {
        n.user_id
        for n in session.scalars(select(Notification).where(Notification.kind == "need_open_to_all"))
    }
    county = session.scalar(select(User).where(User.username == "county_jizhou"))
    assert told == {county.id}

    # Nobody left: the need is rejected rather than kept waiting, and the alert is not repeated.
    expire_overdue_leads(session, top_n=2, max_rounds=2, now=later + 2 * FAR_FUTURE)
    assert need.status == NeedStatus.REJECTED
    assert len(session.scalars(select(Alert)).all()) == 1
    assert expire_overdue_leads(session, top_n=2, max_rounds=2, now=later + 2 * FAR_FUTURE) == []


def test_a_claimed_need_is_not_redispatched_when_its_other_leads_expire(session):
    banks = [bank(rate) for rate in ("3.50", "3.60", "3.70")]
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    first, second = match_need(session, need.id, top_n=2)
    claim_lead(session, first.id, officer_id=banks[0][2][0].id, institution_id=banks[0][0].id)

    expired = expire_overdue_leads(session, top_n=2, max_rounds=2, now=utcnow() + FAR_FUTURE)

    assert expired == [second.id]
    assert need.status == NeedStatus.IN_PROGRESS and need.dispatch_round == 1
    assert [lead.status for lead in leads_of(session, need.id)] == [LeadStatus.CLAIMED, LeadStatus.EXPIRED]


# --- ranking inputs: an institution's approval share per grade band, and what it does to the order ---


def test_approval_rates_count_approved_and_disbursed_against_rejected_per_band():
    rows = [
        (1, "approved", "A"),
        (1, "disbursed", "A"),
        (1, "rejected", "A"),
        (1, "rejected", "A"),
        (1, "closed", "A"),  # not a decision
        (1, "disbursed", None),  # no band recorded
        (1, "rejected", "B"),
        (2, "disbursed", "A"),
    ]
    assert approval_rates(rows, min_decided=1) == {1: {"A": 0.5, "B": 0.0}, 2: {"A": 1.0}}
    assert approval_rates(rows, min_decided=4) == {1: {"A": 0.5}}


def _history(session, institution, product, statuses, band="none"):
    """Decided leads of this institution, each on the need of a borrower of its own (one applicant may
    not post the same need twice, nor more than three)."""
    for status in statuses:
        borrower, user = applicant()
        need = submit(session, borrower.id, user.id)
        LeadFactory(need=need, product=product, status=status, explanation={"score_band": band})


@pytest.mark.parametrize("decided", [MIN_DECIDED_LEADS, MIN_DECIDED_LEADS - 1])
def test_an_institution_that_approves_borrowers_like_this_one_ranks_first(session, decided):
    cheap, cheap_product, _ = bank("3.50")
    approving, approving_product, _ = bank("3.60")
    _history(session, cheap, cheap_product, [LeadStatus.REJECTED] * decided)
    _history(
        session, approving, approving_product, [LeadStatus.DISBURSED] * (decided - 1) + [LeadStatus.APPROVED]
    )

    stats = institution_stats(session)
    borrower, user = applicant()  # no score yet: band "none"
    need = submit(session, borrower.id, user.id)
    first = match_need(session, need.id, top_n=1)[0]

    if decided >= MIN_DECIDED_LEADS:
        assert stats[cheap.id].approval_rate_by_band == {"none": 0.0}
        assert stats[approving.id].approval_rate_by_band == {"none": 1.0}
        assert first.institution_id == approving.id
        assert first.explanation["approval_history"] == 1.0
    else:  # too few decisions: the prior stands and the cheaper product wins
        assert stats[cheap.id].approval_rate_by_band == {}
        assert first.institution_id == cheap.id
        assert first.explanation["approval_history"] == 0.5


def test_a_need_that_runs_out_of_institutions_before_the_last_round_raises_the_alert_at_once(session):
    banks = [bank(f"3.{i}0") for i in range(1, 3)]  # two institutions only
    UserFactory(finance=True, region_code="360802", username="county_jz2")
    borrower, user = applicant(region_code="360802")
    need = submit(session, borrower.id, user.id)
    match_need(session, need.id, top_n=2)
    assert len(leads_of(session, need.id)) == len(banks)

    # Round 1 expires with nobody left to try, long before round 3 would open the need to everyone.
    expire_overdue_leads(session, top_n=2, max_rounds=3, now=utcnow() + FAR_FUTURE)
    assert need.status == NeedStatus.REJECTED and not need.open_to_all
    alert = session.scalar(select(Alert))
    assert alert is not None, "the county office hears about a need nobody can serve"
    assert (alert.kind, alert.need_id, alert.region_code) == ("no_institutions", need.id, "360802")
    county = session.scalar(select(User).where(User.username == "county_jz2"))
    kinds = {n.kind for n in session.scalars(select(Notification).where(Notification.user_id == county.id))}
    assert "need_no_institutions" in kinds


def test_the_outcome_of_a_rejected_need_says_whether_a_bank_declined_or_nobody_answered(session):
    from matching.leads import transition_lead
    from matching.needs import rejection_outcome

    banks = [bank("3.10")]
    borrower, user = applicant()
    ignored = submit(session, borrower.id, user.id)
    match_need(session, ignored.id, top_n=1)
    expire_overdue_leads(session, top_n=1, max_rounds=1, now=utcnow() + FAR_FUTURE)
    assert ignored.status == NeedStatus.REJECTED
    assert rejection_outcome(session, ignored.id) == "no_response"

    declined = submit(session, borrower.id, user.id, amount=320000)
    (lead,) = match_need(session, declined.id, top_n=1)
    institution, _product, officers = banks[0]
    claim_lead(session, lead.id, officer_id=officers[0].id, institution_id=institution.id)
    transition_lead(
        session, lead.id, to="rejected", officer_id=officers[0].id, institution_id=institution.id,
        reason_code="incomplete_materials",
    )  # fmt: skip
    assert declined.status == NeedStatus.REJECTED
    assert rejection_outcome(session, declined.id) == "declined"
