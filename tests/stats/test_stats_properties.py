"""Property: the summary, every breakdown, the time series, the funnel and the drill-down counts equal an
independent plain-Python recomputation from the raw rows, for random rows, windows and regions."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.reference import CITY_CODE
from core.sql import add_months_py
from core.types import SHANGHAI
from stats import breakdowns, drilldowns, funnels
from stats.figures import figures, summary
from stats.windows import SUMMARY_FIELDS, Window
from tests.factories import (
    BorrowerFactory,
    InstitutionFactory,
    LeadFactory,
    LoanFactory,
    NeedFactory,
    ProductFactory,
)
from tests.stats.reference_stats import Reference, add_months, load, median_hours, micros

COUNTIES = ("360802", "360803", "360881")
BASE = dt.datetime(2025, 12, 1, tzinfo=SHANGHAI)
SPAN_DAYS = 120
AMOUNTS = st.sampled_from(
    [Decimal("10000000.00"), Decimal("5000000.00"), Decimal("2500000.00"), Decimal("9999999.99"),
     Decimal("120000.50"), Decimal("30000.00")]
) | st.decimals(min_value=Decimal("1000"), max_value=Decimal("3000000"), places=2)  # fmt: skip
# Lead outcomes: how far the lead went, as the services would have recorded it.
OUTCOMES = ("pushed", "expired", "closed", "claimed", "contacted", "approved", "disbursed", "rejected_claimed",
            "rejected_approved")  # fmt: skip


def make_world(session) -> dict[str, Any]:
    """Three banks, four products (tags overlap), six borrowers in three counties, two of them farmers."""
    banks = [InstitutionFactory(code=f"B{i}") for i in range(3)]
    products = [
        ProductFactory(institution=banks[0], tags=["first_loan", "credit"]),
        ProductFactory(institution=banks[1], tags=["renewal"]),
        ProductFactory(institution=banks[2], tags=[]),
        ProductFactory(institution=banks[2], tags=["agri", "first_loan"]),
    ]
    borrowers = [
        BorrowerFactory(region_code="360802", industry_code="C39"),
        BorrowerFactory(region_code="360802", kind="individual_business", industry_code="5211"),
        BorrowerFactory(region_code="360803", industry_code="F"),
        BorrowerFactory(region_code="360803", farmer=True),
        BorrowerFactory(region_code="360881", industry_code="I65"),
        BorrowerFactory(region_code="360881", farmer=True, industry_code="0511"),
    ]
    session.flush()
    return {"banks": banks, "products": products, "borrowers": borrowers}


@pytest.fixture
def world(session):
    return make_world(session)


lead_spec = st.fixed_dictionaries(
    {
        "product": st.integers(0, 3),
        "delay_us": st.integers(0, 3 * 86_400_000_000),
        "claim_us": st.integers(1, 50 * 3_600_000_000),
        "sla_hours": st.integers(1, 30),
        "outcome": st.sampled_from(OUTCOMES) | st.just("disbursed"),
        "decision_us": st.integers(1, 80 * 3_600_000_000),
        "loan_days": st.integers(0, 40),
        "amount": AMOUNTS,
        "rate": st.decimals(min_value=Decimal("2.50"), max_value=Decimal("9.99"), places=2),
        "term": st.integers(1, 36),
        "collateral": st.sampled_from(["credit", "mortgage", "guarantee"]),
        "first": st.booleans(),
        "renewal": st.booleans(),
    }
)
need_spec = st.fixed_dictionaries(
    {
        "borrower": st.integers(0, 5),
        "at_us": st.integers(0, SPAN_DAYS * 86_400_000_000),
        "amount": AMOUNTS,
        "renewal": st.booleans(),
        "matures_days": st.integers(0, 200),
        "status": st.sampled_from(
            ["submitted", "matched", "unmatched", "in_progress", "disbursed", "rejected", "withdrawn"]
        ),
        "leads": st.lists(lead_spec, min_size=1, max_size=3),
    }
)


def insert(session, world, needs: list[dict[str, Any]]) -> None:
    products = world["products"]
    for spec in needs:
        borrower = world["borrowers"][spec["borrower"]]
        submitted = BASE + dt.timedelta(microseconds=spec["at_us"])
        need = NeedFactory(
            borrower=borrower, amount=spec["amount"], purpose="测试", is_renewal=spec["renewal"],
            status=spec["status"], submitted_at=submitted,
            renewal_matures_on=(BASE.date() + dt.timedelta(days=spec["matures_days"])) if spec["renewal"] else None,
            renewal_current_amount=spec["amount"] if spec["renewal"] else None,
        )  # fmt: skip
        used: set[int] = set()
        disbursed = False
        for lead_spec_ in spec["leads"]:
            product = products[lead_spec_["product"]]
            if product.institution_id in used:
                continue
            used.add(product.institution_id)
            outcome = lead_spec_["outcome"]
            if outcome == "disbursed":
                if disbursed:
                    outcome = "approved"
                disbursed = True
            pushed = submitted + dt.timedelta(microseconds=lead_spec_["delay_us"])
            claimed = pushed + dt.timedelta(microseconds=lead_spec_["claim_us"])
            is_claimed = outcome not in ("pushed", "expired", "closed")
            status = {"rejected_claimed": "rejected", "rejected_approved": "rejected"}.get(outcome, outcome)
            # The events after the claim are the status's (LeadFactory), but a rejection after an approval.
            path = ["contacted", "approved", "rejected"] if outcome == "rejected_approved" else None
            lead = LeadFactory(
                need=need, product=product, status=status, pushed_at=pushed,
                claimed_at=claimed if is_claimed else None,
                sla_due_at=pushed + dt.timedelta(hours=lead_spec_["sla_hours"]),
                path=path, path__decided=claimed + dt.timedelta(microseconds=lead_spec_["decision_us"]),
            )  # fmt: skip
            if outcome == "disbursed":
                LoanFactory(
                    lead=lead, amount=lead_spec_["amount"], rate=lead_spec_["rate"], term_months=lead_spec_["term"],
                    collateral=lead_spec_["collateral"],
                    disbursed_on=pushed.astimezone(SHANGHAI).date() + dt.timedelta(days=lead_spec_["loan_days"]),
                    first_loan_borrower=lead_spec_["first"], renewal_without_repayment=lead_spec_["renewal"],
                )  # fmt: skip
    session.flush()


windows = st.tuples(st.integers(-10, SPAN_DAYS // 2), st.integers(10, SPAN_DAYS + 10)).map(
    lambda t: (BASE.date() + dt.timedelta(days=t[0]), BASE.date() + dt.timedelta(days=t[0] + t[1]))
)
regions = st.sampled_from([None, CITY_CODE]) | st.sampled_from([*COUNTIES, "360821"])
PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def random_needs(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Dense, realistic rows from a seed: spread over the span, most leads claimed, many loans."""
    amounts = [Decimal("10000000.00"), Decimal("5000000.00"), Decimal("2500000.00"), Decimal("9999999.99")]

    def amount() -> Decimal:
        if rng.random() < 0.3:
            return rng.choice(amounts)
        return Decimal(rng.randint(100_000, 300_000_000)) / 100

    needs = []
    for _ in range(count):
        leads = [
            {
                "product": rng.randrange(4), "delay_us": rng.randrange(3 * 86_400_000_000),
                "claim_us": rng.randrange(1, 50 * 3_600_000_000), "sla_hours": rng.randint(1, 30),
                "outcome": rng.choice([*OUTCOMES, *["disbursed"] * 8]),
                "decision_us": rng.randrange(1, 80 * 3_600_000_000), "loan_days": rng.randint(0, 40),
                "amount": amount(), "rate": Decimal(rng.randint(250, 999)) / 100, "term": rng.randint(1, 36),
                "collateral": rng.choice(["credit", "mortgage", "guarantee"]), "first": rng.random() < 0.5,
                "renewal": rng.random() < 0.3,
            }
            for _ in range(rng.randint(0, 3))
        ]  # fmt: skip
        needs.append(
            {
                "borrower": rng.randrange(6), "at_us": rng.randrange(SPAN_DAYS * 86_400_000_000),
                "amount": amount(), "renewal": rng.random() < 0.4, "matures_days": rng.randint(0, 200),
                "status": rng.choice(["submitted", "matched", "unmatched", "in_progress", "disbursed", "rejected",
                                      "withdrawn"]),
                "leads": leads,
            }
        )  # fmt: skip
    return needs


def seeded_case(seed: int) -> tuple[list[dict[str, Any]], tuple[dt.date, dt.date], str | None]:
    rng = random.Random(seed)
    start = BASE.date() + dt.timedelta(days=rng.randint(-10, SPAN_DAYS // 2))
    window = (start, start + dt.timedelta(days=rng.randint(10, SPAN_DAYS)))
    region = rng.choice([None, CITY_CODE, None, *COUNTIES, "360821"])
    return random_needs(rng, rng.randint(15, 40)), window, region


cases = st.one_of(
    st.tuples(st.lists(need_spec, min_size=1, max_size=6), windows, regions),
    st.builds(seeded_case, st.integers(0, 2**32)),
)


@PROPERTY
@given(case=cases)
def test_summary_breakdowns_and_series_match_the_raw_rows(session, world, case):
    check_against_reference(session, world, case)


@pytest.mark.smoke
@settings(PROPERTY, max_examples=6)
@given(case=st.builds(seeded_case, st.integers(0, 2**32)))
def test_the_engine_matches_the_raw_rows_on_this_database(session, world, case):
    """A short run of the same property, also in the SQLite smoke run (medians, dates, cents)."""
    check_against_reference(session, world, case)


def check_against_reference(session, world, case) -> None:
    needs, window, region = case
    savepoint = session.begin_nested()
    try:
        insert(session, world, needs)
        assert_matches_reference(session, Window(window[0], window[1], region))
    finally:
        savepoint.rollback()


def assert_matches_reference(session, w: Window) -> None:
    """Every figure the engine computes for the window equals the plain-Python recomputation."""
    ref = Reference(load(session), w.first, w.last, w.county)

    expected = ref.summary()
    got = summary(session, w)
    assert {k: got[k] for k in SUMMARY_FIELDS} == {k: expected[k] for k in SUMMARY_FIELDS}

    for by in breakdowns.DIMENSIONS:
        result = breakdowns.breakdown(session, w, by)
        # The total: the summary, whether computed with the keys (ROLLUP) or on its own.
        assert {k: result["total"][k] for k in SUMMARY_FIELDS} == {k: expected[k] for k in SUMMARY_FIELDS}
        assert result["total"] == figures(session, w)[None], by
        items = {item["key"]: item for item in result["items"]}
        reference = ref.breakdown(by)
        assert set(reference) <= set(items), by
        for key, item in items.items():
            want = reference.get(key) or ref.figures(
                [] if by in ("county", "kind", "industry") else None, [], [], {}
            )
            assert {k: item[k] for k in want} == want, (by, key)
        if by in ("county", "kind", "industry"):  # a partition: counts add up to the summary
            for name in ("needs", "leads_pushed", "loans", "borrowers", "inclusive_loans_pboc"):
                assert sum(item[name] for item in result["items"]) == got[name], (by, name)

    series = breakdowns.timeseries(session, w)
    reference_series = ref.timeseries()
    assert [p["period"] for p in series["items"]] == list(reference_series)
    for point in series["items"]:
        want = reference_series[point["period"]]
        assert {k: point[k] for k in want} == want, point["period"]

    board = {item["code"]: item for item in funnels.institution_board(session, w)["items"]}
    by_bank = ref.breakdown("institution")
    assert set(board) == {code for code, f in by_bank.items() if f["leads_pushed"] or f["loans"]}
    events = [e for e in ref.raw.events if e.entity_type == "lead"]
    for code, item in board.items():
        want = by_bank[code]
        for name in ("leads_pushed", "leads_claimed", "median_hours_to_claim", "loans", "loans_amount",
                     "avg_rate", "first_loan_borrowers", "credit_loan_share", "renewal_loans"):  # fmt: skip
            assert item[name] == want[name], (code, name)
        leads = [x for x in ref.leads() if ref.raw.institutions[x.institution_id].code == code]
        breaches = [
            x for x in leads if x.status == "expired" or (x.claimed_at and x.claimed_at > x.sla_due_at)
        ]
        decided_at = {}
        for e in sorted(events, key=lambda e: e.at):
            if e.to_status in ("approved", "rejected"):
                decided_at.setdefault(e.entity_id, e.at)
        decided = [x for x in leads if x.id in decided_at]
        approved = [
            x for x in leads if any(e.entity_id == x.id and e.to_status == "approved" for e in events)
        ]
        assert (item["sla_breaches"], item["decided"], item["approved"]) == (
            len(breaches),
            len(decided),
            len(approved),
        ), code
        assert item["median_hours_to_decision"] == median_hours(
            [micros(decided_at[x.id], x.pushed_at) for x in decided]
        ), code

    funnel = funnels.funnel(session, w)
    need_counts, lead_counts = ref.funnel()
    assert [s["count"] for s in funnel["steps"]] == need_counts
    assert [s["count"] for s in funnel["lead_steps"]] == lead_counts

    for figure, expected_count in (
        ("needs", expected["needs"]),
        ("leads_claimed", expected["leads_claimed"]),
        ("loans", expected["loans"]),
        ("inclusive_loans_nfra", expected["inclusive_loans_nfra"]),
        ("renewal_loans", expected["renewal_loans"]),
        ("maturing_loans", len(ref.maturing_loans())),
    ):
        rows, total = drilldowns.drilldown(session, w, figure, limit=5)
        assert total == expected_count, figure
        assert len(rows) == min(5, expected_count)


@settings(max_examples=200, deadline=None)
@given(day=st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)), months=st.integers(0, 360))
def test_add_months_matches_the_reference(day, months):
    assert add_months_py(day, months) == add_months(day, months)


@pytest.mark.smoke
def test_add_months_in_sql_clamps_to_month_end(session, world):
    from sqlalchemy import literal, select

    from core.sql import add_months as add_months_sql

    for day, months, want in (
        (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),
        (dt.date(2025, 1, 31), 1, dt.date(2025, 2, 28)),
        (dt.date(2025, 3, 31), 6, dt.date(2025, 9, 30)),
        (dt.date(2025, 12, 15), 14, dt.date(2027, 2, 15)),
    ):
        got = session.scalar(select(add_months_sql(literal(day), literal(months))))
        assert dt.date.fromisoformat(str(got)) == want


def _loan_need(borrower: int, amount: str, *, days: int = 1) -> dict[str, Any]:
    lead = {
        "product": 0, "delay_us": 0, "claim_us": 3_600_000_000, "sla_hours": 8, "outcome": "disbursed",
        "decision_us": 1, "loan_days": 0, "amount": Decimal(amount), "rate": Decimal("4.00"), "term": 12,
        "collateral": "credit", "first": True, "renewal": False,
    }  # fmt: skip
    return {"borrower": borrower, "at_us": days * 86_400_000_000, "amount": Decimal(amount), "renewal": False,
            "matures_days": 0, "status": "disbursed", "leads": [lead]}  # fmt: skip


@pytest.mark.smoke
def test_inclusive_lines_differ_exactly_at_ten_million(session, world):
    insert(
        session,
        world,
        [
            _loan_need(0, "10000000.00"),  # exactly on the line: NFRA yes, PBoC no
            _loan_need(1, "5000000.00"),
            _loan_need(1, "5000000.00", days=2),  # two loans, 10,000,000 together
            _loan_need(2, "9999999.99"),  # below both lines
            _loan_need(3, "10000000.00"),  # a farmer: under neither line
        ],
    )
    window = Window(BASE.date(), BASE.date() + dt.timedelta(days=30))
    got = summary(session, window)
    assert (got["inclusive_loans_pboc"], got["inclusive_loans_nfra"], got["loans"]) == (1, 4, 5)
    by_kind = {i["key"]: i for i in breakdowns.breakdown(session, window, "kind")["items"]}
    assert by_kind["enterprise"]["inclusive_borrowers_nfra"] == 2
    assert by_kind["individual_business"]["inclusive_amount_nfra"] == "10000000.00"
    assert by_kind["individual_business"]["inclusive_amount_pboc"] == "0.00"
