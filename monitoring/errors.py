"""Errors raised by monitoring services."""

from __future__ import annotations

from core.errors import ConflictError, NotFoundError


class WarningNotFoundError(NotFoundError):
    """No such warning, or not one the caller may see."""

    code = "warning_not_found"


class WarningStateError(ConflictError):
    """The warning is not in a state that allows this step."""

    code = "warning_state_conflict"


class RuleNotFoundError(NotFoundError):
    code = "rule_not_found"


class LoanNotFoundError(NotFoundError):
    """No such loan, or not the caller's."""

    code = "loan_not_found"


class MonitoringConsentPausedError(ConflictError):
    """The loan's 贷后监测 consent is paused: it is resumed, not granted a second time."""

    code = "monitoring_consent_paused"
