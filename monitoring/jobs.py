"""Background jobs of the monitoring package: primitive ids in, own session, safe to run twice.

`FOLLOW_UPS`: once a borrower's score has been recomputed (which every provider push, table import and
consent change queues, credit_profile.rescoring), the same borrower's monitored loans are checked, so
credit_profile never has to import monitoring. `PERIODIC`: the acknowledgement sweep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import runtime
from credit_profile.rescoring import RESCORE_JOB
from monitoring import warnings

MONITOR_JOB = "monitor_borrower"
ESCALATE_JOB = "escalate_early_warnings"


def monitor_borrower(borrower_id: int) -> int:
    """Compute the borrower's monitoring signals and open or raise warnings; returns how many."""
    with runtime.job_session() as session:
        return len(warnings.monitor_borrower(session, borrower_id))


def escalate_early_warnings() -> int:
    """Escalate warnings left unacknowledged past their deadline to their institution."""
    with runtime.job_session() as session:
        return len(warnings.escalate_overdue(session))


JOBS: dict[str, Callable[..., Any]] = {
    MONITOR_JOB: monitor_borrower,
    ESCALATE_JOB: escalate_early_warnings,
}
FOLLOW_UPS: dict[str, tuple[str, ...]] = {RESCORE_JOB: (MONITOR_JOB,)}
PERIODIC: tuple[runtime.Periodic, ...] = (runtime.Periodic(ESCALATE_JOB, escalate_early_warnings),)
INTERACTIVE: frozenset[str] = frozenset()
