"""Background jobs of the kernel: delivering the SMS / e-mail outbox. Primitive ids in, own sessions.

A message is claimed and recorded in short transactions of their own, with the send in between and
outside any transaction, so a slow gateway holds no lock and a crash leaves a row the sweep retries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from core import anchors, calendars, notifications, runtime
from core.types import local_today

log = logging.getLogger(__name__)


def deliver_message(message_id: int) -> bool:
    """Send one outgoing message through the configured sender; False if it was not deliverable.

    A sender exception is recorded on the row (retried by the sweep) and not raised.
    """
    with runtime.job_session() as session:
        row = notifications.claim_message(session, message_id)
        if row is None:
            return False
        outbound = notifications.Outbound(id=row.id, channel=row.channel, to=row.to, body=row.body)
    error: str | None = None
    try:
        notifications.load_sender(runtime.settings().message_sender).send(outbound)
    except Exception as exc:  # any gateway failure is one failed attempt, retried by the sweep
        error = f"{type(exc).__name__}: {exc}"
    with runtime.job_session() as session:
        notifications.finish_message(session, message_id, error=error)
    return error is None


def deliver_pending_messages() -> int:
    """The delivery sweep: send every pending message (and any left half-sent by a dead worker)."""
    with runtime.job_session() as session:
        ids = notifications.deliverable_ids(session)
    return sum(1 for message_id in ids if deliver_message(message_id))


def anchor_audit_chain() -> bool:
    """Write the audit chain's head to the anchor file and the log when it has moved (core.anchors)."""
    with runtime.job_session() as session:
        return anchors.anchor_head(session, anchors.anchor_file()) is not None


def load_calendar_years() -> list[int]:
    """Store this year's and next year's working calendar from the packages if not yet loaded, and log a
    warning from 1 November while next year is provisional (the admin page shows the same warning)."""
    today = local_today()
    with runtime.job_session() as session:
        loaded = calendars.ensure_years(session, [today.year, today.year + 1])
        pending = calendars.provisional_warning(session, today=today)
    if pending is not None:
        log.warning("working calendar %s is provisional: load the State Council's arrangement", pending)
    return loaded


JOBS: dict[str, Callable[..., Any]] = {
    notifications.DELIVER_JOB: deliver_message,
    "deliver_pending_messages": deliver_pending_messages,
    "load_calendar_years": load_calendar_years,
    "anchor_audit_chain": anchor_audit_chain,
}

# Every SWEEP_INTERVAL_SECONDS unless a cron is given (core.runtime.Periodic): rq.cron with Redis,
# the app's thread without.
PERIODIC: tuple[runtime.Periodic, ...] = (
    runtime.Periodic("deliver_pending_messages", deliver_pending_messages),
    runtime.Periodic("load_calendar_years", load_calendar_years, cron="5 16 * * *"),  # 00:05 Shanghai
    runtime.Periodic("anchor_audit_chain", anchor_audit_chain, interval=300),
)
# Jobs someone is waiting for run before bulk ones (none here: deliveries are the bulk).
INTERACTIVE: frozenset[str] = frozenset()
