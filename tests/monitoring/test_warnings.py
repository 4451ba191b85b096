"""Early warnings: a provider push on a monitored loan opens a warning for the claiming officer within
the job; without (or under a paused) 贷后监测 consent nothing is read; the officer's steps."""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.errors import InvalidInputError
from core.models import Notification
from credit_profile.consents import pause_consent, resume_consent
from credit_profile.ingestion import create_provider, sign
from credit_profile.models import Borrower, ConsentUse
from monitoring.errors import WarningNotFoundError, WarningStateError
from monitoring.models import EarlyWarning, MonitoringSignal
from monitoring.warnings import (
    acknowledge_warning,
    close_warning,
    escalate_overdue,
    get_warning,
    monitor_borrower,
    record_action,
)
from portal import worker
from tests.factories import ConsentFactory, DataRecordFactory, EarlyWarningFactory, UserFactory
from tests.factories.monitoring import claimed_loan, monitoring_consent, months_back

pytestmark = pytest.mark.smoke


def _history(borrower_id: int, *, months=range(27, 3, -1), kwh="1000") -> None:
    for back in months:
        DataRecordFactory(
            borrower_id=borrower_id, source="electricity", period=months_back(back), kwh=Decimal(kwh)
        )


def _push(client, session, borrower, kwh: str) -> None:
    provider, secret = create_provider(session, name="国网吉安供电公司", source="electricity")
    records = [
        {"uscc": borrower.uscc, "period": months_back(back), "kwh": kwh, "bill_amount": "136"}
        for back in (3, 2, 1)
    ]
    raw = json.dumps({"records": records}).encode()
    ts = str(int(time.time()))
    response = client.post(
        "/api/v1/data/electricity/records",
        data=raw,
        headers={"X-Provider-Key": provider.key, "X-Timestamp": ts, "X-Signature": sign(secret, ts, raw),
                 "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["accepted"] == 3


def _world(session, *, monitored: bool = True):
    loan, officer = claimed_loan()
    borrower = session.get(Borrower, loan.borrower_id)
    ConsentFactory(borrower_id=borrower.id, sources=["electricity"])  # 申请评估: lets the data in
    consent = monitoring_consent(loan, sources=["electricity"]) if monitored else None
    _history(borrower.id)
    session.flush()
    return loan, officer, borrower, consent


def _warnings(session, loan_id):
    return session.scalars(select(EarlyWarning).where(EarlyWarning.loan_id == loan_id)).all()


def test_a_push_with_an_80_percent_drop_opens_a_red_warning_for_the_claiming_officer(app, client, session):
    loan, officer, borrower, consent = _world(session)
    applicant = UserFactory(borrower_id=borrower.id)

    _push(client, session, borrower, kwh="200")

    [warning] = _warnings(session, loan.id)
    assert (warning.level, warning.status, warning.officer_id) == ("red", "open", officer.id)
    assert warning.period == months_back(1)
    assert "elec_drop" in warning.rule_codes
    [drop] = [e for e in warning.evidence if e["rule"] == "elec_drop"]
    assert drop["text"].startswith("近3个月用电量 600 千瓦时，去年同期 3,000 千瓦时，同比下降 80.0%")
    assert (drop["current"], drop["baseline"], drop["value"]) == (600.0, 3000.0, -0.8)
    assert warning.ack_due_at > warning.opened_at
    notes = session.scalars(select(Notification).where(Notification.user_id == officer.id)).all()
    assert [n.kind for n in notes] == ["early_warning"]
    assert "红色" in notes[0].data["text"]
    [nudge] = session.scalars(select(Notification).where(Notification.user_id == applicant.id)).all()
    assert nudge.kind == "monitoring_nudge" and "续贷" in nudge.data["text"]
    uses = session.scalars(select(ConsentUse).where(ConsentUse.action == "monitoring")).all()
    assert {u.consent_id for u in uses} == {consent.id}
    assert session.scalar(
        select(MonitoringSignal.value).where(MonitoringSignal.signal == "elec_3m_yoy")
    ) == Decimal("-0.8000")


def test_without_monitoring_consent_no_data_is_used_and_no_warning_opens(app, client, session):
    loan, _officer, borrower, _consent = _world(session, monitored=False)

    _push(client, session, borrower, kwh="200")

    assert _warnings(session, loan.id) == []
    assert session.scalars(select(ConsentUse).where(ConsentUse.action == "monitoring")).all() == []
    assert session.scalars(select(MonitoringSignal)).all() == []


def test_a_consent_for_another_bank_does_not_cover_the_loan(app, client, session):
    loan, _officer, borrower, _consent = _world(session, monitored=False)
    monitoring_consent(loan, sources=["electricity"], recipient_ids=[loan.institution_id + 1000])
    session.flush()

    _push(client, session, borrower, kwh="200")

    assert _warnings(session, loan.id) == []


def test_a_paused_consent_stops_monitoring_and_it_resumes_after(app, client, session, session_factory):
    loan, _officer, borrower, consent = _world(session)
    pause_consent(session, consent, actor_id=None)
    session.commit()
    worker.run_pending(session_factory)

    _push(client, session, borrower, kwh="200")
    assert _warnings(session, loan.id) == []

    resume_consent(session, consent, actor_id=None)
    session.commit()
    worker.run_pending(session_factory)

    [warning] = _warnings(session, loan.id)
    assert warning.level == "red"


def test_running_the_job_twice_opens_one_warning(app, client, session):
    loan, _officer, borrower, _consent = _world(session)
    _push(client, session, borrower, kwh="200")

    assert monitor_borrower(session, borrower.id) == []
    assert len(_warnings(session, loan.id)) == 1


def test_steady_data_opens_nothing(app, client, session):
    loan, _officer, borrower, _consent = _world(session)

    _push(client, session, borrower, kwh="990")

    assert _warnings(session, loan.id) == []


def test_the_officer_acknowledges_acts_and_closes(session):
    warning = EarlyWarningFactory(red=True)
    officer = UserFactory(officer=True, institution_id=warning.institution_id)
    session.flush()

    with pytest.raises(WarningStateError):
        close_warning(session, warning, outcome="resolved", actor_id=officer.id)
    acknowledge_warning(session, warning, actor_id=officer.id)
    with pytest.raises(WarningStateError):
        acknowledge_warning(session, warning, actor_id=officer.id)
    with pytest.raises(InvalidInputError):
        record_action(session, warning, action="ignored", note=None, actor_id=officer.id)
    record_action(session, warning, action="site_visit", note="实地走访：订单减少", actor_id=officer.id)
    close_warning(session, warning, outcome="false_positive", actor_id=officer.id)

    assert (warning.status, warning.action, warning.outcome) == ("closed", "site_visit", "false_positive")
    with pytest.raises(WarningStateError):
        record_action(session, warning, action="contacted", note=None, actor_id=officer.id)


def test_another_institution_cannot_see_a_warning(session):
    warning = EarlyWarningFactory()
    session.flush()

    with pytest.raises(WarningNotFoundError):
        get_warning(session, warning.id, institution_id=warning.institution_id + 1)


def test_an_unacknowledged_warning_is_escalated_to_the_institution_once(session):
    warning = EarlyWarningFactory(ack_due_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    colleague = UserFactory(officer=True, institution_id=warning.institution_id)
    session.flush()

    assert escalate_overdue(session) == [warning]
    assert escalate_overdue(session) == []

    notes = session.scalars(select(Notification).where(Notification.user_id == colleague.id)).all()
    assert [n.kind for n in notes] == ["early_warning_escalated"]
