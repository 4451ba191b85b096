"""Background jobs of the credit_profile package: primitive ids in, own session, safe to run twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import runtime
from credit_profile import services


def recompute_score(borrower_id: int) -> None:
    """Score the borrower from the data held under active consents now."""
    with runtime.job_session() as session:
        services.compute_score(session, borrower_id)


JOBS: dict[str, Callable[..., Any]] = {services.RESCORE_JOB: recompute_score}
