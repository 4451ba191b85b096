"""What the administrator changes of an institution: its name and kind, and whether it is active.

A deactivated institution's products leave the catalogue and are no longer matched
(matching.dispatch.load_match_context, products.services.list_products), its staff cannot sign in
(core.accounts.authenticate) and their sessions and tokens end at once. Services flush, never commit.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import revoke_user_sessions
from core.errors import InvalidInputError
from core.events import record_event
from core.models import User
from core.reference import INSTITUTION_KINDS
from products.errors import InstitutionNotFoundError
from products.models import Institution


def get_institution(session: Session, institution_id: int) -> Institution:
    """Raises InstitutionNotFoundError."""
    institution = session.get(Institution, institution_id)
    if institution is None:
        raise InstitutionNotFoundError(str(institution_id))
    return institution


def update_institution(
    session: Session,
    institution_id: int,
    *,
    name: str | None = None,
    kind: str | None = None,
    active: bool | None = None,
    actor_id: int,
) -> Institution:
    """Rename, re-kind, deactivate or reactivate an institution; recorded in the audit trail.
    Raises InstitutionNotFoundError, InvalidInputError."""
    institution = get_institution(session, institution_id)
    errors: dict[str, list[str]] = {}
    if kind is not None and kind not in INSTITUTION_KINDS:
        errors["kind"] = ["invalid_choice"]
    if name is not None and not name.strip():
        errors["name"] = ["required"]
    if errors:
        raise InvalidInputError(errors)
    before = {"name": institution.name, "kind": institution.kind, "active": institution.active}
    if name is not None:
        institution.name = name.strip()
    if kind is not None:
        institution.kind = kind
    if active is not None:
        institution.active = active
    after = {"name": institution.name, "kind": institution.kind, "active": institution.active}
    if after == before:
        return institution
    session.flush()
    if before["active"] and not institution.active:
        staff = list(session.scalars(select(User.id).where(User.institution_id == institution.id)))
        if staff:
            revoke_user_sessions(session, staff)
    to_status = "updated"
    if before["active"] != institution.active:
        to_status = "active" if institution.active else "deactivated"
    record_event(
        session,
        entity_type="institution",
        entity_id=institution.id,
        to_status=to_status,
        actor_id=actor_id,
        data={"before": before, "after": after},
    )
    return institution
