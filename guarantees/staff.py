"""Staff of a guarantee company, re-guarantor or fund operator: their accounts carry the guarantor role
and belong to an institution of the guarantor kind (the operator whose queue they work)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.accounts import create_user
from core.errors import InvalidInputError
from core.models import Role, User
from products.models import Institution

OPERATOR_KIND = "guarantor"


def create_operator_staff(
    session: Session, *, username: str, password: str, institution_id: int | None, phone: str | None = None
) -> User:
    """Create a guarantor-role account for a guarantee institution or fund operator. Raises
    InvalidInputError (`institution_id: required`, `not_operator` for a bank or an inactive institution,
    and core.accounts.create_user's codes)."""
    institution = session.get(Institution, institution_id) if institution_id is not None else None
    if institution is None:
        raise InvalidInputError({"institution_id": ["required"]})
    if institution.kind != OPERATOR_KIND or not institution.active:
        raise InvalidInputError({"institution_id": ["not_operator"]})
    return create_user(
        session,
        username=username,
        password=password,
        role=Role.GUARANTOR,
        phone=phone,
        institution_id=institution.id,
    )


def check_operator_move(session: Session, user: User, institution_id: int | None) -> None:
    """A guarantor account moved to another institution must land on one of the guarantor kind. Raises
    InvalidInputError(institution_id=['not_operator'])."""
    if user.role != Role.GUARANTOR or institution_id is None or institution_id == user.institution_id:
        return
    institution = session.get(Institution, institution_id)
    if institution is None or institution.kind != OPERATOR_KIND or not institution.active:
        raise InvalidInputError({"institution_id": ["not_operator"]})
