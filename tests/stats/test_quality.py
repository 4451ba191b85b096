"""Data-quality flags: each kind of doubtful loan is flagged, a plain loan is not, counts are per flag."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from stats.quality import flagged_loans
from stats.windows import Window
from tests.stats.test_stats_properties import BASE, _loan_need, insert, make_world

pytestmark = pytest.mark.smoke
WINDOW = Window(BASE.date(), BASE.date() + dt.timedelta(days=30))
HOUR_US = 3_600_000_000


def loan(borrower: int, amount: str, *, loan_amount: str | None = None, days: int = 1, **lead) -> dict:
    spec = _loan_need(borrower, amount, days=days)
    spec["leads"][0].update(
        {"decision_us": HOUR_US, "first": False, **lead}
    )  # approved an hour after the claim
    if loan_amount is not None:
        spec["leads"][0]["amount"] = loan_amount
    return spec


def test_each_doubtful_loan_is_flagged_and_a_plain_one_is_not(session):
    world = make_world(session)
    insert(session, world, [
        loan(0, "100000.00"),                                     # plain
        loan(1, "100000.00", loan_amount=Decimal("250000.00")),  # 2.5 × the need
        loan(2, "2000000.00", loan_amount=Decimal("3500000.00")),  # above the product's 3,000,000
        loan(3, "50000.00", decision_us=1),                       # claimed and approved in the same minute
        loan(4, "80000.00", days=1, first=True),                  # first loan: true
        loan(4, "80000.00", days=5, first=True),                  # first loan again: contradicts the first
        loan(5, "60000.00", renewal=True),                        # renewal on a need that was not one
    ])  # fmt: skip
    rows, counts = flagged_loans(session, WINDOW)
    flags = {(row.borrower, row.amount): row.flags for row in rows}
    assert counts == {"amount_outlier": 1, "above_product_max": 1, "same_minute": 1, "first_loan_conflict": 1,
                      "renewal_conflict": 1}  # fmt: skip
    assert len(rows) == 5
    assert world["borrowers"][0].name not in {row.borrower for row in rows}
    assert ("amount_outlier",) in flags.values() and ("renewal_conflict",) in flags.values()
    farmer = world["borrowers"][3]
    assert farmer.name not in {row.borrower for row in rows}  # a farmer's name is masked
    only, _counts = flagged_loans(session, WINDOW, flag="first_loan_conflict")
    assert [row.flags for row in only] == [("first_loan_conflict",)]
    assert only[0].disbursed_on > BASE.date() + dt.timedelta(days=4)  # the later of the two loans
    county, county_counts = flagged_loans(session, Window(WINDOW.first, WINDOW.last, "360802"))
    assert len(county) == 1 and county_counts["amount_outlier"] == 1
    with pytest.raises(ValueError):
        flagged_loans(session, WINDOW, flag="nonsense")
