"""Errors of the guarantees package; each `code` is the API's error code (portal/messages.py words it)."""

from __future__ import annotations

from core.errors import ConflictError


class SchemePausedError(ConflictError):
    """The scheme (or bridge fund) is paused: no new cover or bridge until it is resumed."""

    code = "scheme_paused"


class CommitmentMissingError(ConflictError):
    """A bridge cannot be approved before the bank's signed renewal commitment is on file."""

    code = "commitment_missing"


class LimitExceededError(ConflictError):
    """An amount above a scheme limit (single-borrower cap, share of the commitment, capital left)."""

    code = "limit_exceeded"


class StateError(ConflictError):
    """The step is not allowed from the record's current state."""

    code = "invalid_state"
