"""Property: the guarantee and bridge figures equal a plain-Python recomputation from the raw rows, for
random covers, defaults, payments, recoveries and bridges, windows, dimensions and counties."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.sql import add_months_py
from core.types import SHANGHAI
from guarantees.figures import ALL, DIMENSIONS, TOTAL, Period, bridge_figures, cap_monitor, cover_figures, p90
from guarantees.models import BridgeApplication, Compensation, Cover, DefaultReport, Recovery, Scheme
from tests.factories import BorrowerFactory, LeadFactory, LoanFactory, ProductFactory, SchemeFactory

BASE = dt.date(2026, 1, 1)
COUNTIES = ("360802", "360803")
AMOUNTS = st.sampled_from([D("1000000.00"), D("333333.33"), D("50000.01")]) | st.decimals(
    min_value=D("1000"), max_value=D("9000000"), places=2
)


@pytest.fixture
def world(session):
    return make_world()


def make_world() -> dict[str, Any]:
    """Two guarantee schemes (4321 and a fund), a bridge fund, two products and a borrower per county."""
    schemes = [SchemeFactory(), SchemeFactory(fund=True)]
    bridge = SchemeFactory(bridge=True)
    products = [ProductFactory(published=True), ProductFactory(published=True)]
    borrowers = [BorrowerFactory(region_code=c) for c in COUNTIES]
    return {"schemes": schemes, "bridge": bridge, "products": products, "borrowers": borrowers}


cover_spec = st.fixed_dictionaries(
    {
        "scheme": st.integers(0, 1),
        "product": st.integers(0, 1),
        "borrower": st.integers(0, 1),
        "amount": AMOUNTS,
        "fee": st.sampled_from([D("0.005"), D("0.008"), D("0.01")]),
        "start": st.integers(0, 30),
        "term": st.integers(1, 6),
        "end": st.none() | st.tuples(st.sampled_from(["released", "defaulted"]), st.integers(1, 30)),
        "pay_after": st.none() | st.integers(0, 20),
        "claim_pay_after": st.none() | st.integers(0, 20),
        "recovery": st.none() | st.tuples(st.integers(0, 60), AMOUNTS),
    }
)
bridge_spec = st.fixed_dictionaries(
    {
        "product": st.integers(0, 1),
        "borrower": st.integers(0, 1),
        "amount": AMOUNTS,
        "submitted": st.integers(0, 40),
        "steps": st.integers(0, 4),  # approved, disbursed, renewal, returned
        "days": st.integers(1, 14),
        "overdue": st.booleans(),
        "breach": st.booleans(),
    }
)


def _day(n: int) -> dt.date:
    return BASE + dt.timedelta(days=n)


def insert(session, world, covers, bridges) -> None:
    for spec in covers:
        product = world["products"][spec["product"]]
        borrower = world["borrowers"][spec["borrower"]]
        lead = LeadFactory(disbursed=True, loan=None, product=product, need__borrower=borrower)
        loan = LoanFactory(
            lead=lead, amount=spec["amount"], term_months=spec["term"], disbursed_on=_day(spec["start"])
        )
        scheme = world["schemes"][spec["scheme"]]
        start = _day(spec["start"])
        cover = Cover(
            scheme_id=scheme.id, operator_id=scheme.operator_id, lead_id=lead.id, loan_id=loan.id,
            institution_id=loan.institution_id, borrower_id=borrower.id, region_code=borrower.region_code,
            amount=spec["amount"], term_months=spec["term"], fee_rate=spec["fee"], status="active",
            decision_due_at=dt.datetime(2026, 1, 1, tzinfo=SHANGHAI), activated_on=start,
            matures_on=add_months_py(start, spec["term"]),
        )  # fmt: skip
        if spec["end"]:
            kind, after = spec["end"]
            cover.status = kind
            setattr(
                cover,
                "released_on" if kind == "released" else "defaulted_on",
                start + dt.timedelta(days=after),
            )
        session.add(cover)
        session.flush()
        if cover.status != "defaulted":
            continue
        loss = spec["amount"] / 2
        shares = {"bank": str((loss * D("0.2")).quantize(D("0.01")))}
        shares["guarantor"] = str(loss.quantize(D("0.01")) - D(shares["bank"]))
        report = DefaultReport(
            cover_id=cover.id, overdue_since=cover.defaulted_on, principal=loss, interest=D(0),
            collateral_realised=D(0), loss=loss.quantize(D("0.01")), shares=shares, workings=[],
            claim_due_on=cover.defaulted_on, reported_on=cover.defaulted_on,
        )  # fmt: skip
        session.add(report)
        session.flush()
        claimed = cover.defaulted_on
        paid = claimed + dt.timedelta(days=spec["pay_after"]) if spec["pay_after"] is not None else None
        due = D(shares["guarantor"])
        session.add(
            Compensation(default_id=report.id, party="guarantor", kind="compensation", amount_due=due,
                         claimed_on=claimed, paid_on=paid, amount_paid=due if paid else None)
        )  # fmt: skip
        if paid:
            claim_paid = (
                paid + dt.timedelta(days=spec["claim_pay_after"])
                if spec["claim_pay_after"] is not None
                else None
            )
            part = (due * D("0.3")).quantize(D("0.01"))
            session.add(
                Compensation(default_id=report.id, party="reguarantor", kind="claim", amount_due=part,
                             claimed_on=paid, paid_on=claim_paid, amount_paid=part if claim_paid else None)
            )  # fmt: skip
        if spec["recovery"]:
            after, amount = spec["recovery"]
            session.add(
                Recovery(default_id=report.id, recovered_on=claimed + dt.timedelta(days=after), amount=amount,
                         method="other", split={})
            )  # fmt: skip
    fund = world["bridge"]
    for spec in bridges:
        borrower = world["borrowers"][spec["borrower"]]
        submitted = dt.datetime.combine(_day(spec["submitted"]), dt.time(23, 30), tzinfo=SHANGHAI)
        app = BridgeApplication(
            scheme_id=fund.id, borrower_id=borrower.id, region_code=borrower.region_code,
            institution_id=world["products"][spec["product"]].institution_id, contract_no="X",
            maturing_principal=spec["amount"], matures_on=_day(spec["submitted"] + 5), amount=spec["amount"],
            status="submitted", submitted_at=submitted,
        )  # fmt: skip
        day = _day(spec["submitted"])
        if spec["steps"] >= 1:
            app.status, app.approved_on = "approved", day + dt.timedelta(days=1)
        if spec["steps"] >= 2:
            app.status, app.disbursed_on = "disbursed", day + dt.timedelta(days=2)
            app.due_on = app.disbursed_on + dt.timedelta(days=10)
            if spec["overdue"]:
                app.status, app.overdue_on = "overdue", app.due_on + dt.timedelta(days=1)
                if spec["breach"]:
                    app.status, app.breach_on = "bank_breach", app.overdue_on
        if spec["steps"] >= 3:
            app.renewal_disbursed_on = day + dt.timedelta(days=3)
            app.renewal_amount = spec["amount"] * 2
        if spec["steps"] >= 4:
            app.status = "returned"
            app.returned_on = app.disbursed_on + dt.timedelta(days=spec["days"])
            app.days_used = spec["days"]
            app.fee = (spec["amount"] * D("0.0002") * spec["days"]).quantize(D("0.01"))
        session.add(app)
    session.flush()


def event_days(session, *, ends: bool = False) -> set[dt.date]:
    """Dates on the rows, the edges a window should be tried on (`ends`: those where a state ends, the
    edges of the "as at" figures)."""
    days: set[dt.date] = set()
    for model, names in (
        (Cover, ("released_on", "defaulted_on") if ends else ("activated_on", "matures_on")),
        (Compensation, ("paid_on",) if ends else ("claimed_on",)),
        (Recovery, () if ends else ("recovered_on",)),
        (BridgeApplication, ("returned_on", "overdue_on") if ends else ("approved_on", "disbursed_on", "breach_on",
                                                                          "renewal_disbursed_on")),
    ):  # fmt: skip
        for row in session.scalars(select(model)):
            days.update(d for d in (getattr(row, n) for n in names) if d is not None)
    return days


def _key(dimension: str, row: Any, scheme_operator: dict[int, int]) -> Any:
    if dimension == ALL:
        return TOTAL
    if dimension == "region":
        return row.region_code
    if dimension == "bank":
        return row.institution_id
    if dimension == "guarantor":
        return row.operator_id if isinstance(row, Cover) else scheme_operator[row.scheme_id]
    return row.scheme_id


def _within(day: dt.date | None, period: Period) -> bool:
    return day is not None and period.first <= day <= period.last


def _ratio(a: Any, b: Any) -> D | None:
    return (D(a) / D(b)).quantize(D("0.0001")) if b else None


def reference(
    session, period: Period, dimension: str
) -> tuple[dict[Any, dict[str, Any]], dict[Any, dict[str, Any]]]:
    operators = {s.id: s.operator_id for s in session.scalars(select(Scheme))}
    scoped = period.region_code not in (None, "360800")
    covers = [c for c in session.scalars(select(Cover)) if not scoped or c.region_code == period.region_code]
    by_id = {c.id: c for c in covers}
    reports = {r.id: r for r in session.scalars(select(DefaultReport)) if r.cover_id in by_id}
    out: dict[Any, dict[str, Any]] = {}
    zero = D("0.00")

    def figures(key):
        return out.setdefault(key, {
            "covers_in_force": 0, "balance_in_force": zero, "new_covers": 0, "new_amount": zero, "fee_w": D(0),
            "matured_amount": zero, "compensation_amount": zero, "claims_filed": 0, "claims_paid": 0,
            "claims_pending": 0, "claims_pending_amount": zero, "days": [], "recoveries": zero,
        })  # fmt: skip

    a = period.as_at
    for c in covers:
        f = figures(_key(dimension, c, operators))
        if (c.activated_on <= a and (c.released_on is None or c.released_on > a)
                and (c.defaulted_on is None or c.defaulted_on > a)):  # fmt: skip
            f["covers_in_force"] += 1
            f["balance_in_force"] += c.amount
        if _within(c.activated_on, period):
            f["new_covers"] += 1
            f["new_amount"] += c.amount
            f["fee_w"] += c.amount * c.fee_rate
        if _within(c.matures_on, period):
            f["matured_amount"] += c.amount
    for row in session.scalars(select(Compensation)):
        if row.default_id not in reports:
            continue
        f = figures(_key(dimension, by_id[reports[row.default_id].cover_id], operators))
        if row.kind == "compensation" and _within(row.paid_on, period):
            f["compensation_amount"] += row.amount_paid
        f["claims_filed"] += _within(row.claimed_on, period)
        if _within(row.paid_on, period):
            f["claims_paid"] += 1
            f["days"].append((row.paid_on - row.claimed_on).days)
        if row.claimed_on <= a and (row.paid_on is None or row.paid_on > a):
            f["claims_pending"] += 1
            f["claims_pending_amount"] += row.amount_due
    for row in session.scalars(select(Recovery)):
        if row.default_id in reports and _within(row.recovered_on, period):
            figures(_key(dimension, by_id[reports[row.default_id].cover_id], operators))["recoveries"] += (
                row.amount
            )
    for f in out.values():
        f["avg_fee_rate"] = _ratio(f.pop("fee_w"), f["new_amount"])
        f["compensation_rate"] = _ratio(f["compensation_amount"], f["matured_amount"])
        f["recovery_rate"] = _ratio(f["recoveries"], f["compensation_amount"])
        days = f.pop("days")
        f["mean_days_to_pay"] = _ratio(sum(days), len(days)) if days else None

    bridges: dict[Any, dict[str, Any]] = {}
    for b in session.scalars(select(BridgeApplication)):
        if scoped and b.region_code != period.region_code:
            continue
        f = bridges.setdefault(_key(dimension, b, operators), {
            "bridge_applications": 0, "bridge_approved": 0, "bridge_disbursed": 0, "bridge_amount": zero,
            "bridge_returned": 0, "fee_income": zero, "overdue_balance": zero, "bridge_breaches": 0,
            "renewals_enabled": zero, "used": [],
        })  # fmt: skip
        f["bridge_applications"] += _within(b.submitted_at.astimezone(SHANGHAI).date(), period)
        f["bridge_approved"] += _within(b.approved_on, period)
        if _within(b.disbursed_on, period):
            f["bridge_disbursed"] += 1
            f["bridge_amount"] += b.amount
        if _within(b.returned_on, period):
            f["bridge_returned"] += 1
            f["fee_income"] += b.fee
            f["used"].append(b.days_used)
        if b.overdue_on is not None and b.overdue_on <= a and (b.returned_on is None or b.returned_on > a):
            f["overdue_balance"] += b.amount
        f["bridge_breaches"] += _within(b.breach_on, period)
        if _within(b.renewal_disbursed_on, period):
            f["renewals_enabled"] += b.renewal_amount
    for f in bridges.values():
        used = f.pop("used")
        f["mean_days_used"] = _ratio(sum(used), len(used)) if used else None
        f["p90_days_used"] = sorted(used)[math.ceil(0.9 * len(used)) - 1] if used else None
    return out, bridges


PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(
    covers=st.lists(cover_spec, max_size=6),
    bridges=st.lists(bridge_spec, max_size=5),
    first=st.integers(0, 60),
    length=st.integers(0, 60),
    snap=st.tuples(st.booleans(), st.booleans(), st.integers(0, 10**6)),
    dimension=st.sampled_from((*DIMENSIONS, ALL)),
    region=st.sampled_from([None, "360800", *COUNTIES]),
)
def test_figures_equal_the_raw_rows(
    session, world, covers, bridges, first, length, snap, dimension, region
) -> None:
    savepoint = session.begin_nested()
    try:
        insert(session, world, covers, bridges)
        start, end = _day(first), _day(first + length)
        # Often put the window's edges on a day something happened, where < and <= part ways.
        starts, ends = sorted(event_days(session)), sorted(event_days(session, ends=True))
        if starts and snap[0]:
            start = starts[snap[2] % len(starts)]
        if ends and snap[1]:
            end = ends[(snap[2] // 7) % len(ends)]
        period = Period(min(start, end), max(start, end), region)
        expected_covers, expected_bridges = reference(session, period, dimension)
        assert cover_figures(session, period, dimension) == expected_covers
        assert bridge_figures(session, period, dimension) == expected_bridges
    finally:
        savepoint.rollback()


def test_p90_by_nearest_rank() -> None:
    assert p90([]) is None
    assert p90([7]) == 7
    assert p90(list(range(1, 11))) == 9
    assert p90(list(range(1, 12))) == 10


def test_cap_monitor_headroom(session) -> None:
    scheme = SchemeFactory(comp_cap_rate=D("0.05"))
    product = ProductFactory(published=True)
    lead = LeadFactory(disbursed=True, loan=None, product=product)
    loan = LoanFactory(lead=lead, amount=D("2000000.00"))
    cover = Cover(
        scheme_id=scheme.id, operator_id=scheme.operator_id, lead_id=lead.id, loan_id=loan.id,
        institution_id=loan.institution_id, borrower_id=loan.borrower_id, region_code=loan.region_code,
        amount=D("2000000.00"), term_months=12, fee_rate=D("0.01"), status="defaulted",
        decision_due_at=dt.datetime(2026, 1, 1, tzinfo=SHANGHAI), activated_on=BASE, defaulted_on=BASE,
    )  # fmt: skip
    session.add(cover)
    session.flush()
    session.add(
        DefaultReport(cover_id=cover.id, overdue_since=BASE, principal=D("50000"), interest=D(0),
                      collateral_realised=D(0), loss=D("50000.00"), shares={"bank": "10000.00", "guarantor": "40000.00"},
                      workings=[], claim_due_on=BASE, reported_on=BASE)
    )  # fmt: skip
    session.flush()
    (line,) = cap_monitor(session, scheme.id)
    assert (line.cap, line.compensated, line.headroom, line.used_share) == (
        D("100000.00"),
        D("40000.00"),
        D("60000.00"),
        D("0.4000"),
    )
