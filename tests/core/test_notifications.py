"""Notifications, the SMS / e-mail outbox and its delivery job (the job outbox: test_outbox.py)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import select

from core import jobs, notifications, runtime
from core.models import MessageStatus, OutboxJob
from core.types import utcnow
from tests.conftest import make_settings
from tests.factories import UserFactory


class RecordingSender:
    sent: list[notifications.Outbound] = []
    failures = 0

    def send(self, message):
        if RecordingSender.failures:
            RecordingSender.failures -= 1
            raise ConnectionError("gateway down")
        RecordingSender.sent.append(message)


@pytest.fixture
def recording(session_factory):
    RecordingSender.sent = []
    RecordingSender.failures = 0
    runtime.bind(
        session_factory, make_settings(message_sender="tests.core.test_notifications:RecordingSender")
    )
    return RecordingSender


def _message(session, key="k1"):
    user = UserFactory()
    row = notifications.queue_message(
        session, channel="sms", to="13912345678", body="您好", dedup_key=key, user_id=user.id
    )
    session.commit()
    return row


def test_a_message_is_written_once_per_key_with_its_delivery_job(session):
    row = _message(session)
    assert notifications.queue_message(session, channel="sms", to="1", body="x", dedup_key="k1") is None
    job = session.scalar(select(OutboxJob).where(OutboxJob.name == notifications.DELIVER_JOB))
    assert job.payload == {"message_id": row.id}
    with pytest.raises(ValueError):
        notifications.queue_message(session, channel="fax", to="1", body="x", dedup_key="k2")


def test_delivery_sends_once_and_records_it(session, recording):
    row = _message(session)
    assert jobs.deliver_message(row.id) is True
    assert jobs.deliver_message(row.id) is False  # already sent: a second run sends nothing
    session.expire_all()
    assert [m.id for m in recording.sent] == [row.id]
    assert (row.status, row.attempts, row.sent_at is not None) == (MessageStatus.SENT, 1, True)


def test_a_failing_gateway_is_retried_by_the_sweep_until_the_attempts_run_out(session, recording):
    row = _message(session)
    recording.failures = 1
    assert jobs.deliver_message(row.id) is False
    session.expire_all()
    assert (row.status, row.attempts) == (MessageStatus.PENDING, 1)
    assert "gateway down" in row.last_error
    assert jobs.deliver_pending_messages() == 1
    session.expire_all()
    assert row.status == MessageStatus.SENT

    doomed = _message(session, key="k2")
    recording.failures = notifications.MAX_SEND_ATTEMPTS
    for _ in range(notifications.MAX_SEND_ATTEMPTS + 2):
        jobs.deliver_pending_messages()
    session.expire_all()
    assert (doomed.status, doomed.attempts) == (MessageStatus.FAILED, notifications.MAX_SEND_ATTEMPTS)


def test_a_message_left_sending_by_a_dead_worker_is_claimed_again_after_a_while(session):
    row = _message(session)
    assert notifications.claim_message(session, row.id) is not None
    assert notifications.claim_message(session, row.id) is None  # being sent
    later = utcnow() + notifications.STUCK_AFTER + dt.timedelta(seconds=1)
    assert notifications.deliverable_ids(session, now=later) == [row.id]
    assert notifications.claim_message(session, row.id, now=later).attempts == 2


def test_the_default_sender_logs_with_the_number_masked(caplog):
    caplog.set_level(logging.INFO, logger="core.notifications")
    sender = notifications.load_sender("core.notifications:LoggingSender")
    sender.send(notifications.Outbound(id=7, channel="sms", to="13912345678", body="测试"))
    assert "139****5678" in caplog.text and "13912345678" not in caplog.text


def test_notifications_are_deduplicated_per_user_and_only_the_owner_reads_them(session):
    alice, bob = UserFactory(), UserFactory()
    first = notifications.notify(session, [alice.id, bob.id, alice.id], kind="x", dedup_key="once")
    assert sorted(n.user_id for n in first) == sorted([alice.id, bob.id])
    assert notifications.notify(session, [alice.id], kind="x", dedup_key="once") == []
    alices = next(n for n in first if n.user_id == alice.id)
    with pytest.raises(notifications.NotificationNotFoundError):
        notifications.mark_read(session, alices.id, user_id=bob.id)
    assert notifications.unread_count(session, alice.id) == 1
    notifications.mark_read(session, alices.id, user_id=alice.id)
    notifications.mark_read(session, alices.id, user_id=alice.id)  # idempotent
    assert notifications.unread_count(session, alice.id) == 0
