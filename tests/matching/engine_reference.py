"""The matching engine as it was before it worked on arrays (commit 0828c8e), kept to check the engine.

`evaluate` (a loop over every product, building every exclusion), its ranking and `_summary` (dispatch's
explanation of a need, counting and sorting those exclusions) are that code verbatim. Imported: the
specs, the reason and pick types (so that results compare equal), the constants and texts, and the
helpers that did not change (industry codes, amounts as text, an institution's components).
`tests/matching/test_engine.py` compares the engine with this on random catalogues. Not used by the app.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Any

from core.reference import BORROWER_KINDS, CITY_CODE, COLLATERAL_KINDS, REGIONS
from matching import engine
from matching.dispatch import MAX_EXPLAINED_EXCLUSIONS, MatchContext
from matching.engine import (
    APPROVAL_HISTORY_SHARE,
    INCUMBENT_BONUS,
    RATE_BEST,
    RATE_WORST,
    RENEWAL_TAG_BONUS,
    SCORE_MARGIN_SPAN,
    SUMMARY_TEXTS,
    WEIGHT_APPROVAL,
    WEIGHT_LOAD,
    WEIGHT_RATE,
    WEIGHT_RESPONSE,
    BorrowerSpec,
    Exclusion,
    ExclusionReason,
    InstitutionStats,
    NeedSpec,
    Pick,
    ProductSpec,
    _clamp,
    _institution_components,
    _InstitutionComponents,
    score_band,
)
from matching.engine_arrays import CREDIT, RENEWAL_TAG, _inside, _Scope, _scope
from matching.engine_arrays import money as _money
from matching.engine_arrays import split_industry as _split_industry


@dataclass(frozen=True, slots=True)
class MatchResult:
    picks: tuple[Pick, ...]
    exclusions: tuple[Exclusion, ...]
    eligible_count: int


@dataclass(frozen=True, slots=True)
class _Prepared:
    spec: ProductSpec
    all_regions: bool
    regions: frozenset[str]
    kinds: frozenset[str]
    collateral: frozenset[str]
    any_collateral: bool
    rate: float
    renewal_tagged: bool
    min_amount_text: str
    max_amount_text: str
    accepted_text: str
    industry_scopes: tuple[_Scope, ...]


@dataclass(frozen=True, slots=True)
class ProductIndex:
    """Products checked and pre-computed once for many `evaluate` calls; build it with `prepare`."""

    entries: tuple[_Prepared, ...]

    def __len__(self) -> int:
        return len(self.entries)


def prepare(products: Iterable[ProductSpec]) -> ProductIndex:
    """Pre-compute per-product lookups, in product id order. Raises ValueError on a duplicate product id."""
    specs = sorted(products, key=lambda p: p.id)
    for before, after in pairwise(specs):
        if before.id == after.id:
            raise ValueError(f"duplicate product id {after.id}")
    return ProductIndex(tuple(_prepare_one(spec) for spec in specs))


def _prepare_one(spec: ProductSpec) -> _Prepared:
    regions = frozenset(spec.region_codes)
    return _Prepared(
        spec=spec,
        all_regions=not regions or CITY_CODE in regions,
        regions=regions,
        kinds=frozenset(spec.borrower_kinds),
        collateral=frozenset(spec.collateral),
        any_collateral=CREDIT in spec.collateral,
        rate=float(spec.rate_min),
        renewal_tagged=RENEWAL_TAG in spec.tags,
        min_amount_text=_money(spec.min_amount),
        max_amount_text=_money(spec.max_amount),
        accepted_text="、".join(COLLATERAL_KINDS.get(c, c) for c in spec.collateral),
        industry_scopes=tuple(_scope(code) for code in spec.industries_excluded),
    )


def evaluate(
    need: NeedSpec,
    borrower: BorrowerSpec,
    products: Iterable[ProductSpec] | ProductIndex,
    stats: Mapping[int, InstitutionStats],
    *,
    top_n: int,
    exclude_institutions: frozenset[int] = frozenset(),
) -> MatchResult:
    """Check every product against the need, rank the eligible ones and pick up to `top_n` institutions.

    Exclusions are in product id order. Raises ValueError when `top_n` is negative, or (via `prepare`)
    when product ids repeat.
    """
    if top_n < 0:
        raise ValueError("top_n must not be negative")
    index = products if isinstance(products, ProductIndex) else prepare(products)

    amount = need.amount
    term = need.term_months
    collateral = need.collateral
    region = borrower.region_code
    kind = borrower.kind
    score = borrower.score
    industry = borrower.industry_code
    industry_split = _split_industry(industry)
    industry_literal = industry.strip().upper()
    amount_text = _money(amount)
    collateral_name = COLLATERAL_KINDS.get(collateral, collateral)
    # Reasons are built once per distinct product-side value and shared between the exclusions of this
    # result: a catalogue repeats the same limits many times, and building them dominates the run time.
    region_reason = ExclusionReason("region", {"region_code": region, "region": REGIONS.get(region, region)})
    kind_reason = ExclusionReason(
        "borrower_kind", {"kind_code": kind, "kind": BORROWER_KINDS.get(kind, kind)}
    )
    below: dict[str, ExclusionReason] = {}
    above: dict[str, ExclusionReason] = {}
    terms: dict[tuple[int, int], ExclusionReason] = {}
    collaterals: dict[str, ExclusionReason] = {}
    industries: dict[tuple[str, ...], ExclusionReason | None] = {}
    scores: dict[int, ExclusionReason] = {}
    tried: dict[str, ExclusionReason] = {}

    exclusions: list[Exclusion] = []
    eligible: list[_Prepared] = []
    for entry in index.entries:
        spec = entry.spec
        reasons: list[ExclusionReason] = []
        if not (entry.all_regions or region in entry.regions):
            reasons.append(region_reason)
        if kind not in entry.kinds:
            reasons.append(kind_reason)
        if amount < spec.min_amount:
            reason = below.get(entry.min_amount_text)
            if reason is None:
                reason = below[entry.min_amount_text] = ExclusionReason(
                    "amount_below_min", {"amount": amount_text, "min_amount": entry.min_amount_text}
                )
            reasons.append(reason)
        elif amount > spec.max_amount:
            reason = above.get(entry.max_amount_text)
            if reason is None:
                reason = above[entry.max_amount_text] = ExclusionReason(
                    "amount_above_max", {"amount": amount_text, "max_amount": entry.max_amount_text}
                )
            reasons.append(reason)
        if not spec.min_term_months <= term <= spec.max_term_months:
            bounds = (spec.min_term_months, spec.max_term_months)
            reason = terms.get(bounds)
            if reason is None:
                reason = terms[bounds] = ExclusionReason(
                    "term",
                    {
                        "term_months": str(term),
                        "min_term_months": str(bounds[0]),
                        "max_term_months": str(bounds[1]),
                    },
                )
            reasons.append(reason)
        if not (entry.any_collateral or collateral in entry.collateral):
            reason = collaterals.get(entry.accepted_text)
            if reason is None:
                reason = collaterals[entry.accepted_text] = ExclusionReason(
                    "collateral",
                    {
                        "collateral_code": collateral,
                        "collateral": collateral_name,
                        "accepted": entry.accepted_text,
                    },
                )
            reasons.append(reason)
        if spec.industries_excluded:
            if spec.industries_excluded in industries:
                industry_reason = industries[spec.industries_excluded]
            else:
                excluded_by = next(
                    (
                        scope.code
                        for scope in entry.industry_scopes
                        if _inside(industry_split[0], industry_split[1], industry_literal, scope)
                    ),
                    None,
                )
                industry_reason = industries[spec.industries_excluded] = (
                    None
                    if excluded_by is None
                    else ExclusionReason(
                        "industry_excluded", {"industry_code": industry, "excluded_code": excluded_by}
                    )
                )
            if industry_reason is not None:
                reasons.append(industry_reason)
        if spec.min_score is not None and (score is None or score < spec.min_score):
            reason = scores.get(spec.min_score)
            if reason is None:
                reason = scores[spec.min_score] = (
                    ExclusionReason("no_score", {"min_score": str(spec.min_score)})
                    if score is None
                    else ExclusionReason(
                        "score_below_min", {"score": str(score), "min_score": str(spec.min_score)}
                    )
                )
            reasons.append(reason)
        if spec.institution_id in exclude_institutions:
            reason = tried.get(spec.institution_code)
            if reason is None:
                reason = tried[spec.institution_code] = ExclusionReason(
                    "institution_already_tried", {"institution_code": spec.institution_code}
                )
            reasons.append(reason)
        if reasons:
            exclusions.append(Exclusion(spec.id, spec.institution_id, tuple(reasons)))
        else:
            eligible.append(entry)

    picks = _rank(need, borrower, eligible, stats, top_n)
    return MatchResult(picks=picks, exclusions=tuple(exclusions), eligible_count=len(eligible))


def _rank(
    need: NeedSpec,
    borrower: BorrowerSpec,
    eligible: list[_Prepared],
    stats: Mapping[int, InstitutionStats],
    top_n: int,
) -> tuple[Pick, ...]:
    if top_n == 0 or not eligible:
        return ()
    band = borrower.grade or score_band(borrower.score)
    by_institution: dict[int, _InstitutionComponents] = {}
    best: dict[int, tuple[tuple[float, Decimal, int], _Prepared, tuple[float, ...]]] = {}
    for entry in eligible:
        spec = entry.spec
        institution = by_institution.get(spec.institution_id)
        if institution is None:
            institution = _institution_components(stats.get(spec.institution_id), band)
            by_institution[spec.institution_id] = institution
        components = _components(need, borrower, entry, institution)
        key = (-components[-1], spec.rate_min, spec.id)
        current = best.get(spec.institution_id)
        if current is None or key < current[0]:
            best[spec.institution_id] = (key, entry, components)
    chosen = sorted(best.values(), key=lambda item: item[0])[:top_n]
    return tuple(
        Pick(
            product_id=entry.spec.id,
            institution_id=entry.spec.institution_id,
            rank=rank,
            score=components[-1],
            explanation=_explain(entry, band, components, by_institution[entry.spec.institution_id]),
        )
        for rank, (_, entry, components) in enumerate(chosen, start=1)
    )


def _components(
    need: NeedSpec, borrower: BorrowerSpec, entry: _Prepared, institution: _InstitutionComponents
) -> tuple[float, ...]:
    """(history, margin, approval, rate, response, load, renewal, incumbent, total); total is last."""
    spec = entry.spec
    if spec.min_score is None or borrower.score is None:
        # Eligible with no score means the product sets no minimum: the score is no obstacle.
        margin = 1.0
    else:
        margin = _clamp((borrower.score - spec.min_score) / SCORE_MARGIN_SPAN)
    history = institution.history
    approval = APPROVAL_HISTORY_SHARE * history + (1.0 - APPROVAL_HISTORY_SHARE) * margin
    rate = _clamp((RATE_WORST - entry.rate) / (RATE_WORST - RATE_BEST))
    renewal = RENEWAL_TAG_BONUS if need.is_renewal and entry.renewal_tagged else 0.0
    incumbent = (
        INCUMBENT_BONUS
        if need.is_renewal
        and need.renewal_institution_code is not None
        and need.renewal_institution_code == spec.institution_code
        else 0.0
    )
    total = (
        WEIGHT_APPROVAL * approval
        + WEIGHT_RATE * rate
        + WEIGHT_RESPONSE * institution.response
        + WEIGHT_LOAD * institution.load
        + renewal
        + incumbent
    )
    return (
        history,
        margin,
        approval,
        rate,
        institution.response,
        institution.load,
        renewal,
        incumbent,
        total,
    )


def _explain(
    entry: _Prepared, band: str, components: tuple[float, ...], institution: _InstitutionComponents
) -> dict[str, str | float]:
    history, margin, approval, rate, response, load, renewal, incumbent, total = components
    if approval >= 0.7:
        level = SUMMARY_TEXTS["approval_high"]
    elif approval >= 0.4:
        level = SUMMARY_TEXTS["approval_medium"]
    else:
        level = SUMMARY_TEXTS["approval_low"]
    summary = SUMMARY_TEXTS["base"].format(
        product=entry.spec.name, rate_min=f"{entry.spec.rate_min:.2f}", approval_level=level
    )
    if institution.median_hours is not None:
        summary += SUMMARY_TEXTS["response"].format(hours=str(max(1, math.ceil(institution.median_hours))))
    if renewal:
        summary += SUMMARY_TEXTS["renewal"]
    if incumbent:
        summary += SUMMARY_TEXTS["incumbent"]
    for kind, name in entry.spec.schemes:
        summary += SUMMARY_TEXTS[f"scheme_{kind}"].format(name=name)
    return {
        "score_band": band,
        "approval_history": round(history, 4),
        "score_margin": round(margin, 4),
        "approval": round(approval, 4),
        "rate": round(rate, 4),
        "responsiveness": round(response, 4),
        "load": round(load, 4),
        "renewal_bonus": round(renewal, 4),
        "incumbent_bonus": round(incumbent, 4),
        "total": round(total, 4),
        "summary": summary,
    }


# matching.dispatch._summary at commit 0828c8e
def _summary(result: MatchResult, context: MatchContext) -> dict[str, Any]:
    """Eligible and excluded counts, how many products each rule excluded, the nearest misses."""
    reason_counts = Counter(reason.code for exclusion in result.exclusions for reason in exclusion.reasons)
    nearest = heapq.nsmallest(
        MAX_EXPLAINED_EXCLUSIONS, result.exclusions, key=lambda ex: (len(ex.reasons), ex.product_id)
    )
    return {
        "eligible_count": result.eligible_count,
        "excluded_count": len(result.exclusions),
        "reason_counts": dict(reason_counts),
        "exclusions": [
            {
                "product_id": ex.product_id,
                "product": context.products[ex.product_id].spec.name,
                "institution": context.products[ex.product_id].institution_name,
                "reasons": [
                    {"code": r.code, "params": r.params, "text": engine.describe(r)} for r in ex.reasons
                ],
            }
            for ex in nearest
        ],
    }
