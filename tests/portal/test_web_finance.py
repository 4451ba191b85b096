"""The finance offices' pages: every view of the dashboard with its charts and tables, figures linked to
their definitions and to the rows behind them, exports and the monthly report, and the county scope."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import xml.etree.ElementTree as ET

import pytest
from openpyxl import load_workbook

from core.masking import Personal, mask
from core.types import local_today
from stats import breakdowns
from stats.figures import summary
from stats.models import Report, ReportStatus
from stats.windows import Window
from tests.factories import PASSWORD, ReportFactory
from tests.portal.test_api_stats import FROM, TO
from tests.portal.test_web_support import csrf_token, login, text

pytestmark = pytest.mark.smoke

WINDOW = {"from_date": FROM, "to_date": TO}
SECTIONS = ("", "trend", "breakdown", "funnel", "institutions", "maturities")
SVG_ELEMENT = re.compile(r"<svg .*?</svg>", re.S)
LINK = re.compile(r'href="(/finance/(?:drilldown|export)\?[^"]+)"')
ANCHOR = re.compile(r'href="/finance/metrics#([a-z_]+)"')


def day(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def page(client, path: str, **params):
    return client.get(f"/finance/{path}", query_string={**WINDOW, **params})


def links(response) -> list[str]:
    return [html.unescape(link) for link in LINK.findall(response.get_data(as_text=True))]


def test_every_view_renders_its_charts_and_tables(client, data):
    login(client, "city")
    for section in SECTIONS:
        response = page(client, section)
        assert response.status_code == 200, section
        body = response.get_data(as_text=True)
        drawings = SVG_ELEMENT.findall(body)
        assert len(drawings) >= 2, section  # each chart drawn inline for a desktop column and for a phone
        for drawing in drawings:
            root = ET.fromstring(drawing)
            assert root.tag.endswith("svg")
        assert "<table" in body and "图表数据见下表" in body, section
        assert "file_format=csv" in body and "file_format=xlsx" in body, section


def test_figures_link_to_definitions_that_exist(client, data):
    login(client, "city")
    definitions = client.get("/finance/metrics").get_data(as_text=True)
    ids = set(re.findall(r'id="([a-z_]+)"', definitions))
    seen = set()
    for section in SECTIONS:
        anchors = ANCHOR.findall(page(client, section).get_data(as_text=True))
        assert anchors, section
        seen.update(anchors)
    assert seen <= ids, seen - ids
    assert {"inclusive_loans", "first_loan_borrowers", "renewal_loans", "institutions", "maturities"} <= seen


def test_overview_shows_the_summary_and_both_inclusive_lines(client, session, data):
    login(client, "city")
    body = text(page(client, ""))
    figures = summary(session, Window(first=day(FROM), last=day(TO)))
    assert figures["loans"] == 5
    assert "人民银行口径" in body and "金融监管总局口径" in body
    assert "考核指标与去年同期" in body and "去年同期" in body
    row = re.search(r"放款笔数.*?<td class=\"num\"><a [^>]*>(\d+)</a>", body, re.S)
    assert row and int(row.group(1)) == figures["loans"]


def test_every_drill_and_export_link_answers_and_counts_add_up(client, session, data):
    login(client, "city")
    checked = 0
    for section in SECTIONS:
        for link in links(page(client, section)):
            response = client.get(link)
            assert response.status_code == 200, (link, text(response)[:300])
            checked += 1
    assert checked > 50
    breakdown = page(client, "breakdown", by="county")
    window = Window(first=day(FROM), last=day(TO))
    expected = {
        item["key"]: item["loans"] for item in breakdowns.breakdown(session, window, "county")["items"]
    }
    drilled = {}
    for link in links(breakdown):
        if "figure=loans&" in link + "&" and "key=" in link:
            key = re.search(r"key=(\d+)", link).group(1)
            drilled[key] = int(re.search(r"共 (\d+) 条", text(client.get(link))).group(1))
    assert drilled and all(drilled[key] == expected[key] for key in drilled)
    assert sum(drilled.values()) == 5


def test_drilldown_masks_identities_and_pages(client, data):
    login(client, "city")
    response = page(client, "drilldown", figure="loans")
    body = text(response)
    assert response.status_code == 200 and "共 5 条" in body
    for borrower in data["borrowers"]:
        for identifier in (borrower.uscc, borrower.id_number):
            if identifier:
                assert identifier not in body
        if borrower.kind == "farmer":
            assert borrower.name not in body
    masked = [
        mask(Personal.USCC, b.uscc) if b.uscc else mask(Personal.ID_NUMBER, b.id_number)
        for b in data["borrowers"][:2]
    ]
    assert all(m in body for m in masked)
    for bad, message in (({"figure": "nonsense"}, "指标无效"), ({"figure": "needs", "by": "institution", "key": "B0"},
                         "该指标不能按此维度细分"), ({"figure": "loans", "page": "0"}, "页码无效"),
                         ({"figure": "loans", "by": "county"}, "此项必填")):  # fmt: skip
        response = page(client, "drilldown", **bad)
        assert response.status_code == 422, bad
        assert message in text(response), (bad, text(response)[-800:])


def test_county_office_is_held_to_its_county_everywhere(client, data):
    login(client, "jizhou")
    others = {b.name for b in data["borrowers"] if b.region_code != "360802"}
    for section in SECTIONS:
        own = page(client, section)
        assert own.status_code == 200, section
        assert page(client, section, region_code="360803").status_code == 403, section
        assert page(client, section, region_code="360800").status_code == 403, section
    drill = page(client, "drilldown", figure="loans")
    assert drill.status_code == 200 and not any(name in text(drill) for name in others)
    assert page(client, "drilldown", figure="loans", by="county", key="360803").status_code == 403
    assert page(client, "export", table="summary", file_format="csv", region_code="360803").status_code == 403
    exported = page(client, "export", table="drilldown", figure="loans", file_format="csv")
    assert exported.status_code == 200
    content = exported.get_data().decode("utf-8-sig")
    assert "吉州区" in content and "青原区" not in content
    assert not any(name in content for name in others)


def test_web_exports_carry_chinese_headers_and_filters(client, data):
    login(client, "city")
    response = page(client, "export", table="institutions", file_format="xlsx", region_code="360803")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.get_data()))
    conditions = {row[0]: row[1] for row in book["说明"].iter_rows(min_row=2, values_only=True)}
    assert conditions["统计区间"] == f"{FROM} 至 {TO}" and conditions["区域"] == "青原区"
    assert [c.value for c in book[book.sheetnames[0]][1]][:2] == ["金融机构", "推送线索数"]
    rows = list(csv.reader(io.StringIO(page(client, "export", table="funnel", file_format="csv")
                                       .get_data().decode("utf-8-sig"))))  # fmt: skip
    assert any(r and r[0] == "口径" for r in rows)
    bad = page(client, "export", table="breakdown", file_format="csv")
    assert bad.status_code == 422 and "此项必填" in text(bad)
    assert page(client, "export", table="nope", file_format="csv").status_code == 422
    assert page(client, "export", table="summary", file_format="pdf").status_code == 422


def test_monthly_report_from_the_page(csrf_app, session, data):
    client = csrf_app.test_client()
    login_page = client.get("/login")
    client.post(
        "/login", data={"username": "city", "password": PASSWORD, "csrf_token": csrf_token(login_page)}
    )
    form = client.get("/finance/reports")
    assert form.status_code == 200
    refused = client.post("/finance/reports", data={"month": "2025-12"})
    assert refused.status_code == 400
    assert session.query(Report).count() == 0
    bad = client.post("/finance/reports", data={"month": "2025-13", "csrf_token": csrf_token(form)})
    assert bad.status_code == 422 and "月份格式应为" in text(bad)
    done = client.post("/finance/reports", data={"month": "2025-12", "region_code": "360802",
                                                  "csrf_token": csrf_token(form)})  # fmt: skip
    assert done.status_code == 302
    listing = client.get("/finance/reports")
    report = session.query(Report).one()
    assert report.status == ReportStatus.DONE  # no Redis here: the job ran in-process after the commit
    assert f'href="/finance/reports/{report.id}"' in listing.get_data(as_text=True)
    assert 'http-equiv="refresh"' not in listing.get_data(as_text=True)
    download = client.get(f"/finance/reports/{report.id}")
    assert download.status_code == 200
    assert "主要指标" in load_workbook(io.BytesIO(download.get_data())).sheetnames

    queued = ReportFactory(month="2025-11", progress=40, created_at=report.created_at)
    waiting = client.get("/finance/reports").get_data(as_text=True)
    assert 'http-equiv="refresh"' in waiting and 'value="40"' in waiting
    assert client.get(f"/finance/reports/{queued.id}").status_code == 409


def test_county_office_reports_are_its_own(client, session, data):
    city_report = ReportFactory(done=True)
    login(client, "jizhou")
    assert client.get(f"/finance/reports/{city_report.id}").status_code == 404
    assert "2025-12" not in text(client.get("/finance/reports"))
    refused = client.post("/finance/reports", data={"month": "2025-12", "region_code": "360803"})
    assert refused.status_code == 403
    assert session.query(Report).count() == 1


def test_other_roles_cannot_open_the_finance_pages(client, data):
    assert client.get("/finance/").status_code == 302  # to the login page
    login(client, "officer")
    for path in ("", "trend", "drilldown?figure=loans", "export?table=summary", "reports", "metrics"):
        assert client.get(f"/finance/{path}").status_code == 403, path


def test_garbage_in_the_query_string_is_a_chinese_422(client, data):
    login(client, "city")
    for params in ({"from_date": "2025-02-30"}, {"to_date": "１２３"}, {"from_date": "0001-01-01"},
                   {"by": "<script>"}, {"region_code": "999999"}):  # fmt: skip
        response = client.get("/finance/breakdown", query_string={**WINDOW, **params})
        assert response.status_code == 422, params
        assert "<script>" not in response.get_data(as_text=True)


def test_drilldown_pages_through_the_rows(client, data, monkeypatch):
    monkeypatch.setattr("portal.web.finance.PER_PAGE", 2)
    login(client, "city")
    first = text(page(client, "drilldown", figure="loans"))
    assert "共 5 条" in first and "第 1 / 3 页" in first and "下一页" in first and "上一页" not in first
    last = text(page(client, "drilldown", figure="loans", page="3"))
    assert "第 3 / 3 页" in last and "上一页" in last and "下一页" not in last
    ids = [set(re.findall(r"<td>(\d+)</td>\s*</tr>", text(page(client, "drilldown", figure="loans", page=str(n)))))
           for n in (1, 2, 3)]  # fmt: skip
    assert [len(i) for i in ids] == [2, 2, 1] and len(set().union(*ids)) == 5


def test_the_default_period_is_the_last_complete_month_with_presets(client, data):
    login(client, "city")
    today = local_today()
    last = today.replace(day=1) - dt.timedelta(days=1)
    body = text(client.get("/finance/"))
    assert f"{last.replace(day=1)} 至 {last}" in body  # not month-to-date: never a near-empty first screen
    for preset in ("上月", "本季", "本年", "近12个月", "自定义"):
        assert preset in body
    assert 'aria-current="true">上月' in body
    year = text(client.get("/finance/trend", query_string={"period": "year"}))
    assert f"{today.replace(month=1, day=1)} 至 {today}" in year
    custom = text(client.get("/finance/trend", query_string={"period": "custom", **WINDOW}))
    assert f"{FROM} 至 {TO}" in custom


def test_zeros_and_dashes_are_not_links(client, data):
    login(client, "city")
    body = page(client, "breakdown", by="county").get_data(as_text=True)
    # 吉安县 (360821) has no row at all: its figures are shown, none of them links to an empty list.
    assert "key=360821" not in body
    assert "key=360802" in body
    for link in links(page(client, "breakdown", by="county")):
        if link.startswith("/finance/drilldown"):
            assert "共 0 条" not in text(client.get(link)), link


def test_drilldown_sorts_filters_and_exports_as_shown(client, data):
    login(client, "city")
    ascending = text(page(client, "drilldown", figure="loans", sort="amount", order="asc"))
    amounts = [float(a) * 10000 for a in re.findall(r'<td class="num">([\d.]+)万元</td>', ascending)]
    assert amounts == sorted(amounts) and len(amounts) == 5
    descending = text(page(client, "drilldown", figure="loans", sort="amount", order="desc"))
    assert [
        float(a) * 10000 for a in re.findall(r'<td class="num">([\d.]+)万元</td>', descending)
    ] == amounts[::-1]
    assert 'aria-sort="descending"' in descending
    firm = data["borrowers"][0]
    farmer = next(b for b in data["borrowers"] if b.kind == "farmer")
    filtered = text(page(client, "drilldown", figure="loans", q=firm.name))
    assert "共 1 条" in filtered
    assert "共 0 条" in text(
        page(client, "drilldown", figure="loans", q=farmer.name)
    )  # masked names never match
    exported = page(client, "export", table="drilldown", figure="loans", file_format="csv", sort="amount",
                    order="desc", q="测试")  # fmt: skip
    rows = list(csv.reader(io.StringIO(exported.get_data().decode("utf-8-sig"))))
    column = rows[0].index("金额（元）")
    assert [float(r[column]) for r in rows[1:]] == amounts[::-1]
    assert page(client, "drilldown", figure="loans", sort="nonsense").status_code == 422


def test_county_ranking_lists_the_13_divisions_with_their_change(client, data):
    login(client, "city")
    response = page(client, "ranking", rank_by="loans_amount")
    body = text(response)
    assert response.status_code == 200
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td><th scope=\"row\">([^<]+)</th>", body)
    assert [int(n) for n, _name in rows] == list(range(1, 14))
    assert rows[0][1] == "青原区"  # 580,000 yuan, ahead of 吉州区's 500,000
    assert [name for _n, name in rows[:3]] == ["青原区", "吉州区", "井冈山市"]
    assert "名次变化" in body and "环比" in body
    login(client, "jizhou")
    assert page(client, "ranking").status_code == 403  # it compares every county


def test_quality_flags_on_the_dashboard_link_to_the_rows(client, data):
    login(client, "city")
    overview = text(page(client, ""))
    # The fixture's loans were claimed and approved within a microsecond: all five are flagged.
    assert "认领与审批在同一分钟内登记：5 笔" in overview
    link = re.search(r'href="(/finance/quality\?[^"]*flag=same_minute[^"]*)"', overview).group(1)
    rows = text(client.get(link))  # `text` decoded the entities already
    assert rows.count('class="quality-flag"') == 5


def test_amounts_read_in_wan_zero_included_and_the_12_months_are_complete(client, data):
    login(client, "city")
    empty = page(client, "", region_code="360821").get_data(as_text=True)  # 吉安县: nothing in the window
    assert "0.00万元" in empty and not re.search(r"(?<![\d,.])0\.00元", empty)
    assert "117.00万元" in page(client, "").get_data(as_text=True)  # 1,170,000 yuan of loans
    first_of_month = local_today().replace(day=1)
    last = first_of_month - dt.timedelta(days=1)
    start = first_of_month.replace(year=first_of_month.year - 1)  # twelve whole months, not this one
    twelve = text(client.get("/finance/", query_string={"period": "last_12_months"}))
    assert f"{start} 至 {last}" in twelve


def test_a_figure_shown_in_wan_is_never_named_in_yuan(client, data):
    """The pages print amounts with the `wan` filter, so the figures' names say 万元; the exports keep 元."""
    login(client, "city")
    for section in SECTIONS:
        shown = text(page(client, section))
        assert "（元）" not in shown and "，元）" not in shown, section
    overview = text(page(client, ""))
    assert "放款金额（万元）" in overview and "首贷金额（万元）" in overview
    assert "普惠小微贷款金额（人民银行口径，万元）" in overview
    drill = text(page(client, "drilldown", figure="loans_amount"))
    assert "指标明细 · 放款金额" in drill and "放款金额（万元）" not in drill
    exported = page(client, "export", table="indicators", file_format="csv").get_data().decode("utf-8-sig")
    assert "放款金额（元）" in exported
