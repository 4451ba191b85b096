"""How well each rule foretold the loans that went bad, from the performance reports banks send.

Every rule is replayed over the monitored data of every loan with a performance report (the same
vectorised signals the job uses), month by month after disbursement. A month's data arrives in the
following month, so a rule firing on month t counts as a warning on the first day of month t + 1.

- precision: of the loans the rule put at red, the share with a 90-days-overdue report within
  HORIZON_DAYS (6 months) of the first red warning (a red warning whose horizon has not passed
  without a default is left out until it has);
- recall: of the loans reported 90 days overdue, the share the rule warned about (yellow or red)
  before that report;
- lead time: the median days from that first warning to the first 90-days-overdue report (and to the
  first 30-days-overdue one), over the defaults it warned about.

The same figures for "any rule" say what the rule set achieves as a whole. An admin changes a rule's
thresholds with these figures beside it (rules.update_rule) and sees them recomputed.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from credit_profile.features import period_index
from matching.models import Loan, LoanPerformance
from monitoring.panels import load_panel, monitored
from monitoring.rules import Rule, current_rules
from monitoring.signals import RED, YELLOW, Levels, compute_signals, evaluate, worst

HORIZON_DAYS = 183
ANY_RULE = "any"


@dataclass(frozen=True)
class RuleQuality:
    code: str
    red_loans: int
    red_then_default: int
    precision: float | None
    defaults: int
    defaults_warned: int
    recall: float | None
    median_lead_days_90: float | None
    median_lead_days_30: float | None


@dataclass(frozen=True)
class QualityReport:
    loans: int
    defaults: int
    rules: list[RuleQuality]


def _first_dates(reports: Sequence[LoanPerformance]) -> tuple[dt.date | None, dt.date | None, dt.date]:
    """The first as-of date reported 30 and 90 days overdue (a later report for a date corrects it),
    and the latest as-of date reported."""
    latest: dict[dt.date, LoanPerformance] = {}
    for report in sorted(reports, key=lambda r: r.id):
        latest[report.as_of] = report
    due30 = min((d for d, r in latest.items() if r.overdue_30), default=None)
    due90 = min((d for d, r in latest.items() if r.overdue_90), default=None)
    return due30, due90, max(latest)


def _month_start(index: int) -> dt.date:
    year, month0 = divmod(index, 12)
    return dt.date(year, month0 + 1, 1)


def _first_warning(level: Levels, row: int, start: int, at_least: int, first_index: int) -> dt.date | None:
    hits = np.flatnonzero(level[row, start:] >= at_least)
    if hits.size == 0:
        return None
    return _month_start(first_index + start + int(hits[0]) + 1)


def rule_quality(session: Session, rules: Sequence[Rule] | None = None) -> QualityReport:
    """Precision, recall and lead time of each rule (and of any rule) over the monitored loans that
    have performance reports."""
    rules = current_rules(session) if rules is None else rules
    reports: dict[int, list[LoanPerformance]] = {}
    for report in session.scalars(select(LoanPerformance).order_by(LoanPerformance.id)):
        reports.setdefault(report.loan_id, []).append(report)
    loans = list(session.scalars(select(Loan).where(Loan.id.in_(list(reports))).order_by(Loan.id)))
    watched = monitored(session, loans)
    if not watched:
        return QualityReport(loans=0, defaults=0, rules=[])
    loaded = load_panel(session, watched)
    levels = evaluate(rules, compute_signals(loaded.panel))
    levels[ANY_RULE] = worst(levels)
    first_index = period_index(loaded.first_period)
    outcomes = [_first_dates(reports[m.loan.id]) for m in watched]
    starts = [max(0, period_index(f"{m.loan.disbursed_on:%Y-%m}") - first_index) for m in watched]
    defaults = sum(1 for _d30, d90, _last in outcomes if d90 is not None)
    result = []
    for code, level in levels.items():
        red_loans = red_then_default = warned = 0
        leads_90: list[int] = []
        leads_30: list[int] = []
        for row, (due30, due90, reported) in enumerate(outcomes):
            red = _first_warning(level, row, starts[row], int(RED), first_index)
            any_level = _first_warning(level, row, starts[row], int(YELLOW), first_index)
            horizon = None if red is None else red + dt.timedelta(days=HORIZON_DAYS)
            # A red warning counts once its outcome is known: a default within the horizon, or
            # reports reaching past it; one still inside its horizon without a default waits.
            if red is not None and horizon is not None:
                hit = due90 is not None and red <= due90 <= horizon
                if hit or reported >= horizon:
                    red_loans += 1
                    red_then_default += hit
            if due90 is not None and any_level is not None and any_level <= due90:
                warned += 1
                leads_90.append((due90 - any_level).days)
                if due30 is not None and any_level <= due30:
                    leads_30.append((due30 - any_level).days)
        result.append(
            RuleQuality(
                code=code,
                red_loans=red_loans,
                red_then_default=red_then_default,
                precision=red_then_default / red_loans if red_loans else None,
                defaults=defaults,
                defaults_warned=warned,
                recall=warned / defaults if defaults else None,
                median_lead_days_90=statistics.median(leads_90) if leads_90 else None,
                median_lead_days_30=statistics.median(leads_30) if leads_30 else None,
            )
        )
    return QualityReport(loans=len(watched), defaults=defaults, rules=result)
