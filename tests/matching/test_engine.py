from __future__ import annotations

import dataclasses
import heapq
import json
import random
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.reference import CITY_CODE
from matching import engine
from matching.dispatch import CatalogueEntry, MatchContext, _summary
from matching.engine import (
    EXCLUSION_TEXTS,
    BorrowerSpec,
    ExclusionReason,
    InstitutionStats,
    NeedSpec,
    ProductSpec,
    describe,
    evaluate,
    prepare,
)
from tests.matching import engine_reference


def need(**overrides: object) -> NeedSpec:
    values: dict[str, object] = {
        "amount": Decimal("300000"),
        "term_months": 12,
        "collateral": "credit",
        "is_renewal": False,
        "renewal_institution_code": None,
    }
    values.update(overrides)
    return NeedSpec(**values)  # type: ignore[arg-type]


def borrower(**overrides: object) -> BorrowerSpec:
    values: dict[str, object] = {
        "kind": "enterprise",
        "region_code": "360802",
        "industry_code": "C1310",
        "score": 720,
    }
    values.update(overrides)
    return BorrowerSpec(**values)  # type: ignore[arg-type]


def product(id: int = 1, institution_id: int | None = None, **overrides: object) -> ProductSpec:
    institution = id if institution_id is None else institution_id
    values: dict[str, object] = {
        "id": id,
        "institution_id": institution,
        "institution_code": f"BANK{institution}",
        "name": f"产品{id}",
        "min_amount": Decimal("10000"),
        "max_amount": Decimal("1000000"),
        "min_term_months": 1,
        "max_term_months": 36,
        "rate_min": Decimal("4.00"),
        "rate_max": Decimal("6.00"),
        "collateral": ("credit",),
        "borrower_kinds": ("enterprise", "individual_business", "farmer"),
        "region_codes": (),
        "industries_excluded": (),
        "min_score": None,
        "tags": (),
    }
    values.update(overrides)
    return ProductSpec(**values)  # type: ignore[arg-type]


def stats(institution_id: int, **overrides: object) -> InstitutionStats:
    values: dict[str, object] = {
        "institution_id": institution_id,
        "median_hours_to_claim": None,
        "approval_rate_by_band": {},
        "open_leads_per_officer": None,
    }
    values.update(overrides)
    return InstitutionStats(**values)  # type: ignore[arg-type]


def codes_for(
    p: ProductSpec, n: NeedSpec | None = None, b: BorrowerSpec | None = None, **kw: object
) -> list[str]:
    result = evaluate(n or need(), b or borrower(), [p], {}, top_n=3, **kw)  # type: ignore[arg-type]
    if not result.exclusions:
        assert result.eligible_count == 1
        return []
    assert result.eligible_count == 0
    (exclusion,) = result.exclusions
    assert exclusion.product_id == p.id
    assert exclusion.institution_id == p.institution_id
    return [reason.code for reason in exclusion.reasons]


# --- exclusion rules --------------------------------------------------------------------------


def test_region_all_county_and_city_wide() -> None:
    assert codes_for(product(region_codes=())) == []
    assert codes_for(product(region_codes=("360802", "360803"))) == []
    assert codes_for(product(region_codes=(CITY_CODE,))) == []
    assert codes_for(product(region_codes=("360803",))) == ["region"]


def test_borrower_kind() -> None:
    assert codes_for(product(borrower_kinds=("farmer",))) == ["borrower_kind"]
    assert codes_for(product(borrower_kinds=("farmer",)), b=borrower(kind="farmer")) == []


def test_amount_bounds_are_inclusive() -> None:
    p = product(min_amount=Decimal("50000"), max_amount=Decimal("500000"))
    assert codes_for(p, need(amount=Decimal("50000"))) == []
    assert codes_for(p, need(amount=Decimal("500000.00"))) == []
    assert codes_for(p, need(amount=Decimal("49999.99"))) == ["amount_below_min"]
    assert codes_for(p, need(amount=Decimal("500000.01"))) == ["amount_above_max"]


def test_term_bounds_are_inclusive() -> None:
    p = product(min_term_months=6, max_term_months=24)
    assert codes_for(p, need(term_months=6)) == []
    assert codes_for(p, need(term_months=24)) == []
    assert codes_for(p, need(term_months=5)) == ["term"]
    assert codes_for(p, need(term_months=25)) == ["term"]


@pytest.mark.parametrize(
    ("offered", "accepted", "eligible"),
    [
        ("credit", ("credit",), True),
        ("mortgage", ("credit",), True),
        ("pledge", ("credit", "mortgage"), True),
        ("mortgage", ("mortgage",), True),
        ("credit", ("mortgage",), False),
        ("pledge", ("mortgage", "guarantee"), False),
        ("guarantee", ("mortgage",), False),
    ],
)
def test_collateral_credit_products_serve_any_security(
    offered: str, accepted: tuple[str, ...], eligible: bool
) -> None:
    codes = codes_for(product(collateral=accepted), need(collateral=offered))
    assert codes == ([] if eligible else ["collateral"])


@pytest.mark.parametrize(
    ("industry", "excluded", "hit"),
    [
        ("K7010", ("K",), True),
        ("7010", ("K",), True),
        ("K", ("K",), True),
        ("C2511", ("C25",), True),
        ("2511", ("C25",), True),
        ("C2511", ("2511",), True),
        ("C2611", ("C25",), False),
        ("C1310", ("K", "J"), False),
        ("F51", ("C",), False),
        # A section alone cannot be placed inside a deeper code; the officer checks.
        ("C", ("C25",), False),
        ("c2511", (" c25 ",), True),
    ],
)
def test_industry_exclusion(industry: str, excluded: tuple[str, ...], hit: bool) -> None:
    codes = codes_for(product(industries_excluded=excluded), b=borrower(industry_code=industry))
    assert codes == (["industry_excluded"] if hit else [])


def test_industry_exclusion_names_the_matching_code() -> None:
    result = evaluate(
        need(), borrower(industry_code="K7010"), [product(industries_excluded=("C25", "K"))], {}, top_n=1
    )
    (reason,) = result.exclusions[0].reasons
    assert reason.params == {"industry_code": "K7010", "excluded_code": "K"}


def test_score_rules() -> None:
    p = product(min_score=650)
    assert codes_for(p, b=borrower(score=650)) == []
    assert codes_for(p, b=borrower(score=649)) == ["score_below_min"]
    assert codes_for(p, b=borrower(score=None)) == ["no_score"]
    assert codes_for(product(min_score=None), b=borrower(score=None)) == []


def test_institution_already_tried() -> None:
    p = product(id=4, institution_id=9)
    assert codes_for(p, exclude_institutions=frozenset({9})) == ["institution_already_tried"]
    assert codes_for(p, exclude_institutions=frozenset({8})) == []


def test_every_failing_rule_is_reported_in_order() -> None:
    p = product(
        region_codes=("360803",),
        borrower_kinds=("farmer",),
        min_amount=Decimal("500000"),
        min_term_months=24,
        collateral=("mortgage",),
        industries_excluded=("C",),
        min_score=800,
    )
    assert codes_for(p, exclude_institutions=frozenset({p.institution_id})) == [
        "region",
        "borrower_kind",
        "amount_below_min",
        "term",
        "collateral",
        "industry_excluded",
        "score_below_min",
        "institution_already_tried",
    ]


def test_every_code_has_a_text_and_describe_fills_it() -> None:
    products = [
        product(1, region_codes=("360803",), borrower_kinds=("farmer",), min_amount=Decimal("500000.50")),
        product(2, max_amount=Decimal("100000"), max_term_months=6, collateral=("mortgage", "pledge")),
        product(3, industries_excluded=("C13",), min_score=800),
    ]
    seen: dict[str, str] = {}
    for b in (borrower(), borrower(score=None)):
        result = evaluate(need(), b, products, {}, top_n=3, exclude_institutions=frozenset({1}))
        for exclusion in result.exclusions:
            for reason in exclusion.reasons:
                seen[reason.code] = describe(reason)
    assert set(seen) == set(EXCLUSION_TEXTS)
    assert seen["amount_below_min"] == "申请金额300000元低于产品最低额度500000.50元"
    assert seen["amount_above_max"] == "申请金额300000元高于产品最高额度100000元"
    assert seen["region"] == "产品未覆盖申请人所在地区吉州区"
    assert seen["collateral"] == "产品不接受信用方式，仅接受抵押、质押"
    assert seen["no_score"] == "申请人尚无信用评分，产品要求评分不低于800分"
    for text in seen.values():
        assert "{" not in text


def test_describe_rejects_unknown_code() -> None:
    with pytest.raises(KeyError):
        describe(ExclusionReason("no_such_rule", {}))


# --- ranking ----------------------------------------------------------------------------------


def test_lower_rate_ranks_first() -> None:
    products = [product(1, rate_min=Decimal("5.50")), product(2, rate_min=Decimal("3.85"))]
    result = evaluate(need(), borrower(), products, {}, top_n=2)
    assert [p.product_id for p in result.picks] == [2, 1]
    assert [p.rank for p in result.picks] == [1, 2]
    assert result.picks[0].score > result.picks[1].score


def test_approval_history_in_the_borrowers_band_ranks() -> None:
    products = [product(1), product(2)]
    history = {
        1: stats(1, approval_rate_by_band={"B": 0.2, "A": 0.99}),
        2: stats(2, approval_rate_by_band={"B": 0.9, "A": 0.1}),
    }
    b_band = evaluate(need(), borrower(score=700), products, history, top_n=2)
    a_band = evaluate(need(), borrower(score=800), products, history, top_n=2)
    assert [p.product_id for p in b_band.picks] == [2, 1]
    assert [p.product_id for p in a_band.picks] == [1, 2]
    assert b_band.picks[0].explanation["score_band"] == "B"
    # The scorecard's own grade takes precedence over the engine's cut-offs.
    graded = evaluate(need(), borrower(score=700, grade="A"), products, history, top_n=2)
    assert [p.product_id for p in graded.picks] == [1, 2]


def test_unknown_history_uses_the_prior() -> None:
    products = [product(1), product(2)]
    history = {2: stats(2, approval_rate_by_band={"B": engine.APPROVAL_PRIOR + 0.1})}
    result = evaluate(need(), borrower(score=700), products, history, top_n=2)
    assert [p.product_id for p in result.picks] == [2, 1]
    assert result.picks[1].explanation["approval_history"] == engine.APPROVAL_PRIOR


def test_score_margin_prefers_comfortable_clearance() -> None:
    products = [product(1, min_score=700), product(2, min_score=600)]
    result = evaluate(need(), borrower(score=710), products, {}, top_n=2)
    assert [p.product_id for p in result.picks] == [2, 1]
    assert result.picks[0].explanation["score_margin"] == 1.0
    assert result.picks[1].explanation["score_margin"] == pytest.approx(0.1)


def test_faster_and_less_loaded_institutions_rank_first() -> None:
    products = [product(1), product(2)]
    slow = {1: stats(1, median_hours_to_claim=40.0), 2: stats(2, median_hours_to_claim=2.0)}
    assert [p.product_id for p in evaluate(need(), borrower(), products, slow, top_n=2).picks] == [2, 1]
    busy = {1: stats(1, open_leads_per_officer=1.0), 2: stats(2, open_leads_per_officer=30.0)}
    assert [p.product_id for p in evaluate(need(), borrower(), products, busy, top_n=2).picks] == [1, 2]
    # Unknown responsiveness is neutral: better than slow, worse than fast.
    mixed = {1: stats(1, median_hours_to_claim=2.0), 3: stats(3, median_hours_to_claim=200.0)}
    trio = [product(1), product(2), product(3)]
    assert [p.product_id for p in evaluate(need(), borrower(), trio, mixed, top_n=3).picks] == [1, 2, 3]


def test_renewal_prefers_renewal_products_and_the_incumbent() -> None:
    products = [
        product(1, rate_min=Decimal("3.50")),
        product(2, rate_min=Decimal("4.00"), tags=("renewal",)),
        product(3, rate_min=Decimal("4.00")),
    ]
    plain = evaluate(need(), borrower(), products, {}, top_n=3)
    assert [p.product_id for p in plain.picks] == [1, 2, 3]
    renewal = evaluate(
        need(is_renewal=True, renewal_institution_code="BANK3"), borrower(), products, {}, top_n=3
    )
    assert [p.product_id for p in renewal.picks] == [2, 3, 1]
    assert renewal.picks[0].explanation["renewal_bonus"] == engine.RENEWAL_TAG_BONUS
    assert renewal.picks[1].explanation["incumbent_bonus"] == engine.INCUMBENT_BONUS
    # The incumbent's code on a need that is not a renewal earns nothing.
    not_renewal = evaluate(need(renewal_institution_code="BANK3"), borrower(), products, {}, top_n=3)
    assert [p.product_id for p in not_renewal.picks] == [1, 2, 3]


def test_ties_break_on_rate_then_product_id() -> None:
    # rate_min above RATE_WORST scores 0 whatever it is, so these tie on score.
    products = [
        product(5, rate_min=Decimal("14.00")),
        product(3, rate_min=Decimal("13.00")),
        product(4, rate_min=Decimal("13.00")),
    ]
    result = evaluate(need(), borrower(), products, {}, top_n=3)
    assert len({p.score for p in result.picks}) == 1
    assert [p.product_id for p in result.picks] == [3, 4, 5]


def test_one_product_per_institution_and_top_n() -> None:
    products = [
        product(1, institution_id=10, rate_min=Decimal("4.50")),
        product(2, institution_id=10, rate_min=Decimal("3.50")),
        product(3, institution_id=20, rate_min=Decimal("4.00")),
        product(4, institution_id=30, rate_min=Decimal("5.00")),
    ]
    result = evaluate(need(), borrower(), products, {}, top_n=2)
    assert [(p.product_id, p.institution_id) for p in result.picks] == [(2, 10), (3, 20)]
    assert result.eligible_count == 4
    assert result.exclusions == ()
    assert evaluate(need(), borrower(), products, {}, top_n=0).picks == ()
    assert len(evaluate(need(), borrower(), products, {}, top_n=10).picks) == 3


def test_excluded_institutions_are_skipped() -> None:
    products = [product(1, institution_id=10, rate_min=Decimal("3.00")), product(2, institution_id=20)]
    result = evaluate(need(), borrower(), products, {}, top_n=2, exclude_institutions=frozenset({10}))
    assert [p.institution_id for p in result.picks] == [20]
    assert [e.product_id for e in result.exclusions] == [1]


def test_explanation_is_json_serialisable_with_a_chinese_summary() -> None:
    products = [product(1, name="井冈快贷", rate_min=Decimal("3.85"), tags=("renewal",))]
    history = {1: stats(1, median_hours_to_claim=3.2, approval_rate_by_band={"B": 0.8})}
    result = evaluate(need(is_renewal=True), borrower(score=700), products, history, top_n=1)
    explanation = result.picks[0].explanation
    assert json.loads(json.dumps(explanation, ensure_ascii=False)) == explanation
    assert (
        explanation["summary"] == "井冈快贷：年利率3.85%起，获批可能性较高，该机构通常4小时内响应，支持续贷"
    )
    assert explanation["total"] == pytest.approx(result.picks[0].score, abs=1e-4)


def test_a_product_under_a_public_scheme_says_so() -> None:
    schemes = (("guarantee", "吉庐陵融资担保"), ("compensation_fund", "科贷通风险补偿资金"))
    products = [product(1, name="科技贷", rate_min=Decimal("3.85"), schemes=schemes)]
    (pick,) = evaluate(need(), borrower(score=700), products, {}, top_n=1).picks
    assert pick.explanation["summary"].endswith(
        "；该产品有政府性融资担保（吉庐陵融资担保）支持；该产品有风险补偿基金（科贷通风险补偿资金）覆盖"
    )
    (plain,) = evaluate(need(), borrower(score=700), [product(1)], {}, top_n=1).picks
    assert "政府性" not in plain.explanation["summary"] and "风险补偿" not in plain.explanation["summary"]


def test_negative_top_n_and_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="top_n"):
        evaluate(need(), borrower(), [product(1)], {}, top_n=-1)
    with pytest.raises(ValueError, match="duplicate"):
        prepare([product(1), product(1, institution_id=2)])


def test_prepared_index_gives_the_same_result() -> None:
    products = [product(i, institution_id=i % 3, rate_min=Decimal(3 + i % 4)) for i in range(1, 12)]
    products.append(product(20, region_codes=("360803",)))
    index = prepare(products)
    assert len(index) == len(products)
    assert evaluate(need(), borrower(), index, {}, top_n=3) == evaluate(
        need(), borrower(), products, {}, top_n=3
    )


# --- properties -------------------------------------------------------------------------------

REGIONS = ("360802", "360803", "360821", CITY_CODE)
KINDS = ("enterprise", "individual_business", "farmer")
COLLATERALS = ("credit", "mortgage", "guarantee", "pledge")
INDUSTRIES = ("A01", "C1310", "C25", "K", "7010", "F51")


def _reference_eligible(
    p: ProductSpec, n: NeedSpec, b: BorrowerSpec, excluded_institutions: frozenset[int]
) -> bool:
    """The hard rules restated plainly, independent of the engine's pre-computed index."""
    regions_ok = not p.region_codes or b.region_code in p.region_codes or CITY_CODE in p.region_codes
    collateral_ok = n.collateral in p.collateral or "credit" in p.collateral
    industry_ok = not any(engine.industry_within(b.industry_code, code) for code in p.industries_excluded)
    score_ok = p.min_score is None or (b.score is not None and b.score >= p.min_score)
    return (
        regions_ok
        and b.kind in p.borrower_kinds
        and p.min_amount <= n.amount <= p.max_amount
        and p.min_term_months <= n.term_months <= p.max_term_months
        and collateral_ok
        and industry_ok
        and score_ok
        and p.institution_id not in excluded_institutions
    )


@st.composite
def products_strategy(draw: st.DrawFn) -> list[ProductSpec]:
    ids = draw(st.lists(st.integers(1, 500), min_size=0, max_size=25, unique=True))
    result = []
    for product_id in ids:
        low = draw(st.sampled_from([10_000, 50_000, 200_000]))
        term_low = draw(st.integers(1, 12))
        result.append(
            product(
                product_id,
                institution_id=draw(st.integers(1, 6)),
                min_amount=Decimal(low),
                max_amount=Decimal(low * draw(st.integers(1, 20))),
                min_term_months=term_low,
                max_term_months=term_low + draw(st.integers(0, 36)),
                rate_min=Decimal(draw(st.integers(300, 1400))) / 100,
                collateral=tuple(draw(st.sets(st.sampled_from(COLLATERALS), min_size=1))),
                borrower_kinds=tuple(draw(st.sets(st.sampled_from(KINDS), min_size=1))),
                region_codes=tuple(draw(st.sets(st.sampled_from(REGIONS), max_size=2))),
                industries_excluded=tuple(draw(st.sets(st.sampled_from(INDUSTRIES), max_size=2))),
                min_score=draw(st.none() | st.integers(500, 800)),
                tags=tuple(draw(st.sets(st.sampled_from(["renewal", "first_loan", "agri"])))),
            )
        )
    return result


needs_strategy = st.builds(
    NeedSpec,
    amount=st.integers(5_000, 2_000_000).map(Decimal),
    term_months=st.integers(1, 60),
    collateral=st.sampled_from(COLLATERALS),
    is_renewal=st.booleans(),
    renewal_institution_code=st.none() | st.sampled_from(["BANK1", "BANK2"]),
)
borrowers_strategy = st.builds(
    BorrowerSpec,
    kind=st.sampled_from(KINDS),
    region_code=st.sampled_from(REGIONS[:3]),
    industry_code=st.sampled_from(INDUSTRIES),
    score=st.none() | st.integers(300, 900),
)
stats_strategy = st.dictionaries(
    st.integers(1, 6),
    st.builds(
        InstitutionStats,
        institution_id=st.just(0),
        median_hours_to_claim=st.none() | st.floats(0, 200),
        approval_rate_by_band=st.dictionaries(
            st.sampled_from(["A", "B", "C", "D", "E", "none"]), st.floats(0, 1), max_size=6
        ),
        open_leads_per_officer=st.none() | st.floats(0, 50),
    ),
)


@settings(max_examples=100, deadline=None)
@given(
    n=needs_strategy,
    b=borrowers_strategy,
    products=products_strategy(),
    history=stats_strategy,
    top_n=st.integers(0, 5),
    excluded=st.frozensets(st.integers(1, 6), max_size=2),
    seed=st.integers(0, 2**32),
)
def test_picks_are_eligible_distinct_bounded_and_order_independent(
    n: NeedSpec,
    b: BorrowerSpec,
    products: list[ProductSpec],
    history: dict[int, InstitutionStats],
    top_n: int,
    excluded: frozenset[int],
    seed: int,
) -> None:
    history = {i: dataclasses.replace(s, institution_id=i) for i, s in history.items()}
    result = evaluate(n, b, products, history, top_n=top_n, exclude_institutions=excluded)
    by_id = {p.id: p for p in products}
    eligible = {p.id for p in products if _reference_eligible(p, n, b, excluded)}

    assert {e.product_id for e in result.exclusions} == set(by_id) - eligible
    assert all(e.reasons for e in result.exclusions)
    assert result.eligible_count == len(eligible)
    assert {p.product_id for p in result.picks} <= eligible
    institutions = [p.institution_id for p in result.picks]
    assert len(institutions) == len(set(institutions))
    assert len(result.picks) == min(top_n, len({by_id[i].institution_id for i in eligible}))
    assert [p.rank for p in result.picks] == list(range(1, len(result.picks) + 1))
    assert [p.score for p in result.picks] == sorted((p.score for p in result.picks), reverse=True)
    for pick in result.picks:
        assert by_id[pick.product_id].institution_id == pick.institution_id
        json.dumps(pick.explanation)
    for exclusion in result.exclusions:
        for reason in exclusion.reasons:
            assert "{" not in describe(reason)

    shuffled = list(products)
    random.Random(seed).shuffle(shuffled)
    assert evaluate(n, b, shuffled, history, top_n=top_n, exclude_institutions=excluded) == result


@settings(max_examples=100, deadline=None)
@given(
    n=needs_strategy,
    b=borrowers_strategy,
    products=products_strategy(),
    history=stats_strategy,
    top_n=st.integers(1, 5),
)
def test_each_pick_is_its_institutions_best_and_the_best_institutions_win(
    n: NeedSpec,
    b: BorrowerSpec,
    products: list[ProductSpec],
    history: dict[int, InstitutionStats],
    top_n: int,
) -> None:
    history = {i: dataclasses.replace(s, institution_id=i) for i, s in history.items()}
    result = evaluate(n, b, products, history, top_n=top_n)
    # A product's score does not depend on the rest of the catalogue, so scoring each alone ranks them all.
    keys = {}
    for p in products:
        (alone,) = evaluate(n, b, [p], history, top_n=1).picks or (None,)
        if alone is not None:
            keys[p.id] = ((-alone.score, p.rate_min, p.id), p.institution_id)
    best_by_institution: dict[int, tuple[object, ...]] = {}
    for key, institution in keys.values():
        best_by_institution[institution] = min(best_by_institution.get(institution, key), key)  # type: ignore[type-var]
    expected = sorted(best_by_institution.values())[:top_n]  # type: ignore[type-var]
    assert [keys[p.product_id][0] for p in result.picks] == expected


def test_non_finite_statistics_count_as_unknown() -> None:
    nan = float("nan")
    history = {
        1: stats(1, median_hours_to_claim=nan, approval_rate_by_band={"B": nan}, open_leads_per_officer=nan)
    }
    explanation = evaluate(need(), borrower(score=700), [product(1)], history, top_n=1).picks[0].explanation
    assert explanation["approval_history"] == engine.APPROVAL_PRIOR
    assert explanation["responsiveness"] == engine.NEUTRAL
    assert explanation["load"] == engine.NEUTRAL
    assert json.loads(json.dumps(explanation)) == explanation


# --- the same results as the loop over products (tests/matching/engine_reference.py) -------------------

COUNTIES = ("360802", "360803", "360821", "360822")
INDUSTRY_SCOPES = ("K", "C25", "2511", "C2511", " c25 ", "", "ZZ9", "C99", "A", "C", "13", "X1", "C13")
BORROWER_INDUSTRIES = ("C2511", "2511", "C", "K7010", "A0111", "", "c2511 ", "X1", "C25", "1310", "C1310")
AMOUNTS = ("10000", "50000", "50000.50", "300000", "300000.00", "1000000", "99999.995", "0")
RATES = ("2.50", "3.45", "4.0", "4.00", "4.20", "12.00", "13.00", "14.50")


def _random_catalogue(rng: random.Random, size: int) -> list[ProductSpec]:
    """Duplicated limits and rates, empty and city-wide regions, `credit`, malformed and nested codes."""
    codes = {i: f"BANK{i}" for i in range(1, 9)}
    products = []
    for product_id in rng.sample(range(1, 10 * size + 10), size):
        institution = rng.randint(1, 8)
        if rng.random() < 0.3:  # open to almost any need: many eligible, equal scores
            products.append(
                product(
                    product_id,
                    institution_id=institution,
                    institution_code=codes[institution],
                    min_amount=Decimal(0),
                    rate_min=Decimal(rng.choice(RATES)),
                    min_term_months=1,
                    max_term_months=60,
                    borrower_kinds=KINDS,
                    tags=rng.choice([(), ("renewal",)]),
                )
            )
            continue
        low, high = sorted(Decimal(a) for a in rng.choices(AMOUNTS, k=2))
        term_low = rng.choice([1, 3, 6, 12])
        products.append(
            product(
                product_id,
                institution_id=institution,
                institution_code=codes[institution],
                min_amount=low,
                max_amount=high if rng.random() < 0.9 else low,
                min_term_months=term_low,
                max_term_months=rng.choice([term_low, 12, 24, 36, 60]) if rng.random() < 0.95 else 2,
                rate_min=Decimal(rng.choice(RATES)),
                collateral=tuple(rng.sample(COLLATERALS, rng.randint(0 if rng.random() < 0.05 else 1, 3))),
                borrower_kinds=tuple(rng.sample(KINDS, rng.randint(0 if rng.random() < 0.05 else 1, 3))),
                region_codes=rng.choice(
                    [(), (CITY_CODE,), tuple(rng.sample(COUNTIES, 2)), (rng.choice(COUNTIES),), ("999999",)]
                ),
                industries_excluded=tuple(rng.sample(INDUSTRY_SCOPES, rng.choice([0, 0, 1, 2, 3]))),
                min_score=rng.choice([None, None, 560, 620, 680, 750]),
                tags=tuple(rng.sample(["renewal", "first_loan", "agri"], rng.randint(0, 2))),
                schemes=(("guarantee", "吉庐陵融资担保"),) if rng.random() < 0.1 else (),
            )
        )
    return products


def _random_stats(rng: random.Random) -> dict[int, InstitutionStats]:
    values = [None, float("nan"), float("inf"), -3.0, 0.0, 2.5, 24.0, 100.0]
    result = {}
    for institution in rng.sample(range(1, 9), rng.randint(0, 8)):
        bands = rng.sample(["A", "B", "C", "D", "E", "none"], rng.randint(0, 6))
        result[institution] = stats(
            institution,
            median_hours_to_claim=rng.choice(values),
            approval_rate_by_band={
                band: rng.choice([float("nan"), -0.5, 0.0, 0.3, 0.55, 0.8, 1.0, 1.7]) for band in bands
            },
            open_leads_per_officer=rng.choice(values),
        )
    return result


def _random_need(rng: random.Random) -> tuple[NeedSpec, BorrowerSpec]:
    renewal = rng.random() < 0.4
    return (
        need(
            amount=Decimal(rng.choice((*AMOUNTS, "49999.99", "50000.49", "1000000.01", "300000.001"))),
            term_months=rng.choice([1, 2, 3, 6, 12, 24, 36, 60, 61]),
            collateral=rng.choice((*COLLATERALS, "other")),
            is_renewal=renewal,
            renewal_institution_code=rng.choice([None, "BANK1", "BANK3", "NOPE"]),
        ),
        borrower(
            kind=rng.choice((*KINDS, "cooperative")),
            region_code=rng.choice((*COUNTIES, CITY_CODE)),
            industry_code=rng.choice(BORROWER_INDUSTRIES),
            score=rng.choice([None, 300, 559, 560, 619, 620, 700, 750, 900, rng.randint(300, 900)]),
            grade=rng.choice([None, None, "A", "C", "E"]),
        ),
    )


def _summary_json(summary: dict[str, object]) -> str:
    return json.dumps(summary, ensure_ascii=False)


@pytest.mark.parametrize("seed", range(6))
def test_the_engine_gives_what_the_loop_over_products_gave(seed: int) -> None:
    """Picks (scores to the bit), counts, every exclusion's reasons, the nearest misses and the stored
    explanation are those of the engine before it worked on arrays, on random catalogues and needs."""
    rng = random.Random(seed)
    seen_codes: set[str] = set()
    seen = {"incumbent": 0, "renewal": 0, "tie": 0, "nearest_cut": 0, "picks": 0}
    for size in (0, 1, 3, 40, 300):
        catalogue = _random_catalogue(rng, size)
        index = prepare(catalogue)
        history = _random_stats(rng)
        context = MatchContext(
            index=index,
            products={p.id: CatalogueEntry(p, f"机构{p.institution_id}", 8) for p in catalogue},
            stats=history,
            institution_count=len({p.institution_id for p in catalogue}),
            calendar=None,  # type: ignore[arg-type]  # _summary does not read it
        )
        for _ in range(60):
            n, b = _random_need(rng)
            top_n = rng.choice([0, 1, 3, 5])
            tried = frozenset(rng.sample(range(1, 9), rng.choice([0, 0, 1, 3])))
            products = index if rng.random() < 0.8 else rng.sample(catalogue, len(catalogue))
            result = evaluate(n, b, products, history, top_n=top_n, exclude_institutions=tried)
            expected = engine_reference.evaluate(
                n, b, catalogue, history, top_n=top_n, exclude_institutions=tried
            )
            # The stored explanation first, before `exclusions` is built and cached.
            assert _summary_json(_summary(result, context)) == _summary_json(
                engine_reference._summary(expected, context)
            )
            assert result.picks == expected.picks
            assert [p.score.hex() for p in result.picks] == [p.score.hex() for p in expected.picks]
            assert [_summary_json(p.explanation) for p in result.picks] == [
                _summary_json(p.explanation) for p in expected.picks
            ]
            assert result.eligible_count == expected.eligible_count
            assert result.excluded_count == len(expected.exclusions)
            counted = Counter(r.code for e in expected.exclusions for r in e.reasons)
            assert list(result.reason_counts.items()) == list(counted.items())
            nearest = heapq.nsmallest(7, expected.exclusions, key=lambda e: (len(e.reasons), e.product_id))
            assert result.nearest_exclusions(7) == tuple(nearest)
            assert result.exclusions == expected.exclusions
            assert result == dataclasses.replace(result, picks=result.picks)

            seen_codes.update(counted)
            seen["nearest_cut"] += len(expected.exclusions) > 7
            seen["picks"] += len(result.picks)
            seen["incumbent"] += any(p.explanation["incumbent_bonus"] for p in result.picks)
            seen["renewal"] += any(p.explanation["renewal_bonus"] for p in result.picks)
            scores = [p.score for p in result.picks]
            seen["tie"] += len(scores) != len(set(scores))
    # Not equal by accident: every rule excluded something, and every kind of pick was made.
    assert seen_codes == set(EXCLUSION_TEXTS)
    assert all(seen.values()), seen


@pytest.mark.parametrize("seed", range(4))
def test_the_borrower_side_rules_admit_what_probing_each_product_admitted(seed: int) -> None:
    """`ProductIndex.admits` (the 金融超市's 适合我 filter, matching.advice.fitting_product_ids) against
    what it replaced: one evaluation per product of a need that product surely takes (its lowest amount,
    shortest term and first security)."""
    rng = random.Random(seed)
    admitted_somewhere = refused_somewhere = 0
    for size in (0, 1, 40, 300):
        catalogue = _random_catalogue(rng, size)
        index = prepare(catalogue)
        for _ in range(30):
            _n, b = _random_need(rng)
            shown = index.admits(
                region=b.region_code, kind=b.kind, industry_code=b.industry_code, score=b.score
            )
            got = {spec.id for spec, yes in zip(index.specs, shown.tolist(), strict=True) if yes}
            expected = {
                spec.id
                for spec in catalogue
                if engine_reference.evaluate(
                    need(
                        amount=spec.min_amount,
                        term_months=spec.min_term_months,
                        collateral=spec.collateral[0] if spec.collateral else "credit",
                    ),
                    b,
                    [spec],
                    {},
                    top_n=0,
                ).eligible_count
            }
            assert got == expected
            admitted_somewhere += bool(expected)
            refused_somewhere += len(expected) < size
    assert admitted_somewhere and refused_somewhere
