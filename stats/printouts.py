"""A monthly report as PDF: the workbook `stats.exports.to_xlsx` made, drawn as pages to print or file.

The PDF is made from the stored workbook whenever it is asked for, so both files always hold the same
figures and nothing new is stored. Pure computation, no I/O.

Chinese text uses ReportLab's built-in CID font STSong-Light (Adobe-GB1): no font file is needed on the
server and none is embedded; every PDF reader in use in China (WPS, Foxit, Adobe with its Chinese font
pack, the browsers' viewers) draws it with its own Song typeface. A table wider than the page is split
into column groups, each repeating the columns that name the row (its code and name), and its header
row is repeated on every page.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, TableStyle
from reportlab.platypus import Table as PdfTable

from core.i18n import N_

PDF_TYPE = "application/pdf"
FONT = "STSong-Light"
FONT_SIZE = 7.5
PAGE = landscape(A4)
MARGIN = 12 * mm
CELL_PADDING = 8  # points: 3 left, 3 right, and 2 so that a column as wide as its text never wraps it
MAX_COLUMN = 160  # points: a longer label wraps rather than taking the page
# Leading columns with these headers name the row and lead every column group of a wide table.
KEY_HEADERS = frozenset({N_("代码"), N_("名称"), N_("机构代码"), N_("机构名称")})

pdfmetrics.registerFont(UnicodeCIDFont(FONT))
_TITLE = ParagraphStyle("title", fontName=FONT, fontSize=15, leading=20, spaceAfter=8)
_HEADING = ParagraphStyle("heading", fontName=FONT, fontSize=11, leading=15, spaceBefore=4, spaceAfter=4)
_CELL = ParagraphStyle("cell", fontName=FONT, fontSize=FONT_SIZE, leading=FONT_SIZE + 2)
_NUMBER = ParagraphStyle("number", parent=_CELL, alignment=TA_RIGHT)


def workbook_pdf(content: bytes, *, title: str) -> bytes:
    """The workbook as a landscape A4 PDF: the title and the sheet of conditions first (the workbook's
    last sheet), then every other sheet as a table under its name. Raises ValueError if `content` is
    not a workbook."""
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors alike
        raise ValueError("not a workbook") from exc
    sheets = [(sheet.title, [list(row) for row in sheet.iter_rows(values_only=True)]) for sheet in workbook]
    workbook.close()
    if not sheets:
        raise ValueError("an empty workbook")
    *tables, (conditions_title, conditions) = sheets
    story: list[Flowable] = [Paragraph(_escape(title), _TITLE)]
    story += _table(conditions_title, conditions)
    for name, rows in tables:
        story.append(PageBreak())
        story += _table(name, rows)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        creator="吉惠通",
    )
    document.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()


def _table(name: str, rows: Sequence[Sequence[Any]]) -> list[Flowable]:
    rows = [row for row in rows if any(cell not in (None, "") for cell in row)]
    if not rows:
        return [Paragraph(_escape(name), _HEADING), Paragraph(N_("（无数据）"), _CELL)]
    texts = [[_text(cell) for cell in row] for row in rows]
    widths = [
        min(MAX_COLUMN, max(pdfmetrics.stringWidth(row[j], FONT, FONT_SIZE) for row in texts) + CELL_PADDING)
        for j in range(len(texts[0]))
    ]
    parts: list[Flowable] = []
    keys = 1
    while keys < len(texts[0]) - 1 and texts[0][keys - 1] in KEY_HEADERS and texts[0][keys] in KEY_HEADERS:
        keys += 1
    groups = _column_groups(widths, PAGE[0] - 2 * MARGIN, keys=keys)
    for n, group in enumerate(groups, start=1):
        heading = name if len(groups) == 1 else f"{name}（{n}/{len(groups)}）"
        data = [
            [Paragraph(_escape(texts[i][j]), _NUMBER if _numeric(rows[i][j]) else _CELL) for j in group]
            for i in range(len(rows))
        ]
        table = PdfTable(data, colWidths=[widths[j] for j in group], repeatRows=1, hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#c8ccd2")),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef0f3")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 3),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ]
            )
        )
        parts += [Paragraph(_escape(heading), _HEADING), table, Spacer(1, 6)]
    return parts


def _column_groups(widths: Sequence[float], room: float, *, keys: int = 1) -> list[list[int]]:
    """Column indexes per page width: every group starts with the first `keys` columns."""
    lead = list(range(keys))
    groups: list[list[int]] = []
    current, used = list(lead), sum(widths[:keys])
    for j in range(keys, len(widths)):
        if len(current) > keys and used + widths[j] > room:
            groups.append(current)
            current, used = list(lead), sum(widths[:keys])
        current.append(j)
        used += widths[j]
    groups.append(current)
    return groups


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal | float):
        return format(Decimal(str(value)).normalize(), "f")
    return str(value)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _footer(canvas: Any, document: Any) -> None:
    canvas.saveState()
    canvas.setFont(FONT, 7)
    canvas.drawRightString(PAGE[0] - MARGIN, MARGIN / 2, N_("第 %(n)s 页") % {"n": document.page})
    canvas.restoreState()
