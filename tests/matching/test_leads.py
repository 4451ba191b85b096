"""The first time a lead reached 'contacted', 'approved' and a decision, kept on the lead and its need by
the database from the status events (a trigger on their insert), as the funnel and the board read them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.models import StatusEvent
from core.types import utcnow
from matching.dispatch import match_need
from matching.leads import claim_lead, transition_lead
from matching.models import Lead, Need
from tests.factories import StatusEventFactory
from tests.matching.helpers import applicant, bank, submit

pytestmark = pytest.mark.smoke


def _lead(session):
    institution, _product, [officer] = bank()
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    [lead] = [row for row in match_need(session, need.id, top_n=3) if row.institution_id == institution.id]
    claim_lead(session, lead.id, officer_id=officer.id, institution_id=institution.id)
    return lead, officer, institution


def _times(session, lead_id):
    session.expire_all()
    lead = session.get(Lead, lead_id)
    need = session.get(Need, lead.need_id)
    return (lead.contacted_at, lead.approved_at, lead.decided_at), (need.contacted_at, need.approved_at)


def _event_at(session, lead_id, status):
    return session.scalar(
        select(StatusEvent.at).where(
            StatusEvent.entity_type == "lead",
            StatusEvent.entity_id == lead_id,
            StatusEvent.to_status == status,
        )
    )


def test_the_services_transitions_set_the_first_times_from_their_events(session):
    lead, officer, institution = _lead(session)
    assert _times(session, lead.id) == ((None, None, None), (None, None))
    transition_lead(session, lead.id, to="contacted", officer_id=officer.id, institution_id=institution.id)
    transition_lead(session, lead.id, to="approved", officer_id=officer.id, institution_id=institution.id)
    session.flush()
    contacted, approved = _event_at(session, lead.id, "contacted"), _event_at(session, lead.id, "approved")
    assert contacted and approved
    assert _times(session, lead.id) == ((contacted, approved, approved), (contacted, approved))


def test_a_rejection_is_a_decision_and_the_earliest_event_wins(session):
    lead, officer, institution = _lead(session)
    transition_lead(
        session, lead.id, to="rejected", officer_id=officer.id, institution_id=institution.id,
        reason_code="insufficient_cash_flow",
    )  # fmt: skip
    session.flush()
    rejected = _event_at(session, lead.id, "rejected")
    assert _times(session, lead.id) == ((None, None, rejected), (None, None))
    # An event recorded later with an earlier time (a back-dated report) moves the first time earlier;
    # one with a later time does not; another entity's event changes nothing.
    earlier, later = rejected - dt.timedelta(hours=2), utcnow() + dt.timedelta(days=1)
    for at, entity_type in ((earlier, "lead"), (later, "lead"), (earlier - dt.timedelta(days=1), "need")):
        StatusEventFactory(lead=lead, entity_type=entity_type, to_status="contacted", at=at)
    assert _times(session, lead.id) == ((earlier, None, rejected), (earlier, None))


# --- decline and hand-over (issue 14) ------------------------------------------------------------


def test_declining_the_last_open_lead_sends_the_need_on_to_another_institution(session):
    from matching.dispatch import DispatchPolicy
    from matching.leads import decline_lead
    from tests.matching.helpers import leads_of

    first, _p1, [officer] = bank(rate="3.00")
    second, _p2, _ = bank(rate="5.00")
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    [lead] = match_need(session, need.id, top_n=1)
    assert lead.institution_id == first.id
    decline_lead(
        session, lead.id, officer_id=officer.id, institution_id=first.id, reason_code="policy_restricted",
        note="限制类", policy=DispatchPolicy(top_n=1),
    )  # fmt: skip
    session.flush()
    leads = leads_of(session, need.id)
    assert [(row.institution_id, row.status) for row in leads] == [
        (first.id, "declined"),
        (second.id, "pushed"),
    ]
    assert session.get(Need, need.id).status == "matched"


def test_declining_one_of_several_open_leads_waits_for_the_others(session):
    from matching.dispatch import DispatchPolicy
    from matching.leads import decline_lead
    from tests.matching.helpers import leads_of

    first, _p1, [officer] = bank(rate="3.00")
    bank(rate="5.00")
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    leads = match_need(session, need.id, top_n=3)
    mine = next(row for row in leads if row.institution_id == first.id)
    decline_lead(
        session, mine.id, officer_id=officer.id, institution_id=first.id, reason_code="unreachable",
        policy=DispatchPolicy(top_n=3),
    )  # fmt: skip
    session.flush()
    assert len(leads_of(session, need.id)) == 2


def test_a_lead_is_handed_over_to_a_colleague_named_as_sign_in_reads_the_name(session):
    """The colleague is looked up by the username key (NFKC + casefold), as sign-in does: "Officer2", a
    full-width spelling, spaces or an invisible character around it all name the same colleague."""
    from core.errors import InvalidInputError
    from matching.leads import assign_lead
    from tests.factories import UserFactory

    lead, officer, institution = _lead(session)
    colleague = UserFactory(officer=True, institution_id=institution.id, username="officer2")
    UserFactory(officer=True, username="officer3")  # same role, another institution
    for typed in ("Officer2", "ＯＦＦＩＣＥＲ２", " officer2\u200b "):
        assign_lead(session, lead.id, officer_id=officer.id, institution_id=institution.id, username=typed)
        assert lead.claimed_by == colleague.id
        # and back, so that the next spelling hands it over again
        assign_lead(
            session,
            lead.id,
            officer_id=colleague.id,
            institution_id=institution.id,
            username=officer.username,
        )
        assert lead.claimed_by == officer.id
    for typed in ("officer3", "Officer2x", "\ud800", "", officer.username.upper()):
        with pytest.raises(InvalidInputError):
            assign_lead(
                session, lead.id, officer_id=officer.id, institution_id=institution.id, username=typed
            )
    assert lead.claimed_by == officer.id
