"""Presenters of post-loan monitoring's read models (monitoring.views, figures, quality): plain dicts for
the JSON API; they run no queries."""

from __future__ import annotations

import dataclasses
from typing import Any

from monitoring.enrolment import LoanCoverage
from monitoring.figures import WarningFigures
from monitoring.quality import QualityReport
from monitoring.rules import Rule
from monitoring.views import WarningView


def warning_json(view: WarningView) -> dict[str, Any]:
    return dataclasses.asdict(view)


def coverage_json(coverage: LoanCoverage) -> dict[str, Any]:
    return dataclasses.asdict(coverage)


def figures_json(figures: WarningFigures) -> dict[str, Any]:
    return dataclasses.asdict(figures)


def rules_json(rules: tuple[Rule, ...], report: QualityReport) -> dict[str, Any]:
    quality = {q.code: dataclasses.asdict(q) for q in report.rules}
    return {
        "loans": report.loans,
        "defaults": report.defaults,
        "overall": quality.get("any"),
        "items": [{**dataclasses.asdict(rule), "quality": quality.get(rule.code)} for rule in rules],
    }
