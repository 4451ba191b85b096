"""Borrowers: registering an applicant's business or farm, validating it, finding it.

Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.events import record_event
from core.identifiers import is_valid_id_number, is_valid_uscc, normalize_code
from core.reference import BORROWER_KINDS, REGIONS, industry_section
from core.types import local_today
from credit_profile.errors import (
    BorrowerNotFoundError,
)
from credit_profile.models import (
    Borrower,
    BorrowerKind,
)

# A registration date before this is a typing error (0001-01-01, 1019 for 2019), not a firm.
EARLIEST_ESTABLISHED = dt.date(1900, 1, 1)


@dataclass
class BorrowerInput:
    kind: str
    name: str
    region_code: str
    industry_code: str
    uscc: str | None = None
    id_number: str | None = None
    established_on: dt.date | None = None
    employees: int | None = None


def validate_borrower(session: Session, data: BorrowerInput) -> dict[str, list[str]]:
    """Field -> error codes for a new borrower (check characters, reference codes, uniqueness)."""
    errors: dict[str, list[str]] = {}

    def add(name: str, code: str) -> None:
        errors.setdefault(name, []).append(code)

    if data.kind not in BORROWER_KINDS:
        add("kind", "invalid_choice")
    if not data.name.strip():
        add("name", "required")
    if data.region_code not in REGIONS:
        add("region_code", "invalid_choice")
    if industry_section(data.industry_code) is None:
        add("industry_code", "invalid_choice")
    if data.kind == BorrowerKind.FARMER:
        if not data.id_number:
            add("id_number", "required")
        elif not is_valid_id_number(data.id_number):
            add("id_number", "invalid_checksum")
        elif session.scalar(select(Borrower.id).where(Borrower.id_number == data.id_number)):
            add("id_number", "taken")
    elif data.kind in BORROWER_KINDS:
        if not data.uscc:
            add("uscc", "required")
        elif not is_valid_uscc(data.uscc):
            add("uscc", "invalid_checksum")
        elif session.scalar(select(Borrower.id).where(Borrower.uscc == data.uscc)):
            add("uscc", "taken")
    if data.established_on is not None and data.established_on > local_today():
        add("established_on", "in_future")
    if data.established_on is not None and data.established_on < EARLIEST_ESTABLISHED:
        add("established_on", "too_early")
    if data.employees is not None and not 0 <= data.employees <= 1_000_000:
        add("employees", "out_of_range")
    return errors


def normalize_identifiers(data: BorrowerInput) -> BorrowerInput:
    """`data` with its identifiers normalised and only the one its kind uses kept (in place)."""
    data.uscc = normalize_code(data.uscc) if data.uscc else None
    data.id_number = normalize_code(data.id_number) if data.id_number else None
    if data.kind == BorrowerKind.FARMER:
        data.uscc = None
    else:
        data.id_number = None
    return data


def identifier_field(kind: str) -> str:
    """The identifier a borrower of this kind is registered by."""
    return "id_number" if kind == BorrowerKind.FARMER else "uscc"


def insert_borrower(
    session: Session, data: BorrowerInput, *, synthetic: bool = False, pending_identifier: str | None = None
) -> Borrower:
    """Write a validated borrower (`pending_identifier`: see Borrower). Raises
    InvalidInputError({<identifier>: ['taken']}) when a concurrent registration took the identifier first."""
    borrower = Borrower(
        kind=data.kind,
        name=data.name.strip(),
        region_code=data.region_code,
        industry_code=data.industry_code.upper(),
        uscc=data.uscc,
        id_number=data.id_number,
        established_on=data.established_on,
        employees=data.employees,
        synthetic=synthetic,
        pending_identifier=pending_identifier,
    )
    try:
        # Added inside the savepoint, so that its rollback takes the row away and the session can go
        # on (credit_profile.registration answers a lost race like any other duplicate).
        with session.begin_nested():
            session.add(borrower)
            session.flush()
    except IntegrityError as exc:
        raise InvalidInputError({identifier_field(data.kind): ["taken"]}) from exc
    return borrower


def register_borrower(session: Session, data: BorrowerInput, *, synthetic: bool = False) -> Borrower:
    """Create a borrower. Identifiers are normalised first. Raises InvalidInputError."""
    normalize_identifiers(data)
    errors = validate_borrower(session, data)
    if errors:
        raise InvalidInputError(errors)
    return insert_borrower(session, data, synthetic=synthetic)


def get_borrower(session: Session, borrower_id: int) -> Borrower:
    """Raises BorrowerNotFoundError."""
    borrower = session.get(Borrower, borrower_id)
    if borrower is None:
        raise BorrowerNotFoundError(str(borrower_id))
    return borrower


def find_borrower(
    session: Session, *, uscc: str | None = None, id_number: str | None = None
) -> Borrower | None:
    if uscc:
        return session.scalar(select(Borrower).where(Borrower.uscc == normalize_code(uscc)))
    if id_number:
        return session.scalar(select(Borrower).where(Borrower.id_number == normalize_code(id_number)))
    return None


def update_borrower_profile(
    session: Session,
    borrower_id: int,
    *,
    name: str,
    established_on: dt.date | None,
    employees: int | None,
    actor_id: int,
) -> Borrower:
    """The applicant corrects their own profile: name, date of establishment, employees. Identifiers,
    kind, county and industry stay (they key the statistics and the check characters); recorded in the
    audit trail. Raises BorrowerNotFoundError, InvalidInputError."""
    borrower = get_borrower(session, borrower_id)
    errors: dict[str, list[str]] = {}
    if not name.strip() or len(name.strip()) > 128:
        errors["name"] = ["required"]
    if established_on is not None and established_on > local_today():
        errors["established_on"] = ["in_future"]
    if established_on is not None and established_on < EARLIEST_ESTABLISHED:
        errors["established_on"] = ["too_early"]
    if employees is not None and not 0 <= employees <= 1_000_000:
        errors["employees"] = ["out_of_range"]
    if errors:
        raise InvalidInputError(errors)
    before = {
        "name": borrower.name,
        "established_on": borrower.established_on.isoformat() if borrower.established_on else None,
        "employees": borrower.employees,
    }
    borrower.name = name.strip()
    borrower.established_on = established_on
    borrower.employees = employees
    session.flush()
    after = {
        "name": borrower.name,
        "established_on": established_on.isoformat() if established_on else None,
        "employees": employees,
    }
    if after != before:
        record_event(
            session,
            entity_type="borrower",
            entity_id=borrower.id,
            to_status="profile_updated",
            actor_id=actor_id,
            data={"changed": sorted(k for k in after if after[k] != before[k])},
        )
    return borrower
