"""A statistics table: named columns of a kind (count, amount, share, rate, hours, number or text) and
rows of raw values, with the filters that produced it. The exports write it as CSV or XLSX
(stats.exports) and the monthly report shows it (stats.monthly_sections)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    kind: str = "text"

    @property
    def numeric(self) -> bool:
        return self.kind != "text"


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    filters: list[tuple[str, str]] = field(default_factory=list)
