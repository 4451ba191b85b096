"""Server-side SVG charts: valid SVG, text kept as text, one mark per value."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from portal.charts import bar_chart, line_chart

pytestmark = pytest.mark.smoke
SVG = "{http://www.w3.org/2000/svg}"


def test_bar_chart_keeps_chinese_labels_as_text():
    svg = bar_chart(["吉州区", "青原区", "井冈山市"], [3, 5, 2], "放款笔数")
    root = ET.fromstring(svg)
    texts = "".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for label in ("放款笔数", "吉州区", "井冈山市"):
        assert label in texts


def test_line_chart_has_a_legend_per_series():
    svg = line_chart(["2026-01", "2026-02"], {"放款笔数": [1, 4], "首贷户": [0, 2]}, "月度趋势")
    texts = "".join(t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text"))
    assert "放款笔数" in texts and "首贷户" in texts
