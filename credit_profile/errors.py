"""Errors raised by credit_profile services."""

from __future__ import annotations

from core.errors import AuthenticationError, ConflictError, NotFoundError, PermissionDeniedError


class BorrowerNotFoundError(NotFoundError):
    code = "borrower_not_found"


class ConsentNotFoundError(NotFoundError):
    code = "consent_not_found"


class ConsentStateError(ConflictError):
    code = "consent_not_active"


class ConsentRequiredError(PermissionDeniedError):
    """The data subject has no active consent covering this read."""

    code = "consent_required"


class SignatureError(AuthenticationError):
    """A provider request that is unsigned, stale, replayed, tampered or for another source."""

    code = "invalid_signature"


class ScorecardNotFoundError(NotFoundError):
    code = "scorecard_not_found"


class ScorecardVersionConflictError(ConflictError):
    """Another artefact is registered under this version, or a concurrent activation won."""

    code = "scorecard_version_conflict"
