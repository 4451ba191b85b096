"""The finance office's exports of public credit enhancement (stats.guarantee_tables through
/api/v1/stats/export and /finance/export): Chinese headers with units, every value equal to a recount of
the raw rows, by county, bank, guarantor and scheme; a county office gets its county only and none of the
scheme-wide tables; documented in OpenAPI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal as D
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from core.reference import REGIONS
from guarantees.figures import ALL, TOTAL, Period
from guarantees.models import Scheme
from products.models import Institution
from stats.guarantee_tables import GUARANTEE_BY, figure_label
from tests.guarantees.test_figures import insert, make_world, reference
from tests.portal.test_api_stats import token
from tests.portal.test_web_support import login

FROM, TO = "2026-01-01", "2026-02-28"
COVERS = [
    {"scheme": s, "product": p, "borrower": b, "amount": amount, "fee": D("0.008"), "start": start, "term": 1,
     "end": end, "pay_after": pay, "claim_pay_after": 2, "recovery": recovery}
    for s, p, b, amount, start, end, pay, recovery in (
        (0, 0, 0, D("1000000.00"), 3, None, None, None),
        (0, 1, 1, D("333333.33"), 5, ("defaulted", 20), 4, (9, D("50000.00"))),
        (1, 0, 1, D("2500000.00"), 10, ("released", 40), None, None),
        (1, 1, 0, D("50000.01"), 30, ("defaulted", 5), None, None),
    )
]  # fmt: skip
BRIDGES = [
    {"product": 0, "borrower": 0, "amount": D("800000.00"), "submitted": 2, "steps": 4, "days": 7,
     "overdue": False, "breach": False},
    {"product": 1, "borrower": 1, "amount": D("400000.00"), "submitted": 20, "steps": 2, "days": 1,
     "overdue": True, "breach": True},
]  # fmt: skip


@pytest.fixture
def covered(session, data):
    world = make_world()
    insert(session, world, COVERS, BRIDGES)
    return world


def export(client, headers, table: str, by: str | None = None, fmt: str = "xlsx", region: str | None = None):
    query = f"/api/v1/stats/export?table={table}&format={fmt}&from={FROM}&to={TO}"
    query += f"&by={by}" if by else ""
    query += f"&region_code={region}" if region else ""
    return client.get(query, headers=headers)


def names(session, by: str) -> dict[Any, str]:
    if by in ("institution", "guarantor"):
        return dict(session.execute(select(Institution.id, Institution.name)).all())
    if by == "scheme":
        return dict(session.execute(select(Scheme.id, Scheme.name)).all())
    return dict(REGIONS)


def expected_rows(session, by: str, table: str, region: str | None) -> dict[str, dict[str, Any]]:
    """The raw rows recounted (tests.guarantees.test_figures.reference), by the row's Chinese name."""
    period = Period(dt.date.fromisoformat(FROM), dt.date.fromisoformat(TO), region)
    covers, bridges = reference(session, period, GUARANTEE_BY[by])
    total_covers, total_bridges = reference(session, period, ALL)
    chosen, total = (covers, total_covers) if table == "guarantees" else (bridges, total_bridges)
    label = names(session, by)
    return {**{label[key]: figures for key, figures in chosen.items()}, "合计": total[TOTAL]}


def sheet_rows(body: bytes) -> tuple[list[str], list[Any], dict[str, dict[str, Any]]]:
    sheet = load_workbook(io.BytesIO(body)).worksheets[0]
    header = [c.value for c in sheet[1]]
    cells = list(sheet.iter_rows(min_row=2))
    rows = {row[0].value: {h: c.value for h, c in zip(header, row, strict=True)} for row in cells}
    return header, cells, rows


@pytest.mark.parametrize("by", ["county", "institution", "guarantor", "scheme"])
@pytest.mark.parametrize("table", ["guarantees", "bridges"])
def test_every_exported_figure_equals_the_raw_rows(client, session, covered, by, table):
    response = export(client, token(client, "city"), table, by)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    header, cells, rows = sheet_rows(response.get_data())
    expected = expected_rows(session, by, table, None)
    assert set(rows) == set(expected)
    codes = list(next(iter(expected.values())))
    for code in codes:
        assert figure_label(code) in header, code
    assert "在保余额（元）" in header or "周转金划出金额（元）" in header  # units beside the amounts
    for name, want in expected.items():
        for code in codes:
            got = rows[name][figure_label(code)]
            assert (None if got is None else D(str(got)).quantize(D("0.0001"))) == (
                None if want[code] is None else D(want[code]).quantize(D("0.0001"))
            ), (name, code)
    amount_column = next(i for i, h in enumerate(header) if h.endswith("（元）"))
    assert cells[0][amount_column].number_format == "#,##0.00"


def test_a_county_office_exports_its_county_only(client, session, covered):
    county = token(client, "jizhou")
    for table in ("guarantees", "bridges"):
        for by in ("county", "scheme", "institution", "guarantor"):
            response = export(client, county, table, by, fmt="csv")
            assert response.status_code == 200
            rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
            got = {row[0]: row for row in rows[1:]}
            assert set(got) == set(expected_rows(session, by, table, "360802")), (table, by)
            if by == "county":
                assert set(got) == {"吉州区", "合计"}
        assert export(client, county, table, "county", region="360803").status_code == 403
    for table in ("scheme_limits", "cap_monitor"):  # a scheme's limits are the whole scheme's
        assert export(client, county, table).status_code == 403
        assert export(client, token(client, "city"), table).status_code == 200


def test_scheme_wide_tables_and_bad_groupings(client, session, covered):
    city = token(client, "city")
    _header, _cells, rows = sheet_rows(export(client, city, "scheme_limits").get_data())
    schemes = {s.name: s for s in session.scalars(select(Scheme))}
    assert set(rows) == set(schemes)
    for name, row in rows.items():
        assert row["资本或资金规模（元）"] == schemes[name].capital
    assert export(client, city, "guarantees", "industry").status_code == 422
    assert export(client, city, "breakdown", "guarantor").status_code == 422
    spec = client.get("/api/v1/openapi.json").get_json()
    parameters = {p["name"]: p for p in spec["paths"]["/api/v1/stats/export"]["get"]["parameters"]}
    assert {"guarantees", "bridges", "scheme_limits", "cap_monitor"} <= set(
        parameters["table"]["schema"]["enum"]
    )
    assert {"guarantor", "scheme"} <= set(parameters["by"]["schema"]["enum"])


def test_the_scheme_page_links_its_exports(client, covered):
    login(client, "city")
    page = client.get("/guarantees/schemes", query_string={"from_date": FROM, "to_date": TO, "by": "bank"})
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "/finance/export?table=guarantees" in body and "by=institution" in body
    link = "/finance/export?table=bridges&file_format=csv&by=scheme&from_date=2026-01-01&to_date=2026-02-28"
    response = client.get(link)
    assert response.status_code == 200
    assert response.get_data().decode("utf-8-sig").splitlines()[0].startswith("方案,周转金申请笔数")


def test_a_small_leverage_is_not_shown_as_nothing(client, session, covered):
    """A scheme with a balance in force against a large capital has a 放大倍数 of a few thousandths: the
    page shows it, not "0.00 倍" (which reads as nothing lent); a scheme with nothing in force, 0.00."""
    for scheme in session.scalars(select(Scheme)):
        scheme.capital = D("10000000000")  # 100 亿元: any balance here is a sliver of it
    session.flush()
    login(client, "city")
    body = client.get("/guarantees/schemes", query_string={"from_date": FROM, "to_date": TO}).get_data(
        as_text=True
    )
    rows = re.findall(r'<td class="num">([\d.,]+)万元</td>\s*<td class="num">([<\d.,]+) 倍（', body)
    in_force = [leverage for balance, leverage in rows if balance != "0.00"]
    assert in_force and "0.00" not in in_force, rows
    assert all(leverage == "0.00" for balance, leverage in rows if balance == "0.00"), rows
    _header, cells, sheet = sheet_rows(export(client, token(client, "city"), "scheme_limits").get_data())
    leverage = [row[_header.index("放大倍数（倍）")] for row in cells if row[0].value in sheet]
    small = [cell for cell in leverage if cell.value and cell.value < D("0.005")]
    assert small and all(cell.number_format == "#,##0.00##" for cell in small), [c.value for c in leverage]
