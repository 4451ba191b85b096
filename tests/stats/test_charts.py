"""Charts drawn as SVG in Python: valid SVG, text kept as text, readable on a phone, partial months marked."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from stats.charts import NARROW, bar_chart, line_chart, responsive

pytestmark = pytest.mark.smoke
SVG = "{http://www.w3.org/2000/svg}"


def texts(svg) -> list[str]:
    return [t.text or "" for t in ET.fromstring(str(svg)).iter(f"{SVG}text")]


def test_bar_chart_keeps_chinese_labels_as_text_and_shows_each_value():
    svg = bar_chart(["吉州区", "青原区", "井冈山市"], {"": [3, 5, 2500.5]}, "放款笔数")
    shown = texts(svg)
    for label in ("放款笔数", "吉州区", "井冈山市", "3", "5", "2,500.5"):
        assert label in shown, label
    assert len(list(ET.fromstring(str(svg)).iter(f"{SVG}rect"))) == 3


def test_line_chart_has_a_legend_per_series_and_short_month_labels():
    svg = line_chart(["2025-12", "2026-01"], {"放款笔数": [1, 4], "首贷户": [0, 2]}, "月度趋势")
    shown = texts(svg)
    assert "放款笔数" in shown and "首贷户" in shown
    assert "12月" in shown and "1月" in shown and "2026年" in shown and "2025-12" not in shown


def test_twelve_months_on_a_phone_thin_out_instead_of_overlapping():
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    narrow = texts(line_chart(months, {"放款笔数": list(range(12))}, "趋势", width=NARROW))
    wide = texts(line_chart(months, {"放款笔数": list(range(12))}, "趋势"))
    month_labels = [t for t in narrow if t.endswith("月") and t[:-1].isdigit()]
    assert len(month_labels) == 6 and "12月" in month_labels  # every other month, the latest kept
    assert len([t for t in wide if t.endswith("月") and t[:-1].isdigit()]) == 12


def test_a_partial_last_month_is_drawn_hollow_and_explained():
    svg = line_chart(["2026-11", "2026-12"], {"放款笔数": [4, 1]}, "趋势", partial_last="12月只含1日至6日")
    root = ET.fromstring(str(svg))
    circles = list(root.iter(f"{SVG}circle"))
    assert circles[-1].get("fill") == "#fff" and circles[0].get("fill") != "#fff"
    assert any(line.get("stroke-dasharray") for line in root.iter(f"{SVG}line"))
    assert any("12月只含1日至6日" in t for t in texts(svg))
    whole = line_chart(["2026-10", "2026-11"], {"放款笔数": [4, 1]}, "趋势")
    assert all(c.get("fill") != "#fff" for c in ET.fromstring(str(whole)).iter(f"{SVG}circle"))


def test_responsive_draws_both_widths():
    drawn = responsive(bar_chart, ["吉州区"], {"": [1]}, "放款")
    assert 'viewBox="0 0 680' in str(drawn.wide) and 'viewBox="0 0 360' in str(drawn.narrow)
