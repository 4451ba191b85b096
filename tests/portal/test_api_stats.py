"""The monitoring API: scope (a county office sees only its county), exports, drill-down masking, reports."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from core.masking import Personal, mask
from tests.factories import PASSWORD, ReportFactory
from tests.stats.test_stats_properties import BASE

pytestmark = pytest.mark.smoke

FROM, TO = BASE.date().isoformat(), (BASE.date() + dt.timedelta(days=60)).isoformat()
WINDOW = f"from={FROM}&to={TO}"
ENDPOINTS = (
    "/api/v1/stats/summary",
    "/api/v1/stats/timeseries",
    "/api/v1/stats/breakdown?by=county&",
    "/api/v1/stats/funnel",
    "/api/v1/stats/institutions",
    "/api/v1/stats/indicators",
    "/api/v1/stats/maturities",
    "/api/v1/stats/drilldown?figure=loans&",
    "/api/v1/stats/export?table=summary&",
)


def url(endpoint: str, extra: str = "") -> str:
    sep = "" if endpoint.endswith("&") else "?"
    return f"{endpoint}{sep}{WINDOW}{extra}"


def token(client, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def test_openapi_documents_the_monitoring_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/stats/timeseries", "/api/v1/stats/breakdown", "/api/v1/stats/funnel",
                 "/api/v1/stats/institutions", "/api/v1/stats/maturities", "/api/v1/stats/drilldown",
                 "/api/v1/stats/indicators", "/api/v1/stats/export", "/api/v1/reports/monthly",
                 "/api/v1/reports/{report_id}", "/api/v1/reports/{report_id}/download"):  # fmt: skip
        assert path in paths, path
    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert "first_loan_share" in schema["BreakdownItem"]["properties"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_county_office_gets_403_outside_its_county_and_200_inside(client, data, endpoint):
    county = token(client, "jizhou")
    outside = client.get(url(endpoint, "&region_code=360803"), headers=county)
    assert outside.status_code == 403, outside.get_data(as_text=True)[:300]
    assert outside.get_json()["error"]["code"] == "forbidden"
    assert client.get(url(endpoint, "&region_code=360800"), headers=county).status_code == 403
    assert client.get(url(endpoint), headers=county).status_code == 200
    assert client.get(url(endpoint, "&region_code=360802"), headers=county).status_code == 200
    assert client.get(url(endpoint), headers=token(client, "officer")).status_code == 403
    assert client.get(url(endpoint)).status_code == 401


def test_city_office_sees_every_county_and_county_office_only_its_own(client, data):
    city = client.get(url("/api/v1/stats/breakdown?by=county&"), headers=token(client, "city")).get_json()
    loans = {item["key"]: item["loans"] for item in city["items"]}
    assert (loans["360802"], loans["360803"], loans["360881"], loans["360821"]) == (2, 2, 1, 0)
    assert city["total"]["loans"] == 5
    county = client.get(url("/api/v1/stats/breakdown?by=county&"), headers=token(client, "jizhou")).get_json()
    assert [item["key"] for item in county["items"]] == ["360802"]
    assert county["region_code"] == "360802" and county["total"]["loans"] == 2
    by_bank = client.get(
        url("/api/v1/stats/breakdown?by=institution&"), headers=token(client, "jizhou")
    ).get_json()
    assert by_bank["items"][0]["needs"] is None  # needs are no one bank's
    assert sum(item["loans"] for item in by_bank["items"]) == 2


def test_drilldown_masks_identifiers_and_respects_the_county(client, data):
    city = token(client, "city")
    body = client.get(url("/api/v1/stats/drilldown?figure=loans&", "&per_page=10"), headers=city).get_json()
    assert body["total"] == 5
    borrowers = {b.id: b for b in data["borrowers"]}
    for item in body["items"]:
        borrower = borrowers[item["borrower"]["id"]]
        assert item["borrower"]["uscc"] == mask(Personal.USCC, borrower.uscc)
        assert item["borrower"]["id_number"] == mask(Personal.ID_NUMBER, borrower.id_number)
        if borrower.kind == "farmer":
            assert item["borrower"]["name"] == mask(Personal.NAME, borrower.name) != borrower.name
        else:
            assert item["borrower"]["name"] == borrower.name
    county = token(client, "jizhou")
    mine = client.get(url("/api/v1/stats/drilldown?figure=loans&"), headers=county).get_json()
    assert {item["borrower"]["region_code"] for item in mine["items"]} == {"360802"}
    other = client.get(url("/api/v1/stats/drilldown?figure=loans&", "&by=county&key=360803"), headers=county)
    assert other.status_code == 403
    assert client.get(url("/api/v1/stats/drilldown?figure=nonsense&"), headers=city).status_code == 422
    assert (
        client.get(
            url("/api/v1/stats/drilldown?figure=needs&", "&by=institution&key=B0"), headers=city
        ).status_code
        == 422
    )
    bank = client.get(
        url("/api/v1/stats/drilldown?figure=loans&", "&by=institution&key=B0"), headers=city
    ).get_json()
    assert bank["total"] == 5 and {i["institution"]["code"] for i in bank["items"]} == {"B0"}


def _csv_rows(response) -> list[list[str]]:
    text = response.get_data().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_county_export_holds_no_other_county(client, data):
    county = token(client, "jizhou")
    other_names = {b.name for b in data["borrowers"] if b.region_code != "360802"}
    for table in ("drilldown&figure=loans", "breakdown&by=county", "breakdown&by=institution", "timeseries",
                  "institutions", "funnel", "indicators", "summary", "maturities", "drilldown&figure=needs"):  # fmt: skip
        response = client.get(url(f"/api/v1/stats/export?table={table}&format=csv&"), headers=county)
        assert response.status_code == 200, (table, response.get_data(as_text=True)[:300])
        text = response.get_data().decode("utf-8-sig")
        for name in ("青原区", "井冈山市", "吉安县"):
            assert name not in text, (table, name)
        assert not any(name in text for name in other_names)
        # Plain CSV for Excel: the header row first, no comment lines (the window is in the file name).
        assert not text.startswith("#") and "\n#" not in text, table
        assert (
            "吉州区" in response.headers["Content-Disposition"]
            or "%E5%90%89%E5%B7%9E%E5%8C%BA" in (response.headers["Content-Disposition"])
        )
    rows = _csv_rows(
        client.get(url("/api/v1/stats/export?table=drilldown&figure=loans&format=csv&"), headers=county)
    )
    assert rows[0][:3] == ["类型", "编号", "日期"]
    assert len(rows) == 1 + 2  # two loans in 吉州区
    assert {r[3] for r in rows[1:]} == {"已放款"}  # statuses by name, not code


def test_xlsx_export_opens_and_lists_its_filters(client, data):
    city = token(client, "city")
    response = client.get(url("/api/v1/stats/export?table=breakdown&by=kind&format=xlsx&", "&region_code=360803"),
                          headers=city)  # fmt: skip
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.get_data()))
    assert book.sheetnames == ["分组统计", "说明"]
    conditions = {row[0]: row[1] for row in book["说明"].iter_rows(min_row=2, values_only=True)}
    assert conditions["统计区间"] == f"{FROM} 至 {TO}"
    assert conditions["区域"] == "青原区"
    assert conditions["维度"] == "主体类型"
    assert "首贷户数" in conditions and "举例" in conditions["首贷户数"]  # definitions in plain Chinese
    sheet = book["分组统计"]
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["主体类型", "融资需求数"]  # names, not codes
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["小微企业"]["放款笔数"] == 1 and rows["农户"]["放款笔数"] == 1
    assert rows["合计"]["放款金额（元）"] == 580000
    # Formatted as an analyst expects: widths that fit the labels, thousands and percentages, a frozen
    # header with filters; no repository path anywhere.
    total = sheet.cell(row=len(rows) + 1, column=header.index("放款金额（元）") + 1)
    assert total.number_format == "#,##0.00"
    share = sheet.cell(row=len(rows) + 1, column=header.index("首贷户占比") + 1)
    assert share.number_format == "0.00%" and 0 <= share.value <= 1
    assert sheet.column_dimensions["A"].width >= 10 and sheet.column_dimensions["B"].width >= 12
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    cells = [
        c.value for ws in book.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)
    ]
    assert not any("docs/" in c or ".md" in c for c in cells)


def test_user_text_is_never_a_formula_in_exports(client, data):
    city = token(client, "city")
    csv_text = client.get(url("/api/v1/stats/export?table=drilldown&figure=loans&format=csv&"), headers=city)
    assert "'=HYPERLINK" in csv_text.get_data().decode("utf-8-sig")
    response = client.get(url("/api/v1/stats/export?table=drilldown&figure=loans&format=xlsx&"), headers=city)
    book = load_workbook(io.BytesIO(response.get_data()))
    cells = [
        c for row in book.active.iter_rows(min_row=2) for c in row if str(c.value).startswith("=HYPERLINK")
    ]
    assert cells and all(c.data_type == "s" for c in cells)


def test_export_needs_its_parameters(client, data):
    city = token(client, "city")
    assert client.get(url("/api/v1/stats/export?table=breakdown&"), headers=city).status_code == 422
    assert client.get(url("/api/v1/stats/export?table=drilldown&"), headers=city).status_code == 422
    assert client.get(url("/api/v1/stats/export?table=nope&"), headers=city).status_code == 422
    assert client.get(url("/api/v1/stats/export?table=summary&format=pdf&"), headers=city).status_code == 422


def test_monthly_report_goes_from_queued_to_done_and_downloads(client, session, data):
    city = token(client, "city")
    month = BASE.strftime("%Y-%m")
    response = client.post(
        "/api/v1/reports/monthly", json={"month": month, "region_code": "360802"}, headers=city
    )
    assert response.status_code == 202, response.get_json()
    created = response.get_json()
    assert created["status"] == "queued" and created["progress"] == 0
    # No Redis in this app: the outbox relay ran the job in-process after the request committed.
    status = client.get(f"/api/v1/reports/{created['id']}", headers=city).get_json()
    assert (status["status"], status["progress"]) == ("done", 100)
    assert status["download_url"].endswith(f"/reports/{created['id']}/download")
    download = client.get(status["download_url"], headers=city)
    assert download.status_code == 200
    assert "filename*=UTF-8''" in download.headers["Content-Disposition"]
    told = client.get("/api/v1/notifications", headers=city).get_json()["items"]
    assert any(n["kind"] == "report_ready" and f"{month} 吉州区月度报告已生成" in n["text"] for n in told), (
        told
    )
    book = load_workbook(io.BytesIO(download.get_data()))
    assert book.sheetnames[0] == "主要指标" and book.sheetnames[-1] == "说明"
    assert {"月度趋势", "转化漏斗", "机构响应看板", "按主体类型"} <= set(book.sheetnames)
    key_figures = {r[0]: r[1] for r in book["主要指标"].iter_rows(min_row=2, values_only=True)}
    assert key_figures["放款笔数"] == 2
    notes = {r[0]: r[1] for r in book["说明"].iter_rows(min_row=2, values_only=True)}
    assert notes["月份"] == month and notes["区域"] == "吉州区"

    # The PDF is printed from the report's HTML: the same figures as the workbook.
    pdf = client.get(f"/api/v1/reports/{created['id']}/pdf", headers=city)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"].endswith(".pdf")
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf.get_data())).pages]
    assert "吉州区" in pages[0] and "普惠金融监测报告" in pages[0]
    assert any("主要指标" in page and "放款笔数" in page for page in pages)

    county = token(client, "jizhou")
    assert client.get(f"/api/v1/reports/{created['id']}", headers=county).status_code == 200
    assert client.post("/api/v1/reports/monthly", json={"month": month, "region_code": "360803"},
                       headers=county).status_code == 403  # fmt: skip
    city_report = client.post("/api/v1/reports/monthly", json={"month": month}, headers=city).get_json()
    assert client.get(f"/api/v1/reports/{city_report['id']}", headers=county).status_code == 404
    assert client.get(f"/api/v1/reports/{city_report['id']}/download", headers=county).status_code == 404
    assert client.get(f"/api/v1/reports/{city_report['id']}/pdf", headers=county).status_code == 404
    assert [r["id"] for r in client.get("/api/v1/reports", headers=county).get_json()["items"]] == [
        created["id"]
    ]
    assert client.post("/api/v1/reports/monthly", json={"month": "2026-13"}, headers=city).status_code == 422
    assert client.post("/api/v1/reports/monthly", json={"month": "2099-01"}, headers=city).status_code == 422


def test_report_not_ready_is_a_409(client, session, data):
    report = ReportFactory(running=True)
    response = client.get(f"/api/v1/reports/{report.id}/download", headers=token(client, "city"))
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "report_not_ready"
    response = client.get(f"/api/v1/reports/{report.id}/pdf", headers=token(client, "city"))
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "report_not_ready"


def test_funnel_and_board_and_indicators_shapes(client, data):
    city = token(client, "city")
    funnel = client.get(url("/api/v1/stats/funnel"), headers=city).get_json()
    assert [s["step"] for s in funnel["steps"]] == [
        "needs",
        "matched",
        "claimed",
        "contacted",
        "approved",
        "disbursed",
    ]
    assert [s["count"] for s in funnel["steps"]] == [5, 5, 5, 5, 5, 5]
    assert funnel["steps"][1]["conversion"] == "1.0000"
    board = client.get(url("/api/v1/stats/institutions"), headers=city).get_json()
    bank = next(i for i in board["items"] if i["code"] == "B0")
    assert (bank["leads_pushed"], bank["loans"], bank["approval_rate"], bank["median_hours_to_claim"]) == (
        5, 5, "1.0000", 1.0,
    )  # fmt: skip
    indicators = client.get(url("/api/v1/stats/indicators"), headers=city).get_json()
    first = next(i for i in indicators["items"] if i["code"] == "first_loan_borrowers")
    assert (first["value"], first["previous"], first["growth"]) == ("5", "0", None)
    maturities = client.get("/api/v1/stats/maturities?from=2026-11-01&to=2027-01-31", headers=city).get_json()
    assert sum(i["count"] for i in maturities["items"] if i["source"] == "loans") == 5
