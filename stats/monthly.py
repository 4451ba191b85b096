"""The monthly report, built from a list of sections (stats.monthly_sections): the frame and registry
(`base`), then the sections by theme, each module registering its own in reading order: lending
(`lending`), public credit enhancement (`guarantees`), post-loan warnings (`post_loan`); the last two
go before the data-quality section.

Importing this module assembles the report; `register(key, build, before=...)` adds a section.
"""

from __future__ import annotations

from stats.monthly_sections import guarantees, lending, post_loan
from stats.monthly_sections.base import (
    SECTIONS,
    Block,
    Chart,
    KeyFigure,
    KeyFigures,
    Paragraphs,
    ReportContext,
    Section,
    SectionBuilder,
    TableBlock,
    register,
    table_block,
    unitless_label,
    wan_label,
)
from stats.monthly_sections.lending import RANKED, county_ranking, ranking_table

__all__ = [
    "RANKED",
    "SECTIONS",
    "Block",
    "Chart",
    "KeyFigure",
    "KeyFigures",
    "Paragraphs",
    "ReportContext",
    "Section",
    "SectionBuilder",
    "TableBlock",
    "county_ranking",
    "guarantees",
    "lending",
    "post_loan",
    "ranking_table",
    "register",
    "table_block",
    "unitless_label",
    "wan_label",
]
