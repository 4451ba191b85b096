"""Reading administrators' CSV/XLSX tables: encodings, headers, cells, and files refused."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook

from core.errors import InvalidInputError
from credit_profile import tables
from credit_profile.tables import MAX_TABLE_BYTES, read_table

pytestmark = pytest.mark.smoke


def xlsx(rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


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


# --- limits checked before any work (issue 19, item 2) ---------------------------------------------

HEADER = "uscc,period,kwh,bill_amount\n"
ROW = "91360802MA35A1B2C3,2025-03,100,68\n"


def test_blank_rows_count_towards_the_row_limit(monkeypatch):
    monkeypatch.setattr(tables, "MAX_TABLE_ROWS", 10)
    content = (HEADER + ROW + ",,,\n" * 20).encode()
    with pytest.raises(InvalidInputError) as caught:
        read_table("e.csv", content, "electricity")
    assert caught.value.fields == {"file": ["too_many_rows"]}
    gaps = (HEADER + ROW + "\n" * 20 + ROW).encode()  # empty lines are rows of a spreadsheet too
    with pytest.raises(InvalidInputError):
        read_table("e.csv", gaps, "electricity")


def test_an_xlsx_declaring_more_rows_than_allowed_is_refused_before_reading(monkeypatch):
    monkeypatch.setattr(tables, "MAX_TABLE_ROWS", 10)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["uscc", "period", "kwh", "bill_amount"])
    sheet.append(["91360802MA35A1B2C3", "2025-03", 100, 68])
    sheet.cell(row=5000, column=1, value=" ")  # a gap of blank rows down to row 5000
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(InvalidInputError) as caught:
        read_table("e.xlsx", buffer.getvalue(), "electricity")
    assert caught.value.fields == {"file": ["too_many_rows"]}


def test_too_many_cells_in_a_row_are_refused():
    content = (HEADER + "91360802MA35A1B2C3,2025-03,100,68" + ",1" * 5000 + "\n").encode()
    with pytest.raises(InvalidInputError) as caught:
        read_table("e.csv", content, "electricity")
    assert caught.value.fields == {"file": ["too_many_columns"]}


def test_a_long_header_cell_is_refused_without_being_parsed():
    # 80 KB of opening brackets in one header cell made the unit-stripping regex quadratic (24.8 s).
    content = ("uscc,period,kwh,bill_amount," + "(" * 80_000 + "\n" + ROW).encode()
    with pytest.raises(InvalidInputError) as caught:
        read_table("e.csv", content, "electricity")
    assert caught.value.fields == {"file": ["cell_too_long"]}


def test_the_unit_pattern_is_linear():
    # A bracket run without a closing one matches nowhere, and each start position stops at the next
    # bracket: no `.*` to the end of the text and back.
    assert "[^" in tables._UNIT.pattern
    assert tables._header("用电量（千瓦时）") == "kwh" and tables._header("电费(元)") == "bill_amount"


def test_utf8_with_bom_and_gbk_are_both_read():
    text = "身份证号码,所属期,用电量,电费\n360821198001010011,2025-03,100,68\n"
    for content in (b"\xef\xbb\xbf" + text.encode(), text.encode("gbk")):
        (row,) = read_table("e.csv", content, "electricity")
        assert row.values["id_number"] == "360821198001010011"


def test_an_xlsx_that_inflates_beyond_the_limit_is_refused():
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (tables.MAX_INFLATED_BYTES + 1))
    with pytest.raises(InvalidInputError) as caught:
        read_table("e.xlsx", buffer.getvalue(), "electricity")
    assert caught.value.fields == {"file": ["too_large"]}
