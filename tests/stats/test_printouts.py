"""The monthly report as PDF: every cell of the workbook on a page, wide tables split by columns."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from stats.exports import Column, Table, to_xlsx
from stats.printouts import workbook_pdf

pytestmark = pytest.mark.smoke


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_every_cell_and_the_conditions_are_printed_and_a_wide_table_repeats_its_names():
    columns = [Column("key", "代码"), Column("name", "名称")] + [
        Column(f"c{i}", f"第{i}项指标（万元）", numeric=True) for i in range(18)
    ]
    rows = [
        {
            "key": f"K{j:03d}",
            "name": f"吉州区第{j}行",
            **{f"c{i}": Decimal(i * 1000 + j) / 4 for i in range(18)},
        }
        for j in range(45)
    ]
    narrow = Table("s", "统计汇总", [Column("k", "指标"), Column("v", "值")], [{"k": "放款笔数", "v": 7}])
    pdf = workbook_pdf(
        to_xlsx([narrow, Table("b", "分县区", columns, rows)], [("区域", "吉州区（360802）")]),
        title="吉惠通普惠金融月度监测报表 2026-11 吉州区",
    )
    assert pdf.startswith(b"%PDF")
    pages = _pages(pdf)
    assert "吉惠通普惠金融月度监测报表 2026-11 吉州区" in pages[0] and "吉州区（360802）" in pages[0]
    assert "统计汇总" in pages[1] and "放款笔数" in pages[1]
    text = "\n".join(pages)
    # Too wide for one page: column groups, each led by the rows' names.
    assert "分县区（1/2）" in text and "分县区（2/2）" in text
    assert text.count("吉州区第44行") == 2 and text.count("K044") == 2  # code and name in each group
    for i in range(18):
        assert f"第{i}项指标（万元）" in text
        assert str(Decimal(i * 1000 + 44) / 4) in text
    # Long tables run over pages with their header row repeated.
    pages_of_first_group = [p for p in pages if "第0项指标（万元）" in p]
    assert len(pages_of_first_group) >= 2


def test_not_a_workbook_is_a_value_error():
    with pytest.raises(ValueError, match="not a workbook"):
        workbook_pdf(b"PK not really", title="x")
