"""Importing administrators' CSV/XLSX tables: all rows or none, each use recorded (reading them: test_tables.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.errors import InvalidInputError
from core.types import local_today
from credit_profile.consents import grant_consent
from credit_profile.ingestion import import_records
from credit_profile.models import ConsentUse, DataRecord
from credit_profile.tables import TableRow
from tests.credit_profile.helpers import month
from tests.factories import BorrowerFactory, make_uscc

pytestmark = pytest.mark.smoke


def consent(session, borrower, sources=("tax",), **kwargs):
    return grant_consent(
        session,
        borrower_id=borrower.id,
        sources=list(sources),
        purpose="融资需求匹配",
        expires_on=local_today() + dt.timedelta(days=30),
        actor_id=None,
        **kwargs,
    )


# --- importing -------------------------------------------------------------------------------------


def tax_row(number: int, borrower, period: str, **values) -> TableRow:
    row = {
        "uscc": borrower.uscc,
        "period": period,
        "sales": "50000",
        "tax_paid": "1500",
        "credit_rating": "A",
        "arrears": False,
    }
    row.update(values)
    return TableRow(number=number, values=row)


def wrong_check_char(id_number: str) -> str:
    """The number with a check character that is not its own (a fixed "0" is right one time in eleven)."""
    return id_number[:-1] + ("1" if id_number[-1] == "0" else "0")


def stored(session, borrower) -> dict[str, Decimal]:
    rows = session.scalars(select(DataRecord).where(DataRecord.borrower_id == borrower.id)).all()
    return {r.period: r.sales for r in rows}


def test_a_clean_table_is_imported_and_recorded_as_uses(session):
    borrower = BorrowerFactory()
    granted = consent(session, borrower)
    rows = [tax_row(2, borrower, month(1)), tax_row(3, borrower, month(2), sales="70000.5")]

    result = import_records(session, "tax", rows, actor_id=None)

    assert (result.imported, result.borrower_ids) == (2, {borrower.id})
    assert stored(session, borrower) == {month(1): Decimal("50000.00"), month(2): Decimal("70000.50")}
    uses = session.scalars(select(ConsentUse).where(ConsentUse.borrower_id == borrower.id)).all()
    assert sorted((u.action, u.consent_id, u.allowed, u.detail) for u in uses) == sorted(
        ("import", granted.id, True, p) for p in (month(1), month(2))
    )


def test_importing_again_replaces_the_same_subject_and_month(session):
    borrower = BorrowerFactory()
    consent(session, borrower)
    import_records(session, "tax", [tax_row(2, borrower, month(1))])
    import_records(session, "tax", [tax_row(2, borrower, month(1), sales="1.00")])
    assert stored(session, borrower) == {month(1): Decimal("1.00")}


def test_one_bad_row_stores_nothing_and_every_error_is_named_by_row(session):
    borrower = BorrowerFactory()
    consent(session, borrower, period_from=month(3))
    unconsented = BorrowerFactory()
    farmer = BorrowerFactory(farmer=True)
    rows = [
        tax_row(2, borrower, month(1)),
        tax_row(3, borrower, month(2), sales="12.345", credit_rating="Z"),
        tax_row(4, unconsented, month(1)),
        tax_row(5, borrower, month(4)),
        tax_row(6, borrower, month(1)),
        TableRow(number=7, values={"id_number": wrong_check_char(farmer.id_number), "period": "2025-13"}),
        tax_row(8, borrower, month(-2)),
    ]
    before = session.scalar(select(func.count()).select_from(ConsentUse))

    with pytest.raises(InvalidInputError) as caught:
        import_records(session, "tax", rows)

    assert caught.value.fields == {
        "row 3": ["sales:too_many_decimals", "credit_rating:invalid_choice"],
        "row 4": ["consent:not_active"],
        "row 5": ["consent:period_not_covered"],
        "row 6": ["period:duplicate_in_file"],
        "row 7": [
            "id_number:invalid_checksum",
            "period:invalid_format",
            "sales:required",
            "tax_paid:required",
            "credit_rating:invalid_choice",
            "arrears:not_a_boolean",
        ],
        "row 8": ["period:out_of_range"],
    }
    assert stored(session, borrower) == {}
    assert session.scalar(select(func.count()).select_from(ConsentUse)) == before


def test_unknown_subjects_and_sources(session):
    ghost = TableRow(
        number=2, values={"uscc": make_uscc(987654), "period": month(1), "kwh": 1, "bill_amount": 1}
    )
    with pytest.raises(InvalidInputError) as caught:
        import_records(session, "electricity", [ghost])
    assert caught.value.fields == {"row 2": ["subject:unknown"]}
    with pytest.raises(InvalidInputError) as caught:
        import_records(session, "water", [ghost])
    assert caught.value.fields == {"source": ["invalid_choice"]}
    with pytest.raises(InvalidInputError) as caught:
        import_records(session, "tax", [])
    assert caught.value.fields == {"file": ["empty"]}
