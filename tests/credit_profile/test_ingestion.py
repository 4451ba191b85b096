"""Administrators' CSV/XLSX tables: reading them, and importing all rows or none."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from core.errors import InvalidInputError
from credit_profile.borrowers import today_local
from credit_profile.consents import grant_consent
from credit_profile.ingestion import import_records
from credit_profile.models import ConsentUse, DataRecord
from credit_profile.tables import MAX_TABLE_BYTES, TableRow, read_table
from tests.credit_profile.helpers import month
from tests.factories import BorrowerFactory, make_uscc

pytestmark = pytest.mark.smoke


def xlsx(rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def consent(session, borrower, sources=("tax",), **kwargs):
    return grant_consent(
        session,
        borrower_id=borrower.id,
        sources=list(sources),
        purpose="融资需求匹配",
        expires_on=today_local() + dt.timedelta(days=30),
        actor_id=None,
        **kwargs,
    )


# --- reading tables -------------------------------------------------------------------------------


def test_csv_with_english_headers_and_blank_lines():
    content = (
        "uscc,period,sales,tax_paid,credit_rating,arrears,remark\n"
        '91360802MA35A1B2C3,2025-03,"1,234.50",37.04,a,否,ignored\n'
        ",,,,,,\n"
        "91360802MA35A1B2C3,2025/4,2000,60,B,TRUE,\n"
    ).encode()
    rows = read_table("tax.CSV", content, "tax")
    assert [r.number for r in rows] == [2, 4]
    assert rows[0].values == {
        "uscc": "91360802MA35A1B2C3",
        "period": "2025-03",
        "sales": "1234.50",
        "tax_paid": "37.04",
        "credit_rating": "A",
        "arrears": False,
    }
    assert rows[1].values["period"] == "2025-04"
    assert rows[1].values["arrears"] is True


def test_gbk_csv_with_chinese_headers():
    content = "身份证号码,所属期,用电量（千瓦时）,电费\n360821198001010011,202503,100,68\n".encode("gb18030")
    (row,) = read_table("用电.csv", content, "electricity")
    assert row.values == {
        "id_number": "360821198001010011",
        "period": "2025-03",
        "kwh": "100",
        "bill_amount": "68",
    }


def test_xlsx_cells_keep_their_meaning():
    content = xlsx(
        [
            ("统一社会信用代码", "所属期", "流入", "流出", "月末余额"),
            ("91360802MA35A1B2C3", dt.datetime(2025, 3, 1), 1234.5, 1000, 0.1),
            (None, None, None, None, None),
            ("91360802MA35A1B2C3", "2025-04", 99.99, 0, -20.5),
        ]
    )
    rows = read_table("flow.xlsx", content, "bank_flow")
    assert [r.number for r in rows] == [2, 4]
    assert rows[0].values == {
        "uscc": "91360802MA35A1B2C3",
        "period": "2025-03",
        "inflow": "1234.5",
        "outflow": 1000,
        "end_balance": "0.1",
    }
    assert rows[1].values["end_balance"] == "-20.5"


@pytest.mark.parametrize(
    ("filename", "content", "errors"),
    [
        ("tax.txt", b"uscc,period\n", ["unsupported_type"]),
        ("tax.csv", b"", ["empty"]),
        ("tax.csv", b"uscc,period,sales,tax_paid,credit_rating,arrears\n", ["empty"]),
        (
            "tax.csv",
            b"uscc,sales\nX,1\n",
            [
                "period:missing_column",
                "tax_paid:missing_column",
                "credit_rating:missing_column",
                "arrears:missing_column",
            ],
        ),
        (
            "tax.csv",
            b"period,sales,tax_paid,credit_rating,arrears\n2025-01,1,1,A,0\n",
            ["uscc:missing_column"],
        ),
        ("tax.xlsx", b"PK\x03\x04 not really a workbook", ["unreadable"]),
        ("tax.csv", b"\xff\xfe\x00\x00\x81", ["unreadable"]),
        ("tax.csv", b"x" * (MAX_TABLE_BYTES + 1), ["too_large"]),
    ],
)
def test_unusable_files_are_refused(filename, content, errors):
    with pytest.raises(InvalidInputError) as caught:
        read_table(filename, content, "tax")
    assert caught.value.fields == {"file": errors}


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
        TableRow(number=7, values={"id_number": farmer.id_number[:-1] + "0", "period": "2025-13"}),
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
