"""The monthly report: built from its sections into HTML, the PDF printed from that HTML and a formatted
workbook; Chinese only, no code and no repository path on paper; scheduled once per region and month;
a notification when ready; still served (without PDF) where the PDF cannot be printed."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from core.models import Notification
from stats import monthly, reports
from stats.errors import ReportPdfUnavailableError
from stats.models import Report
from stats.printouts import PdfUnavailableError
from tests.factories import UserFactory
from tests.stats.test_stats_properties import BASE, _loan_need, insert, make_world

MONTH = BASE.strftime("%Y-%m")
TODAY = BASE.date() + dt.timedelta(days=40)
# Words in Latin letters a reader may meet: none but the file formats' names.
ALLOWED_LATIN = {"PDF", "Excel"}


@pytest.fixture
def world(session):
    world = make_world(session)
    insert(session, world, [_loan_need(0, "300000.00"), _loan_need(1, "200000.00"), _loan_need(2, "500000.00"),
                            _loan_need(3, "80000.00"), _loan_need(4, "90000.00", days=3)])  # fmt: skip
    return world


def build(session, region: str = "360800", **kwargs) -> Report:
    report = reports.request_monthly_report(session, month=MONTH, region_code=region, requested_by=None)
    return reports.build_monthly_report(session, report.id, **kwargs)


@pytest.fixture
def no_printing(monkeypatch):
    """For the tests about everything but the PDF: skip WeasyPrint's typesetting (the slow part)."""
    monkeypatch.setattr(reports, "html_pdf", lambda document: b"%PDF-1.7 not printed in this test")


def pdf_pages(report: Report) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(report.pdf)).pages]


def test_the_pdf_reads_in_chinese_with_no_code_and_no_repository_path(session, world):
    report = build(session)
    pages = pdf_pages(report)
    text = "\n".join(pages)
    assert f"吉安市{BASE.year}年{BASE.month}月普惠金融监测报告" in pages[0]
    for title in ("情况摘要", "主要指标", "月度趋势", "县（市、区）排名", "银行看板", "转化漏斗", "首贷与续贷", "明细表",
                  "附录"):  # fmt: skip
        assert title in text, title
    assert f"第 1 页，共 {len(pages)} 页" in pages[0].replace("\n", "")
    assert "117.00" in text  # 1,170,000 yuan of loans in the month, shown in 万元
    latin = set(re.findall(r"[A-Za-z][A-Za-z_]+", text)) - ALLOWED_LATIN
    assert not latin, latin  # no code (first_loan, B0 ...), no English word
    assert not re.search(r"\w+/\w+|\.(?:md|py|html)\b", text)  # no repository path
    assert report.html and "环比" in report.html and "同比" in report.html


def test_a_county_gets_the_same_report_for_its_county(session, world):
    report = build(session, "360802")
    text = "\n".join(pdf_pages(report))
    assert f"吉州区{BASE.year}年{BASE.month}月普惠金融监测报告" in text
    assert "50.00" in text and "117.00" not in text  # 300,000 + 200,000 yuan: its own two loans
    assert "县（市、区）排名" not in text  # a county office sees no other county
    assert "附录" in text


def test_the_workbook_is_formatted_for_an_analyst(session, world, no_printing):
    report = build(session)
    book = load_workbook(io.BytesIO(report.content))
    assert book.sheetnames[0] == "主要指标" and book.sheetnames[-1] == "说明"
    formats: set[str] = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert not (isinstance(cell.value, str) and re.search(r"docs/|\.md\b|\.py\b", cell.value))
                if isinstance(cell.value, int | float) and sheet.title != "说明":
                    formats.add(cell.number_format)
        if sheet.title != "说明":
            assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref, sheet.title
            widths = [sheet.column_dimensions[c].width for c in "AB"]
            assert all(w and w >= 8 for w in widths), (sheet.title, widths)
    assert {"#,##0", "#,##0.00", "0.00%"} <= formats
    ranking = book["县（市、区）排名"]
    header = [c.value for c in ranking[1]]
    assert ranking.column_dimensions["B"].width >= len("县（市、区）") * 2  # a Chinese label is not cut
    amount = ranking.cell(row=2, column=header.index("放款金额（元）") + 1)
    assert amount.number_format == "#,##0.00" and amount.value == 580000  # 青原区: 500,000 + 80,000
    notes = {r[0]: r[1] for r in book["说明"].iter_rows(min_row=2, values_only=True) if r[0]}
    assert notes["区域"] == "吉安市" and "首贷户数" in notes


def test_progress_is_committed_section_by_section_and_a_done_report_is_not_rebuilt(
    session, world, no_printing
):
    seen: list[tuple[str, int]] = []
    report = build(session, on_progress=lambda r: seen.append((r.status, r.progress)))
    assert seen[0] == ("running", 0)
    progress = [p for _s, p in seen]
    assert progress == sorted(progress) and len(seen) == len(monthly.SECTIONS) + 1
    assert (report.status, report.progress) == ("done", 100)
    content = report.content
    reports.build_monthly_report(session, report.id, on_progress=lambda r: seen.append(("again", 0)))
    assert report.content == content and seen[-1][0] != "again"


@pytest.fixture
def registry():
    """The report's sections as they were, after the test (registration changes the shared list)."""
    saved = list(monthly.SECTIONS)
    yield monthly.SECTIONS
    monthly.SECTIONS[:] = saved


def test_a_section_is_one_function_and_one_registration(session, world, registry):
    def extra(ctx):
        return monthly.Section("extra", "专项说明", (monthly.Paragraphs(("本月新增担保 3 笔。",)),))

    monthly.register("extra", extra, before="details")
    text = "\n".join(pdf_pages(build(session)))
    assert "专项说明" in text and "本月新增担保 3 笔。" in text
    assert text.index("专项说明") < text.index("明细表", text.index("专项说明"))
    with pytest.raises(ValueError, match="twice"):
        monthly.register("extra", extra)


def test_scheduled_reports_are_queued_once_per_region_and_notify_the_offices(session, world, no_printing):
    city = UserFactory(finance=True, region_code="360800")
    jizhou = UserFactory(finance=True, region_code="360802")
    other = UserFactory(finance=True, region_code="360803")
    today = (BASE + dt.timedelta(days=35)).date()  # a day of the month after the report's
    queued = reports.queue_scheduled_reports(session, today=today)
    assert len(queued) == 14 and {r.month for r in queued} == {MONTH}
    assert reports.queue_scheduled_reports(session, today=today) == []  # the daily run finds them queued
    county = next(r for r in queued if r.region_code == "360802")
    reports.build_monthly_report(session, county.id)
    told = {n.user_id for n in session.query(Notification).filter_by(kind=reports.READY_KIND)}
    assert told == {city.id, jizhou.id} and other.id not in told


def test_without_the_pdf_libraries_the_report_is_still_served(session, world, monkeypatch):
    def unavailable(_document):
        raise PdfUnavailableError("no pango")

    monkeypatch.setattr(reports, "html_pdf", unavailable)
    report = build(session)
    assert report.status == "done" and report.pdf is None and report.html and report.content
    with pytest.raises(ReportPdfUnavailableError):
        reports.report_pdf(session, report.id, viewer_region="360800")
    name, _type, _body = reports.report_file(session, report.id, viewer_region="360800")
    assert name == f"吉惠通普惠金融月度报告_{MONTH}_吉安市.xlsx"
