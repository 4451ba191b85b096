"""Consent purposes: each purpose reads only its own consents; pausing and resuming; a change is a new
consent, never an edit."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.errors import InvalidInputError
from core.models import StatusEvent
from core.types import local_today
from credit_profile.consents import (
    active_consent_list,
    artefact_hash,
    change_consent,
    effective_status,
    expire_consents,
    grant_consent,
    pause_consent,
    require_active_consent,
    resume_consent,
    revoke_consent,
)
from credit_profile.errors import ConsentRequiredError, ConsentStateError
from credit_profile.ingestion import create_provider, ingest_records
from credit_profile.scoring import consented_data
from tests.credit_profile.helpers import month, store
from tests.factories import BorrowerFactory

pytestmark = pytest.mark.smoke


def _grant(session, borrower, **kwargs):
    values = {
        "borrower_id": borrower.id,
        "sources": ["electricity"],
        "purpose": "贷后监测",
        "expires_on": local_today() + dt.timedelta(days=90),
        "actor_id": None,
    }
    return grant_consent(session, **{**values, **kwargs})


def test_a_consent_records_its_purpose_retention_frequency_and_recipients(session):
    borrower = BorrowerFactory()
    consent = _grant(
        session,
        borrower,
        purpose_code="monitoring",
        data_life_months=12,
        fetch_frequency="monthly",
        recipient_ids=[7],
    )

    assert (consent.purpose_code, consent.data_life_months, consent.fetch_frequency) == (
        "monitoring",
        12,
        "monthly",
    )
    assert consent.recipient_ids == [7]
    assert consent.artefact_hash == artefact_hash(consent)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"purpose_code": "marketing"}, "purpose_code"),
        ({"data_life_months": 0}, "data_life_months"),
        ({"fetch_frequency": "hourly"}, "fetch_frequency"),
        ({"recipient_ids": [0]}, "recipient_ids"),
    ],
)
def test_bad_terms_are_refused(session, kwargs, field):
    with pytest.raises(InvalidInputError) as raised:
        _grant(session, BorrowerFactory(), **kwargs)
    assert field in raised.value.fields


def test_application_assessment_reads_only_application_consents(session):
    borrower = BorrowerFactory()
    monitoring = _grant(session, borrower, purpose_code="monitoring")
    store(session, borrower.id, "electricity", [month(2), month(1)], monitoring.id)

    assert active_consent_list(session, borrower.id) == []
    assert consented_data(session, borrower.id).records == {}
    with pytest.raises(ConsentRequiredError):  # what an officer's read of the profile goes through
        require_active_consent(
            session, borrower.id, actor_id=None, institution_id=None, action="institution_read"
        )

    application = _grant(session, borrower, purpose="融资需求匹配")
    assert active_consent_list(session, borrower.id) == [application]
    assert len(consented_data(session, borrower.id).records["electricity"]) == 2


def test_a_paused_consent_lets_no_data_in_until_resumed(session):
    borrower = BorrowerFactory()
    consent = _grant(session, borrower, purpose="融资需求匹配")
    provider, _secret = create_provider(session, name="国网吉安供电公司", source="electricity")
    record = {"uscc": borrower.uscc, "period": month(1), "kwh": "1000", "bill_amount": "680"}

    pause_consent(session, consent, actor_id=None)
    assert effective_status(consent) == "paused"
    assert ingest_records(session, provider, [record]).accepted == 0
    with pytest.raises(ConsentStateError):
        pause_consent(session, consent, actor_id=None)

    resume_consent(session, consent, actor_id=None)
    assert ingest_records(session, provider, [record]).accepted == 1
    with pytest.raises(ConsentStateError):
        resume_consent(session, consent, actor_id=None)
    steps = session.scalars(
        select(StatusEvent.to_status).where(
            StatusEvent.entity_type == "consent", StatusEvent.entity_id == consent.id
        )
    ).all()
    assert steps == ["active", "paused", "active"]


def test_a_paused_consent_can_be_revoked_and_expires(session):
    borrower = BorrowerFactory()
    paused = pause_consent(session, _grant(session, borrower), actor_id=None)
    revoke_consent(session, paused, actor_id=None)
    assert paused.status == "revoked"

    other = pause_consent(session, _grant(session, borrower), actor_id=None)
    assert expire_consents(session, today=local_today() + dt.timedelta(days=91)) == [other]


def test_a_change_is_a_new_consent_that_replaces_the_old(session):
    borrower = BorrowerFactory()
    old = _grant(session, borrower, purpose_code="monitoring", recipient_ids=[3])
    old_hash = old.artefact_hash

    new = change_consent(session, old, actor_id=None, sources=["electricity", "tax"])

    assert new.id != old.id and new.replaces_id == old.id
    assert (new.purpose_code, new.recipient_ids, sorted(new.sources)) == (
        "monitoring",
        [3],
        ["electricity", "tax"],
    )
    assert old.status == "revoked" and old.sources == ["electricity"] and old.artefact_hash == old_hash
    with pytest.raises(ConsentStateError):
        change_consent(session, old, actor_id=None)
