"""Stale leads: flagged after the product's follow-up window, released to dispatch after a second one."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core import runtime
from core.calendars import FIRST_YEAR, builtin_calendar
from core.models import Notification, OutgoingMessage
from core.types import utcnow
from matching import jobs, workhours
from matching.dispatch import match_need
from matching.leads import claim_lead, transition_lead
from matching.models import LeadStatus, NeedStatus
from matching.sweeps import RELEASE_NOTE, sweep_stale_leads
from tests.conftest import make_settings
from tests.matching.helpers import applicant, bank, event_kinds, leads_of, submit

# What the database's calendar is while no year is loaded.
CALENDAR = builtin_calendar(range(FIRST_YEAR, dt.date.today().year + 3))


def add_working_hours(start: dt.datetime, hours: float) -> dt.datetime:
    return workhours.add_working_hours(start, hours, calendar=CALENDAR)


def _claimed(session, *, banks=3, follow_up_hours=24):
    team = [bank(f"3.{i}0", officers=2, follow_up_hours=follow_up_hours) for i in range(1, banks + 1)]
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    lead = match_need(session, need.id, top_n=1)[0]
    institution, _product, officers = team[0]
    claim_lead(session, lead.id, officer_id=officers[0].id, institution_id=institution.id)
    return team, need, lead, officers


def test_a_claimed_lead_without_progress_is_flagged_once_to_the_officer_and_the_institution(session):
    _team, need, lead, officers = _claimed(session, follow_up_hours=16)
    just_before = add_working_hours(lead.updated_at, 15.5)
    assert sweep_stale_leads(session, top_n=1, now=just_before).flagged == []

    due = add_working_hours(lead.updated_at, 16)
    result = sweep_stale_leads(session, top_n=1, now=due)
    assert result.flagged == [lead.id] and result.released == []
    assert lead.stale_flagged_at == due and lead.status == LeadStatus.CLAIMED
    stale = session.scalars(select(Notification).where(Notification.kind == "lead_stale")).all()
    assert sorted(n.user_id for n in stale) == sorted(o.id for o in officers)
    sms = session.scalars(select(OutgoingMessage).where(OutgoingMessage.body.contains("未更新进度"))).all()
    assert [m.user_id for m in sms] == [officers[0].id]  # the claimant
    assert event_kinds(session, need.id)[-1] == "stale_flagged"

    again = sweep_stale_leads(session, top_n=1, now=due + dt.timedelta(minutes=5))
    assert again.flagged == [] and again.released == []
    assert len(session.scalars(select(Notification).where(Notification.kind == "lead_stale")).all()) == 2


def test_a_flagged_lead_still_untouched_a_window_later_is_released_and_the_need_redispatched(session):
    team, need, lead, officers = _claimed(session)
    flagged_at = add_working_hours(lead.updated_at, 24)
    sweep_stale_leads(session, top_n=1, now=flagged_at)

    assert sweep_stale_leads(session, top_n=1, now=add_working_hours(flagged_at, 23)).released == []
    result = sweep_stale_leads(session, top_n=1, now=add_working_hours(flagged_at, 24))

    assert result.released == [lead.id]
    assert (lead.status, lead.note) == (LeadStatus.EXPIRED, RELEASE_NOTE)
    leads = leads_of(session, need.id)
    assert [(x.institution_id, x.status, x.dispatch_round) for x in leads] == [
        (team[0][0].id, LeadStatus.EXPIRED, 1),
        (team[1][0].id, LeadStatus.PUSHED, 2),
    ]
    assert need.status == NeedStatus.MATCHED
    assert event_kinds(session, need.id)[-3:] == ["released", "back_to_dispatch", "redispatched"]
    released = session.scalars(select(Notification).where(Notification.kind == "lead_released")).all()
    assert [n.user_id for n in released] == [officers[0].id]
    assert sweep_stale_leads(session, top_n=1, now=add_working_hours(flagged_at, 30)).released == []


def test_any_status_change_clears_the_flag_and_restarts_the_clock(session):
    team, need, lead, officers = _claimed(session)
    flagged_at = add_working_hours(lead.updated_at, 24)
    sweep_stale_leads(session, top_n=1, now=flagged_at)
    transition_lead(session, lead.id, to="contacted", officer_id=officers[0].id, institution_id=team[0][0].id)
    assert lead.stale_flagged_at is None

    result = sweep_stale_leads(session, top_n=1, now=add_working_hours(flagged_at, 24))
    assert result.released == []
    assert lead.status == LeadStatus.CONTACTED and need.status == NeedStatus.IN_PROGRESS


def test_an_approved_lead_waits_for_disbursement_without_being_flagged(session):
    team, _need, lead, officers = _claimed(session)
    for step in ("contacted", "approved"):
        transition_lead(session, lead.id, to=step, officer_id=officers[0].id, institution_id=team[0][0].id)
    result = sweep_stale_leads(session, top_n=1, now=utcnow() + dt.timedelta(days=60))
    assert result.flagged == [] and lead.stale_flagged_at is None


def test_the_scheduled_job_flags_then_releases_one_lead_per_transaction(session, session_factory):
    runtime.bind(session_factory, make_settings(dispatch_top_n=1))
    team, need, lead, _officers = _claimed(session)
    lead.updated_at = utcnow() - dt.timedelta(days=30)
    session.commit()

    assert jobs.sweep_stale_leads() == 1
    session.expire_all()
    assert lead.stale_flagged_at is not None and lead.status == LeadStatus.CLAIMED
    assert jobs.sweep_stale_leads() == 0  # flagged once

    lead.stale_flagged_at = utcnow() - dt.timedelta(days=30)
    session.commit()
    assert jobs.sweep_stale_leads() == 1
    session.expire_all()
    assert lead.status == LeadStatus.EXPIRED and need.status == NeedStatus.MATCHED
    assert [x.institution_id for x in leads_of(session, need.id) if x.status == LeadStatus.PUSHED] == [
        team[1][0].id
    ]
