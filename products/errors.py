"""Errors raised by products services."""

from __future__ import annotations

from core.errors import ConflictError, NotFoundError


class InstitutionNotFoundError(NotFoundError):
    code = "institution_not_found"


class ProductNotFoundError(NotFoundError):
    code = "product_not_found"


class ProductStateError(ConflictError):
    code = "invalid_product_state"
