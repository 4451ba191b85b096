"""Domain errors shared by every package. The portal maps `code` to an HTTP status and a Chinese message."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose; `code` is the API's snake_case error code."""

    code = "domain_error"

    def __init__(self, detail: str = "", **context: object) -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        self.context = context


class NotFoundError(DomainError):
    code = "not_found"


class PermissionDeniedError(DomainError):
    code = "forbidden"


class ConflictError(DomainError):
    code = "conflict"


class InvalidInputError(DomainError):
    """A rule only a service can check (uniqueness, a reference that must exist) was broken.

    `fields` maps a field name to its error codes.
    """

    code = "validation_error"

    def __init__(self, fields: dict[str, list[str]], detail: str = "") -> None:
        super().__init__(detail or "invalid input")
        self.fields = fields


class AuthenticationError(DomainError):
    code = "invalid_credentials"


class TooManyAttemptsError(DomainError):
    """Refused for a while after too many attempts (HTTP 429); `until` is when it may be tried again."""

    code = "rate_limited"

    def __init__(self, until: object = None, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.until = until
