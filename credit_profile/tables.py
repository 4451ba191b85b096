"""Administrators' tables of monthly records (CSV or XLSX) read into rows for `import_records`.

No database and no web framework here: bytes in, rows out. Cell values are normalised the way a
person fills a spreadsheet (Chinese or English headers, ``2025/3`` or a date cell for a month, ``是``/
``否`` for a flag, ``1,234.50`` for an amount, identifiers typed as numbers); everything else is left
for `services.validate_record` to judge, so that a table row and a provider record get the same codes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.errors import InvalidInputError

MAX_TABLE_BYTES = 1024 * 1024
MAX_TABLE_ROWS = 50_000
MAX_COLUMNS = 50
# Checked before any cell is interpreted: every row counts (blank ones too), a row may hold at most
# MAX_ROW_CELLS cells (trailing empty cells of a formatted sheet included), a cell at most
# MAX_CELL_CHARS characters, and an .xlsx may inflate to at most MAX_INFLATED_BYTES.
MAX_ROW_CELLS = 200
MAX_CELL_CHARS = 1000
MAX_INFLATED_BYTES = 32 * 1024 * 1024

SUBJECT_COLUMNS = ("uscc", "id_number")
COLUMNS: dict[str, tuple[str, ...]] = {
    "electricity": ("kwh", "bill_amount"),
    "tax": ("sales", "tax_paid", "credit_rating", "arrears"),
    "bank_flow": ("inflow", "outflow", "end_balance"),
}
AMOUNT_COLUMNS = frozenset({"kwh", "bill_amount", "sales", "tax_paid", "inflow", "outflow", "end_balance"})

# Headers as Chinese spreadsheets name them; matched after stripping spaces and a unit in brackets.
HEADER_ALIASES: dict[str, str] = {
    "统一社会信用代码": "uscc",
    "信用代码": "uscc",
    "身份证号码": "id_number",
    "身份证号": "id_number",
    "所属期": "period",
    "月份": "period",
    "期间": "period",
    "用电量": "kwh",
    "电费": "bill_amount",
    "电费金额": "bill_amount",
    "销售额": "sales",
    "申报销售额": "sales",
    "已缴税额": "tax_paid",
    "缴税金额": "tax_paid",
    "纳税信用等级": "credit_rating",
    "欠税": "arrears",
    "是否欠税": "arrears",
    "流入": "inflow",
    "入账金额": "inflow",
    "流出": "outflow",
    "出账金额": "outflow",
    "月末余额": "end_balance",
}
_TRUE = frozenset({"true", "1", "yes", "y", "是", "有"})
_FALSE = frozenset({"false", "0", "no", "n", "否", "无"})
_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")
_COMPACT_MONTH = re.compile(r"^(\d{4})(\d{2})$")
# A unit in brackets at the end of a header ("用电量（千瓦时）"). No `.*`: a run of opening brackets
# without a closing one used to make this quadratic (80 KB of "(" took 25 s).
_UNIT = re.compile(r"[（(][^（()）]*[)）]$")


@dataclass(frozen=True)
class TableRow:
    """One data row: ``number`` as a spreadsheet shows it (the header is row 1) and its cells by column."""

    number: int
    values: Mapping[str, object]


def read_table(filename: str, content: bytes, source: str) -> list[TableRow]:
    """The rows of a ``.csv`` (UTF-8 or GB18030) or ``.xlsx`` (first sheet) table for ``source``.

    Blank rows are skipped; columns other than the subject, ``period`` and the source's fields are
    ignored. Raises InvalidInputError on ``file`` with ``unsupported_type``, ``too_large``,
    ``unreadable``, ``empty``, ``too_many_rows`` (blank rows count), ``too_many_columns``,
    ``cell_too_long`` or ``<column>:missing_column``.
    """
    if source not in COLUMNS:
        raise InvalidInputError({"source": ["invalid_choice"]})
    if len(content) > MAX_TABLE_BYTES:
        raise InvalidInputError({"file": ["too_large"]})
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix == "csv":
        raw = _csv_rows(content)
    elif suffix == "xlsx":
        raw = _xlsx_rows(content)
    else:
        raise InvalidInputError({"file": ["unsupported_type"]})
    return _rows(raw, source)


def _csv_rows(content: bytes) -> Iterator[Sequence[object]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        try:
            # Materialised here so that a malformed file fails inside this try, not later.
            return iter(list(csv.reader(io.StringIO(text, newline=""))))
        except csv.Error as exc:
            raise InvalidInputError({"file": ["unreadable"]}) from exc
    raise InvalidInputError({"file": ["unreadable"]})


def _inflated_size(content: bytes) -> int:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidInputError({"file": ["unreadable"]}) from exc


def _xlsx_rows(content: bytes) -> Iterator[Sequence[object]]:
    # openpyxl is imported here so that the web app loads it only for an actual upload.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    if _inflated_size(content) > MAX_INFLATED_BYTES:
        raise InvalidInputError({"file": ["too_large"]})
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, TypeError, OSError) as exc:
        raise InvalidInputError({"file": ["unreadable"]}) from exc
    sheet = workbook.worksheets[0] if workbook.worksheets else None
    if sheet is None:
        workbook.close()
        raise InvalidInputError({"file": ["empty"]})
    # The sheet's declared dimension, before a row is read: a gap of blank rows down to row 1,000,000
    # is refused here rather than iterated.
    declared_rows, declared_columns = sheet.max_row or 0, sheet.max_column or 0
    if declared_rows > MAX_TABLE_ROWS + 1 or declared_columns > MAX_ROW_CELLS:
        workbook.close()
        raise InvalidInputError(
            {"file": ["too_many_rows" if declared_rows > MAX_TABLE_ROWS + 1 else "too_many_columns"]}
        )

    def rows() -> Iterator[Sequence[object]]:
        try:
            yield from sheet.iter_rows(values_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
            raise InvalidInputError({"file": ["unreadable"]}) from exc
        finally:
            workbook.close()

    return rows()


def _header(cell: object) -> str:
    text = "" if cell is None else str(cell).strip().replace(" ", "").replace("\u3000", "")
    text = _UNIT.sub("", text)
    return HEADER_ALIASES.get(text, text.lower())


def _rows(raw: Iterator[Sequence[object]], source: str) -> list[TableRow]:
    header: list[str] | None = None
    wanted = (*SUBJECT_COLUMNS, "period", *COLUMNS[source])
    rows: list[TableRow] = []
    for number, cells in enumerate(raw, start=1):
        # Every row counts, blank ones included, and is measured before its cells are looked at.
        if number > MAX_TABLE_ROWS + 1:
            raise InvalidInputError({"file": ["too_many_rows"]})
        if len(cells) > MAX_ROW_CELLS:
            raise InvalidInputError({"file": ["too_many_columns"]})
        if any(isinstance(cell, str) and len(cell) > MAX_CELL_CHARS for cell in cells):
            raise InvalidInputError({"file": ["cell_too_long"]})
        if _blank(cells):
            continue
        if header is None:
            header = [_header(cell) for cell in cells[:MAX_COLUMNS]]
            missing = [name for name in ("period", *COLUMNS[source]) if name not in header]
            if not any(name in header for name in SUBJECT_COLUMNS):
                missing.insert(0, "uscc")
            if missing:
                raise InvalidInputError({"file": [f"{name}:missing_column" for name in missing]})
            continue
        values: dict[str, object] = {}
        for name, cell in zip(header, cells, strict=False):
            if name in wanted and name not in values:
                values[name] = _cell(name, cell)
        rows.append(TableRow(number=number, values=values))
    if header is None or not rows:
        raise InvalidInputError({"file": ["empty"]})
    return rows


def _blank(cells: Iterable[object]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _cell(name: str, cell: object) -> object:
    """A spreadsheet cell as a provider would have sent it in JSON (None for an empty cell)."""
    if isinstance(cell, str):
        cell = cell.strip()
        if not cell:
            return None
    if cell is None:
        return None
    if name in SUBJECT_COLUMNS:
        return str(cell) if isinstance(cell, int) and not isinstance(cell, bool) else cell
    if name == "period":
        return _period(cell)
    if name == "arrears":
        return _flag(cell)
    if name == "credit_rating" and isinstance(cell, str):
        return cell.upper()
    if name in AMOUNT_COLUMNS:
        return _amount(cell)
    return cell


def _period(cell: object) -> object:
    if isinstance(cell, dt.date):  # also datetime: a month typed into Excel becomes its first day
        return f"{cell.year:04d}-{cell.month:02d}"
    text = str(cell)
    match = _MONTH.match(text) or _COMPACT_MONTH.match(text)
    if match is None:
        return text
    return f"{match[1]}-{int(match[2]):02d}"


def _flag(cell: object) -> object:
    if isinstance(cell, bool):
        return cell
    text = str(cell).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return cell


def _amount(cell: object) -> object:
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, float):
        # Spreadsheets store binary floats; 1234.5 typed in a cell must stay 1234.50, not 1234.4999...
        return str(Decimal(repr(cell)))
    if isinstance(cell, str):
        return cell.replace(",", "").replace("，", "")
    return cell
