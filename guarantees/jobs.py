"""Background jobs of the guarantees package (the only module here importing the job runtime): the
maturity radar, the bridges' overdue sweep with the funds' pause rule, and activating approved covers
whose loans have been disbursed. Each opens its own session and is safe to run twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import runtime
from guarantees import bridges, covers, radar

# Once a day at 01:30 Asia/Shanghai (17:30 UTC): the reminders are by the day.
DAILY_UTC = "30 17 * * *"


def send_maturity_reminders() -> int:
    """Remind borrowers of every platform loan 60, 30 and 15 days before it falls due (each once)."""
    with runtime.job_session() as session:
        return radar.send_maturity_reminders(session)


def sweep_overdue_bridges() -> int:
    """Mark bridges past due overdue (or a breach by the bank), alert, and apply each fund's pause rule."""
    with runtime.job_session() as session:
        return bridges.sweep_overdue(session)


def activate_disbursed_covers() -> int:
    """Approved covers whose loans have since been disbursed become active."""
    with runtime.job_session() as session:
        return covers.activate_disbursed_covers(session)


JOBS: dict[str, Callable[..., Any]] = {
    "guarantees_maturity_radar": send_maturity_reminders,
    "guarantees_overdue_bridges": sweep_overdue_bridges,
    "guarantees_activate_covers": activate_disbursed_covers,
}

PERIODIC: tuple[runtime.Periodic, ...] = (
    runtime.Periodic("guarantees_maturity_radar", send_maturity_reminders, cron=DAILY_UTC),
    runtime.Periodic("guarantees_overdue_bridges", sweep_overdue_bridges, cron=DAILY_UTC),
    runtime.Periodic("guarantees_activate_covers", activate_disbursed_covers),
)
