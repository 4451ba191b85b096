"""The monthly report's public credit-enhancement and post-loan warning sections: every figure a table
shows (on the page and in the workbook) equals a recomputation from the raw rows; a county's report holds
only its county and none of the scheme-wide tables; the sections reach the HTML, the PDF and the workbook."""

from __future__ import annotations

import datetime as dt
import io
import os
from decimal import ROUND_HALF_UP
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from core.types import SHANGHAI
from guarantees.figures import ALL, TOTAL, Period
from monitoring.models import EarlyWarning
from stats import monthly, reports
from stats.guarantee_tables import GUARANTEE_BY
from stats.monthly_sections import guarantees as sections
from stats.monthly_sections import post_loan
from stats.monthly_sections.base import Paragraphs, TableBlock, wan_label
from stats.windows import Window
from tests.factories import EarlyWarningFactory, LoanFactory
from tests.guarantees.test_figures import (
    COUNTIES,
    PROPERTY,
    bridge_spec,
    cover_spec,
    insert,
    make_world,
    reference,
)

FEWER = settings(PROPERTY, max_examples=15)  # each example builds a report's section: slower than a figure
RENDER_TO = os.environ.get("JIHUITONG_REPORT_PNG")
MONTHS = (dt.date(2026, 1, 1), dt.date(2026, 2, 1))


@pytest.fixture
def schemes(session):
    return make_world()


SHEET_BY = {"按方案": "scheme", "按县": "county", "按担保机构": "guarantor"}


def month(first: dt.date, region: str | None = None) -> Window:
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return Window(first, last, region)


def context(session, window: Window) -> monthly.ReportContext:
    return monthly.ReportContext(session, window, window.last + dt.timedelta(days=5))


def by_hand(kind: str, value: Any) -> str:
    if value is None:
        return "—"
    places = {"amount": D("0.01"), "number": D("0.01"), "share": D("0.1"), "count": D(1)}[kind]
    number = D(value) / 10_000 if kind == "amount" else D(value) * 100 if kind == "share" else D(value)
    text = f"{number.quantize(places, rounding=ROUND_HALF_UP):,}"
    return f"{text}%" if kind == "share" else text


def check_against_rows(session, section: monthly.Section, window: Window) -> int:
    """Every table of the section, row by row, against `reference` (the raw rows recounted); returns the
    number of values compared."""
    compared = 0
    period = Period(window.first, window.last, window.county)
    grouped = ("guarantees", "bridges")
    for table in (t for t in section.sheets if t.name in grouped):
        dimension = next(by for words, by in SHEET_BY.items() if words in table.title)
        expected_covers, expected_bridges = reference(session, period, GUARANTEE_BY[dimension])
        total_covers, total_bridges = reference(session, period, ALL)
        expected = expected_covers if table.name == "guarantees" else expected_bridges
        total = (total_covers if table.name == "guarantees" else total_bridges)[TOTAL]
        assert {row["key"] for row in table.rows} == {*expected, None}, table.title
        for row in table.rows:
            want = total if row["key"] is None else expected[row["key"]]
            for column in table.columns[1:]:
                assert row[column.name] == want[column.name], (table.title, row["label"], column.name)
                compared += 1
    # What the page shows is the same value, formatted by hand here: amounts in 万元 (the header says
    # so), counts with separators, shares in % with one decimal, days with two.
    for block in section.blocks:
        if not isinstance(block, TableBlock) or block.sheet.name not in grouped:
            continue
        by_header = {wan_label(c.label) if c.kind == "amount" else c.label: c for c in block.sheet.columns}
        for j, header in enumerate(block.headers[1:], start=1):
            column = by_header[header]
            assert header.endswith("（万元）") == (column.kind == "amount"), header
            for shown, row in zip(block.rows, block.sheet.rows, strict=True):
                assert shown[j] == by_hand(column.kind, row[column.name]), (block.title, header)
                compared += 1
    return compared


@FEWER
@given(
    covers=st.lists(cover_spec, min_size=1, max_size=6),
    bridges=st.lists(bridge_spec, max_size=5),
    first=st.sampled_from(MONTHS),
    region=st.sampled_from([None, *COUNTIES]),
)
def test_every_figure_of_the_sections_equals_the_raw_rows(session, schemes, covers, bridges, first, region):
    savepoint = session.begin_nested()
    try:
        insert(session, schemes, covers, bridges)
        window = month(first, region)
        ctx = context(session, window)
        found = sections.guarantees(ctx)
        shown = [s for s in (found, sections.bridges(ctx)) if s is not None]
        compared = sum(check_against_rows(session, section, window) for section in shown)
        any_covers, any_bridges = reference(session, Period(window.first, window.last, window.county), ALL)
        assert (compared > 0) == bool(any_covers or any_bridges)
        names = {t.name for s in shown for t in s.sheets}
        titles = {t.title for s in shown for t in s.sheets}
        if region is None:
            assert {"scheme_limits", "cap_monitor"} <= names
            assert "担保与补偿（按县）" in titles
        else:  # a county office: its own county only, and no scheme-wide table
            assert not names & {"scheme_limits", "cap_monitor"}
            assert not any("按县" in title for title in titles)
            said = " ".join(text for b in found.blocks if isinstance(b, Paragraphs) for text in b.items)
            assert "全市报表" in said or "没有政府性融资担保" in said
    finally:
        savepoint.rollback()


def test_a_county_without_covers_says_so_and_shows_nothing_of_the_others(session, schemes):
    insert(session, schemes, [dict(COVER, borrower=1)], [])  # a cover of 青原区 (360803) only
    county = sections.guarantees(context(session, month(MONTHS[0], "360802")))
    assert [b.kind for b in county.blocks] == ["paragraphs"]
    assert "吉州区没有政府性融资担保或风险补偿资金支持的贷款记录" in county.blocks[0].items[0]
    city = sections.guarantees(context(session, month(MONTHS[0])))
    (scheme_sheet,) = [t for t in city.sheets if t.title == "担保与补偿（按方案）"]
    assert scheme_sheet.rows[-1]["balance_in_force"] == D("1000000.00")


COVER = {"scheme": 0, "product": 0, "borrower": 0, "amount": D("1000000.00"), "fee": D("0.008"), "start": 3,
         "term": 3, "end": None, "pay_after": None, "claim_pay_after": None, "recovery": None}  # fmt: skip


# --- post-loan warnings ---------------------------------------------------------------------------

# Instants around the month's end (the window is January 2026), where < and <= part ways.
INSTANTS = st.integers(0, 480).map(
    lambda h: dt.datetime(2026, 1, 22, tzinfo=SHANGHAI) + dt.timedelta(hours=h)
)
HOURS = st.integers(0, 240).map(lambda h: dt.timedelta(hours=h))
warning_spec = st.fixed_dictionaries(
    {
        "loan": st.integers(0, 2),
        "red": st.booleans(),
        "opened": INSTANTS,
        "ack_after": HOURS,
        "acked_after": st.none() | HOURS,
        "closed_after": st.none() | HOURS,
    }
)


def warning_reference(rows: list[EarlyWarning], window: Window, key: str) -> dict[Any, dict[str, Any]]:
    start, end = window.bounds()
    out: dict[Any, dict[str, Any]] = {}
    for w in rows:
        if window.county is not None and w.region_code != window.county:
            continue
        level = "red" if w.level == "red" else "yellow"
        active = w.opened_at < end and (w.closed_at is None or w.closed_at >= end)
        opened = start <= w.opened_at < end
        due = start <= w.ack_due_at < end
        if not (active or opened or due):
            continue
        f = out.setdefault(getattr(w, key), dict.fromkeys(post_loan.FIELDS, 0))
        f[f"active_{level}"] += active
        f[f"opened_{level}"] += opened
        f["due"] += due
        f["kept"] += due and w.acknowledged_at is not None and w.acknowledged_at <= w.ack_due_at
    return out


@PROPERTY
@given(specs=st.lists(warning_spec, min_size=1, max_size=8), region=st.sampled_from([None, *COUNTIES]))
def test_the_warning_section_equals_the_raw_rows(session, schemes, specs, region):
    savepoint = session.begin_nested()
    try:
        loans = [LoanFactory(lead__need__borrower=schemes["borrowers"][i % 2]) for i in range(3)]
        for n, spec in enumerate(specs):
            opened = spec["opened"]
            EarlyWarningFactory(
                loan=loans[spec["loan"]], level="red" if spec["red"] else "yellow", opened_at=opened,
                period=f"2025-{n + 1:02d}",  # one warning per loan and month
                ack_due_at=opened + spec["ack_after"],
                acknowledged_at=None if spec["acked_after"] is None else opened + spec["acked_after"],
                closed_at=None if spec["closed_after"] is None else opened + spec["closed_after"],
                status="open" if spec["closed_after"] is None else "closed",
            )  # fmt: skip
        window = month(MONTHS[0], region)
        section = post_loan.warnings(context(session, window))
        rows = list(session.scalars(select(EarlyWarning)))
        by_bank = warning_reference(rows, window, "institution_id")
        by_county = warning_reference(rows, window, "region_code")
        tables = {t.name: t for t in section.sheets}
        if not by_bank:
            assert not tables and "没有贷后预警记录" in section.blocks[0].items[0]
            return
        assert ("warnings_county" in tables) == (region is None)
        totals = {name: sum(f[name] for f in by_bank.values()) for name in post_loan.FIELDS}
        for name, expected in (("warnings_bank", by_bank), ("warnings_county", by_county)):
            if name not in tables:
                continue
            *items, total = tables[name].rows
            assert total["label"] == "合计" and {n: total[n] for n in post_loan.FIELDS} == totals
            assert len(items) == len(expected)
            for row in items:
                key = next(k for k in expected if {n: row[n] for n in post_loan.FIELDS} == expected[k])
                want = expected.pop(key)
                kept = D(want["kept"]) / D(want["due"]) if want["due"] else None
                assert row["kept_share"] == (kept.quantize(D("0.0001")) if kept is not None else None)
    finally:
        savepoint.rollback()


# --- the whole report -----------------------------------------------------------------------------


def test_the_sections_reach_the_html_the_pdf_and_the_workbook(session, schemes):
    covers = [dict(COVER, start=2), dict(COVER, borrower=1, amount=D("333333.33"), end=("defaulted", 10),
                                          pay_after=3, recovery=(5, D("50000.00")))]  # fmt: skip
    insert(session, schemes, covers, [])
    opened = dt.datetime(2026, 1, 10, 9, tzinfo=SHANGHAI)
    for borrower, level in zip(schemes["borrowers"], ("red", "yellow"), strict=True):
        EarlyWarningFactory(loan=LoanFactory(lead__need__borrower=borrower), level=level, opened_at=opened,
                            ack_due_at=opened + dt.timedelta(days=2), acknowledged_at=opened)  # fmt: skip
    report = reports.request_monthly_report(session, month="2026-01", region_code="360800", requested_by=None)
    report = reports.build_monthly_report(session, report.id)
    for title in ("政府性融资担保与风险补偿", "按方案：业务规模", "按方案：代偿与追偿", "方案额度与放大倍数", "代偿上限监测",
                  "贷后预警（按县）", "按时确认率", "在保笔数、在保余额", "不随借款人逐期还款减少"):  # fmt: skip
        assert title in report.html, title
    assert report.html.index("政府性融资担保与风险补偿") < report.html.index("数据质量提示")
    book = load_workbook(io.BytesIO(report.content))
    sheet = book["担保与补偿（按方案）"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["方案", "在保笔数", "在保余额（元）"] and "平均担保费率" in header
    total = list(sheet[sheet.max_row])
    assert total[0].value == "合计" and total[2].value == 1000000 and total[2].number_format == "#,##0.00"
    assert total[header.index("平均担保费率")].number_format == "0.00%"
    notes = {r[0]: r[1] for r in book["说明"].iter_rows(min_row=2, values_only=True) if r[0]}
    assert "代偿金额、代偿率" in notes and "本期到期额" in notes["代偿金额、代偿率"]
    pdf = PdfReader(io.BytesIO(report.pdf))
    outline = [item.title for item in _flat(pdf.outline)]
    assert any("政府性融资担保与风险补偿" in title for title in outline), outline
    if RENDER_TO:  # to look at the pages: JIHUITONG_REPORT_PNG=/tmp/dir pytest -k reach
        Path(RENDER_TO).mkdir(parents=True, exist_ok=True)
        (Path(RENDER_TO) / "report.pdf").write_bytes(report.pdf)


def _flat(outline: list[Any]) -> list[Any]:
    """The PDF's bookmarks (the headings WeasyPrint makes of h1–h3), nested lists flattened."""
    return [leaf for item in outline for leaf in (_flat(item) if isinstance(item, list) else [item])]
