"""Per-rule precision, recall and lead time from the banks' performance reports, on data made to show
each: a loan that goes bad after a drop, a false alarm, a default nobody saw coming, a steady loan."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from monitoring.quality import rule_quality
from monitoring.rules import STARTING_RULES, Rule
from tests.factories import DataRecordFactory, LoanPerformanceFactory
from tests.factories.monitoring import claimed_loan, monitoring_consent, months_back

pytestmark = pytest.mark.smoke


def _month_end(back: int) -> dt.date:
    year, month = map(int, months_back(back - 1).split("-"))
    return dt.date(year, month, 1) - dt.timedelta(days=1)


def _loan(kwh_by_back: dict[int, str], *, bad_from: int | None = None):
    loan, _officer = claimed_loan(months_on_book=12)
    monitoring_consent(loan, sources=["electricity"])
    for back in range(30, 0, -1):
        kwh = Decimal(kwh_by_back.get(back, "1000"))
        DataRecordFactory(
            borrower_id=loan.borrower_id, source="electricity", period=months_back(back), kwh=kwh
        )
    for back in range(11, 0, -1):
        late = bad_from is not None and back <= bad_from
        LoanPerformanceFactory(loan=loan, as_of=_month_end(back), overdue_30=late, overdue_90=late)
    return loan


def test_precision_recall_and_lead_time_per_rule(session):
    _loan({10: "200", 9: "200", 8: "200", 7: "200"}, bad_from=5)  # drop at month -10, 90 DPD at -5
    _loan({10: "200", 9: "200", 8: "200"})  # the same drop, repaid: a false alarm (horizon passed)
    _loan({10: "200", 9: "200", 8: "200"}, bad_from=1)  # defaults, but long after the 6-month horizon
    _loan({4: "200", 3: "200", 2: "200"})  # red lately, no default yet: its outcome is not known
    _loan({}, bad_from=4)  # nothing visible, defaults all the same
    _loan({})  # steady
    session.flush()

    report = rule_quality(session)

    drop = next(q for q in report.rules if q.code == "elec_drop")
    assert (report.loans, report.defaults) == (6, 3)
    assert (drop.red_loans, drop.red_then_default) == (3, 1)
    assert drop.precision == pytest.approx(1 / 3)
    assert drop.defaults_warned == 2 and drop.recall == pytest.approx(2 / 3)
    assert 100 <= drop.median_lead_days_90 <= 300  # months between the warning and the report


def test_tighter_thresholds_change_the_figures(session):
    _loan({10: "600", 9: "600", 8: "600"}, bad_from=5)  # -40 %: yellow under the starting set
    session.flush()
    tight = [Rule("elec_drop", "elec_3m_yoy", yellow=-0.2, red=-0.35)]

    assert (
        next(q for q in rule_quality(session, STARTING_RULES).rules if q.code == "elec_drop").red_loans == 0
    )
    assert rule_quality(session, tight).rules[0].red_loans == 1
