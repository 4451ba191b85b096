"""The matching engine: which loan products can serve a financing need, why the others cannot, which to push.

Pure computation: no I/O, no database, no Flask. The matching service converts rows into the specs below,
calls `evaluate` and stores the picks as leads and the exclusions as explanations.

Hard rules (a product failing any of them is excluded, with every reason it fails):

- region: an empty `region_codes` means every county; otherwise it must hold the borrower's county or the
  city code "360800" (the whole of Ji'an).
- borrower kind, amount within [min_amount, max_amount], term within [min_term_months, max_term_months].
- collateral: a product serves the security it lists. A product that lists `credit` (unsecured) serves a
  borrower offering any security, because a borrower who could pledge or mortgage can also borrow
  unsecured; no other ordering is assumed (a mortgage product cannot take a pledge, nor the reverse).
- industry: `industries_excluded` holds GB/T 4754 codes at any depth ("K", "C25", "2511", "C2511"). The
  borrower is excluded when their code lies inside one: same section and the excluded digits are a prefix
  of theirs. A borrower who gave only a section letter ("C") is not excluded by a deeper code ("C25"):
  the platform cannot tell, and the officer checks. A malformed excluded code is compared literally.
- score: a product with `min_score` excludes borrowers below it, and borrowers without a score yet.
- institutions in `exclude_institutions` (already tried for this need) are excluded.

Ranking: every eligible product gets an expected-value score for the borrower, a weighted sum of
components in [0, 1] plus renewal bonuses. The weights are module constants:

- `WEIGHT_APPROVAL` (0.45): the likelihood that applying leads to a loan matters most; a push that ends in
  a rejection costs the borrower time and the officer a claim. It blends, by `APPROVAL_HISTORY_SHARE`
  (0.6), the institution's past approval rate in the borrower's grade band (A-E, or "none" without a
  score; `APPROVAL_PRIOR` 0.5 when unknown) with the margin of the borrower's score over the product's
  `min_score` (saturating at `SCORE_MARGIN_SPAN` points; 1.0 when the product sets no minimum).
- `WEIGHT_RATE` (0.25): lower `rate_min` is cheaper credit; linear between `RATE_BEST` (3 %, 1.0) and
  `RATE_WORST` (12 %, 0.0), annual percent.
- `WEIGHT_RESPONSE` (0.18): faster claims; `1 / (1 + hours / RESPONSE_HALF_HOURS)`, so a median of 24 h
  scores 0.5. Unknown is neutral (0.5).
- `WEIGHT_LOAD` (0.12): fewer open leads per officer means the lead gets attention;
  `1 / (1 + load / LOAD_HALF)`. Unknown is neutral (0.5).
- On renewal needs, `RENEWAL_TAG_BONUS` (0.10) for `renewal`-tagged products and `INCUMBENT_BONUS` (0.05)
  for the institution holding the maturing loan, which can renew without repayment most easily. These
  are preferences, not rules.

Only the best product per institution is kept, institutions are distinct, and the `top_n` best are
picked. Ties break on score (descending), then `rate_min` (ascending), then product id (ascending).

For many needs against the same catalogue, build a `ProductIndex` with `prepare` once and pass it to
`evaluate` instead of the product sequence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import NamedTuple

from core.i18n import N_
from core.reference import BORROWER_KINDS, CITY_CODE, COLLATERAL_KINDS, REGIONS, industry_section

WEIGHT_APPROVAL = 0.45
WEIGHT_RATE = 0.25
WEIGHT_RESPONSE = 0.18
WEIGHT_LOAD = 0.12
APPROVAL_HISTORY_SHARE = 0.6
APPROVAL_PRIOR = 0.5
SCORE_MARGIN_SPAN = 100
RATE_BEST = 3.0
RATE_WORST = 12.0
RESPONSE_HALF_HOURS = 24.0
LOAD_HALF = 10.0
NEUTRAL = 0.5
RENEWAL_TAG_BONUS = 0.10
INCUMBENT_BONUS = 0.05

# Lowest score of each grade, best first; below the last is "E". Keep in step with the scorecard's grades
# (score 300-900); a BorrowerSpec carrying the scorecard's own grade takes precedence.
SCORE_BANDS: tuple[tuple[int, str], ...] = ((750, "A"), (680, "B"), (620, "C"), (560, "D"))
NO_SCORE_BAND = "none"

CREDIT = "credit"
RENEWAL_TAG = "renewal"

EXCLUSION_TEXTS: dict[str, str] = {
    "region": N_("产品未覆盖申请人所在地区{region}"),
    "borrower_kind": N_("产品不面向{kind}"),
    "amount_below_min": N_("申请金额{amount}元低于产品最低额度{min_amount}元"),
    "amount_above_max": N_("申请金额{amount}元高于产品最高额度{max_amount}元"),
    "term": N_("申请期限{term_months}个月不在产品期限{min_term_months}至{max_term_months}个月范围内"),
    "collateral": N_("产品不接受{collateral}方式，仅接受{accepted}"),
    "industry_excluded": N_("申请人所属行业{industry_code}属于产品限制行业{excluded_code}"),
    "score_below_min": N_("信用评分{score}分低于产品要求的{min_score}分"),
    "no_score": N_("申请人尚无信用评分，产品要求评分不低于{min_score}分"),
    "institution_already_tried": N_("该机构已处理过此融资需求"),
}

SUMMARY_TEXTS: dict[str, str] = {
    "base": N_("{product}：年利率{rate_min}%起，获批可能性{approval_level}"),
    "approval_high": N_("较高"),
    "approval_medium": N_("中等"),
    "approval_low": N_("较低"),
    "response": N_("，该机构通常{hours}小时内响应"),
    "renewal": N_("，支持续贷"),
    "incumbent": N_("，为现有贷款机构"),
    # A public scheme behind the product (ProductSpec.schemes), by the scheme's kind.
    "scheme_guarantee": N_("；该产品有政府性融资担保（{name}）支持"),
    "scheme_reguarantee": N_("；该产品有政府性再担保（{name}）支持"),
    "scheme_compensation_fund": N_("；该产品有风险补偿基金（{name}）覆盖"),
    "scheme_bridge_fund": N_("；到期续贷可申请续贷周转金（{name}）"),
}


@dataclass(frozen=True, slots=True)
class NeedSpec:
    amount: Decimal
    term_months: int
    collateral: str
    is_renewal: bool
    renewal_institution_code: str | None


@dataclass(frozen=True, slots=True)
class BorrowerSpec:
    """`grade` is the scorecard's A-E grade when known; otherwise it is derived from `score`."""

    kind: str
    region_code: str
    industry_code: str
    score: int | None
    grade: str | None = None


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """`rate_min` and `rate_max` are annual percent ("3.85")."""

    id: int
    institution_id: int
    institution_code: str
    name: str
    min_amount: Decimal
    max_amount: Decimal
    min_term_months: int
    max_term_months: int
    rate_min: Decimal
    rate_max: Decimal
    collateral: tuple[str, ...]
    borrower_kinds: tuple[str, ...]
    region_codes: tuple[str, ...]
    industries_excluded: tuple[str, ...]
    min_score: int | None
    tags: tuple[str, ...]
    # The public schemes behind the product: (kind, name), a guarantee by its guarantor's name.
    schemes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class InstitutionStats:
    institution_id: int
    median_hours_to_claim: float | None
    approval_rate_by_band: Mapping[str, float]
    open_leads_per_officer: float | None


@dataclass(frozen=True, slots=True)
class ExclusionReason:
    """`code` is a key of EXCLUSION_TEXTS, `params` its placeholders.

    One result shares a reason between the exclusions it applies to: treat `params` as read-only.
    """

    code: str
    params: dict[str, str]


class Exclusion(NamedTuple):
    """A product that cannot serve the need, with every rule it fails.

    A NamedTuple rather than a frozen dataclass: one is built per excluded product per need, and a frozen
    dataclass costs four times as much to construct, a third of the run time over a large catalogue.
    """

    product_id: int
    institution_id: int
    reasons: tuple[ExclusionReason, ...]


@dataclass(frozen=True, slots=True)
class Pick:
    product_id: int
    institution_id: int
    rank: int
    score: float
    explanation: dict[str, str | float]


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


class _Scope(NamedTuple):
    """An excluded industry code split once, as `industry_within` splits it."""

    code: str
    section: str | None
    digits: str
    literal: str


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


def _scope(code: str) -> _Scope:
    section, digits = _split_industry(code)
    return _Scope(code, section, digits, code.strip().upper())


def _inside(section: str | None, digits: str, literal: str, scope: _Scope) -> bool:
    """`industry_within` on pre-split values: the borrower's code is split once per evaluation."""
    if scope.section is None:
        return bool(scope.literal) and literal.startswith(scope.literal)
    return section == scope.section and digits.startswith(scope.digits)


def describe(reason: ExclusionReason) -> str:
    """The Simplified Chinese sentence for an exclusion reason. Raises KeyError for an unknown code."""
    return EXCLUSION_TEXTS[reason.code].format(**reason.params)


def score_band(score: int | None) -> str:
    """The grade band ("A".."E") of a score, or "none" without one."""
    if score is None:
        return NO_SCORE_BAND
    for lowest, band in SCORE_BANDS:
        if score >= lowest:
            return band
    return "E"


def industry_within(industry_code: str, scope: str) -> bool:
    """Whether a GB/T 4754 code lies inside `scope`, a section letter or a deeper code (see module doc)."""
    scope_section, scope_digits = _split_industry(scope)
    if scope_section is None:
        literal = scope.strip().upper()
        return bool(literal) and industry_code.strip().upper().startswith(literal)
    code_section, code_digits = _split_industry(industry_code)
    return code_section == scope_section and code_digits.startswith(scope_digits)


def _split_industry(code: str) -> tuple[str | None, str]:
    normalized = code.strip().upper()
    digits = normalized[1:] if normalized[:1].isalpha() else normalized
    return industry_section(normalized), digits


def _money(amount: Decimal) -> str:
    if amount == amount.to_integral_value():
        return f"{amount:.0f}"
    return f"{amount:.2f}"


def _clamp(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value


@dataclass(frozen=True, slots=True)
class _InstitutionComponents:
    history: float
    response: float
    load: float
    median_hours: float | None


def _institution_components(stats: InstitutionStats | None, band: str) -> _InstitutionComponents:
    if stats is None:
        return _InstitutionComponents(APPROVAL_PRIOR, NEUTRAL, NEUTRAL, None)
    # A NaN would make the ranking depend on input order; treat anything not finite as unknown.
    rate = _finite(stats.approval_rate_by_band.get(band))
    history = APPROVAL_PRIOR if rate is None else _clamp(rate)
    hours = _finite(stats.median_hours_to_claim)
    response = NEUTRAL if hours is None else 1.0 / (1.0 + max(hours, 0.0) / RESPONSE_HALF_HOURS)
    load_value = _finite(stats.open_leads_per_officer)
    load = NEUTRAL if load_value is None else 1.0 / (1.0 + max(load_value, 0.0) / LOAD_HALF)
    return _InstitutionComponents(history, response, load, hours)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


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
