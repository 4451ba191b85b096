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
`evaluate` instead of the product sequence. The rules are checked for the whole catalogue at once, on
arrays (`matching.engine_arrays`); an excluded product's reasons are built only when they are read
(`MatchResult.exclusions`, `MatchResult.nearest_exclusions`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from core.i18n import N_
from core.reference import BORROWER_KINDS, COLLATERAL_KINDS, REGIONS
from matching.engine_arrays import RENEWAL_TAG, Failures, money, split_industry
from matching.engine_arrays import ProductIndex as ProductIndex
from matching.engine_arrays import prepare as prepare

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

    A NamedTuple rather than a frozen dataclass: reading `MatchResult.exclusions` builds one per excluded
    product, and a frozen dataclass costs four times as much to construct.
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


@dataclass(frozen=True, eq=False)
class MatchResult:
    """The engine's verdict on one need.

    `reason_counts` maps each rule code to the number of excluded products failing it, in the order the
    codes first appear in `exclusions`. `exclusions` (every excluded product, in product id order) is
    built on first read; `nearest_exclusions` builds only the few it returns.
    """

    picks: tuple[Pick, ...]
    eligible_count: int
    excluded_count: int
    _explainer: _Explainer = field(repr=False)

    @cached_property
    def reason_counts(self) -> Mapping[str, int]:
        return _reason_counts(self._explainer.failures)

    @cached_property
    def exclusions(self) -> tuple[Exclusion, ...]:
        return self._explainer.exclusions(np.flatnonzero(self._explainer.failures.count))

    def nearest_exclusions(self, limit: int) -> tuple[Exclusion, ...]:
        """The `limit` excluded products failing the fewest rules, ties by product id."""
        count = self._explainer.failures.count
        excluded = np.flatnonzero(count)
        nearest = excluded[np.argsort(count[excluded], kind="stable")[: max(limit, 0)]]
        return self._explainer.exclusions(nearest)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MatchResult):
            return NotImplemented
        return (self.picks, self.eligible_count, self.exclusions) == (
            other.picks,
            other.eligible_count,
            other.exclusions,
        )


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
    scope_section, scope_digits = split_industry(scope)
    if scope_section is None:
        literal = scope.strip().upper()
        return bool(literal) and industry_code.strip().upper().startswith(literal)
    code_section, code_digits = split_industry(industry_code)
    return code_section == scope_section and code_digits.startswith(scope_digits)


def _clamp(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value


def _clamp_all(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """`_clamp` elementwise: the same comparisons, so the same floats."""
    return np.where(values < 0.0, 0.0, np.where(values > 1.0, 1.0, values))


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
    failures = index.failures(
        amount=need.amount,
        term_months=need.term_months,
        collateral=need.collateral,
        region=borrower.region_code,
        kind=borrower.kind,
        industry_code=borrower.industry_code,
        score=borrower.score,
        exclude_institutions=exclude_institutions,
    )
    eligible = np.flatnonzero(failures.count == 0)
    return MatchResult(
        picks=_rank(need, borrower, index, eligible, stats, top_n),
        eligible_count=len(eligible),
        excluded_count=len(index) - len(eligible),
        _explainer=_Explainer(need, borrower, index, failures),
    )


def _reason_counts(failures: Failures) -> dict[str, int]:
    """Products failing each rule, the codes in the order a walk of the exclusions meets them first."""
    found = []
    for order, (code, mask) in enumerate(failures.rules):
        count = int(np.count_nonzero(mask))
        if count:
            found.append((int(mask.argmax()), order, code, count))
    return {code: count for _first, _order, code, count in sorted(found)}


class _Explainer:
    """Builds the exclusions of one result on demand, from its failing rules.

    Reasons are built once per distinct product-side value and shared between the exclusions of the
    result: a catalogue repeats the same limits many times.
    """

    def __init__(self, need: NeedSpec, borrower: BorrowerSpec, index: ProductIndex, failures: Failures):
        self.index = index
        self.failures = failures
        self.need = need
        self.borrower = borrower
        self.shared: dict[tuple[str, object], ExclusionReason] = {}

    def exclusions(self, positions: NDArray[np.intp]) -> tuple[Exclusion, ...]:
        specs = self.index.specs
        failing = [(code, mask[positions].tolist()) for code, mask in self.failures.rules]
        result = []
        for i, position in enumerate(positions.tolist()):
            spec = specs[position]
            reasons = tuple(self.reason(code, position) for code, fails in failing if fails[i])
            result.append(Exclusion(spec.id, spec.institution_id, reasons))
        return tuple(result)

    def reason(self, code: str, position: int) -> ExclusionReason:
        index = self.index
        spec = index.specs[position]
        key: object
        if code == "amount_below_min":
            key = index.min_amount_texts[position]
        elif code == "amount_above_max":
            key = index.max_amount_texts[position]
        elif code == "term":
            key = (spec.min_term_months, spec.max_term_months)
        elif code == "collateral":
            key = index.accepted_texts[position]
        elif code == "industry_excluded":
            key = self.failures.industry.code_by_group[index.industry_group[position]]
        elif code in ("score_below_min", "no_score"):
            key = spec.min_score
        elif code == "institution_already_tried":
            key = spec.institution_code
        else:  # region, borrower_kind: the borrower's alone
            key = None
        reason = self.shared.get((code, key))
        if reason is None:
            reason = self.shared[(code, key)] = ExclusionReason(code, self.params(code, position))
        return reason

    def params(self, code: str, position: int) -> dict[str, str]:
        need, borrower, index = self.need, self.borrower, self.index
        spec = index.specs[position]
        if code == "region":
            region = borrower.region_code
            return {"region_code": region, "region": REGIONS.get(region, region)}
        if code == "borrower_kind":
            kind = borrower.kind
            return {"kind_code": kind, "kind": BORROWER_KINDS.get(kind, kind)}
        if code == "amount_below_min":
            return {"amount": money(need.amount), "min_amount": index.min_amount_texts[position]}
        if code == "amount_above_max":
            return {"amount": money(need.amount), "max_amount": index.max_amount_texts[position]}
        if code == "term":
            return {
                "term_months": str(need.term_months),
                "min_term_months": str(spec.min_term_months),
                "max_term_months": str(spec.max_term_months),
            }
        if code == "collateral":
            collateral = need.collateral
            return {
                "collateral_code": collateral,
                "collateral": COLLATERAL_KINDS.get(collateral, collateral),
                "accepted": index.accepted_texts[position],
            }
        if code == "industry_excluded":
            excluded = self.failures.industry.code_by_group[index.industry_group[position]]
            assert excluded is not None
            return {"industry_code": borrower.industry_code, "excluded_code": excluded}
        if code == "no_score":
            return {"min_score": str(spec.min_score)}
        if code == "score_below_min":
            return {"score": str(borrower.score), "min_score": str(spec.min_score)}
        return {"institution_code": spec.institution_code}


# Up to this many eligible products are scored one at a time (`_components`), more all at once
# (`_components_all`), with the same floats: numpy's fixed cost per operation outweighs a handful of
# products, and one-product catalogues are common (the requested product, a re-matching probe).
FEW_ELIGIBLE = 8


def _rank(
    need: NeedSpec,
    borrower: BorrowerSpec,
    index: ProductIndex,
    eligible: NDArray[np.intp],
    stats: Mapping[int, InstitutionStats],
    top_n: int,
) -> tuple[Pick, ...]:
    if top_n == 0 or not len(eligible):
        return ()
    band = borrower.grade or score_band(borrower.score)
    institution_of = index.institution_number[eligible]
    by_institution = {
        number: _institution_components(stats.get(index.institution_ids[number]), band)
        for number in set(institution_of.tolist())
    }
    chosen: list[tuple[int, tuple[float, ...]]]  # (position, components), best first
    if len(eligible) <= FEW_ELIGIBLE:
        best: dict[int, tuple[tuple[float, Decimal, int], int, tuple[float, ...]]] = {}
        for position, number in zip(eligible.tolist(), institution_of.tolist(), strict=True):
            spec = index.specs[position]
            components = _components(need, borrower, spec, by_institution[number])
            key = (-components[-1], spec.rate_min, spec.id)
            current = best.get(number)
            if current is None or key < current[0]:
                best[number] = (key, position, components)
        chosen = [(position, components) for _, position, components in sorted(best.values())[:top_n]]
    else:
        columns = _components_all(need, borrower, index, eligible, institution_of, by_institution)
        total = columns[-1]
        # Best first: score descending, then rate_min ascending, then product id (= position) ascending.
        order = np.lexsort((eligible, index.rate_order[eligible], -total))
        _, first = np.unique(institution_of[order], return_index=True)
        rows = [column.tolist() for column in columns]
        chosen = [
            (int(eligible[i]), tuple(row[i] for row in rows)) for i in order[np.sort(first)][:top_n].tolist()
        ]
    picks = []
    for rank, (position, components) in enumerate(chosen, start=1):
        spec = index.specs[position]
        institution = by_institution[int(index.institution_number[position])]
        picks.append(
            Pick(
                product_id=spec.id,
                institution_id=spec.institution_id,
                rank=rank,
                score=components[-1],
                explanation=_explain(spec, band, components, institution),
            )
        )
    return tuple(picks)


def _components(
    need: NeedSpec, borrower: BorrowerSpec, spec: ProductSpec, institution: _InstitutionComponents
) -> tuple[float, ...]:
    """(history, margin, approval, rate, response, load, renewal, incumbent, total); total is last."""
    if spec.min_score is None or borrower.score is None:
        # Eligible with no score means the product sets no minimum: the score is no obstacle.
        margin = 1.0
    else:
        margin = _clamp((borrower.score - spec.min_score) / SCORE_MARGIN_SPAN)
    history = institution.history
    approval = APPROVAL_HISTORY_SHARE * history + (1.0 - APPROVAL_HISTORY_SHARE) * margin
    rate = _clamp((RATE_WORST - float(spec.rate_min)) / (RATE_WORST - RATE_BEST))
    renewal = RENEWAL_TAG_BONUS if need.is_renewal and RENEWAL_TAG in spec.tags else 0.0
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


def _components_all(
    need: NeedSpec,
    borrower: BorrowerSpec,
    index: ProductIndex,
    eligible: NDArray[np.intp],
    institution_of: NDArray[np.intp],
    by_institution: Mapping[int, _InstitutionComponents],
) -> tuple[NDArray[np.float64], ...]:
    """`_components` of every eligible product, as columns: the same operations in the same order,
    so the same floats (numpy's float64 arithmetic is IEEE's, element by element)."""
    history, response, load = (
        np.array([getattr(by_institution.get(n), name, 0.0) for n in range(len(index.institution_ids))])[
            institution_of
        ]
        for name in ("history", "response", "load")
    )
    if borrower.score is None:
        margin = np.ones(len(eligible))
    else:
        clearance = _clamp_all((borrower.score - index.min_score[eligible]) / SCORE_MARGIN_SPAN)
        margin = np.where(index.has_min_score[eligible], clearance, 1.0)
    approval = APPROVAL_HISTORY_SHARE * history + (1.0 - APPROVAL_HISTORY_SHARE) * margin
    rate = _clamp_all((RATE_WORST - index.rate[eligible]) / (RATE_WORST - RATE_BEST))
    zero = np.zeros(len(eligible))
    renewal = np.where(index.renewal_tagged[eligible], RENEWAL_TAG_BONUS, 0.0) if need.is_renewal else zero
    incumbent = (
        np.where(index.incumbent(need.renewal_institution_code)[eligible], INCUMBENT_BONUS, 0.0)
        if need.is_renewal and need.renewal_institution_code is not None
        else zero
    )
    total = (
        WEIGHT_APPROVAL * approval
        + WEIGHT_RATE * rate
        + WEIGHT_RESPONSE * response
        + WEIGHT_LOAD * load
        + renewal
        + incumbent
    )
    return (history, margin, approval, rate, response, load, renewal, incumbent, total)


def _explain(
    spec: ProductSpec, band: str, components: tuple[float, ...], institution: _InstitutionComponents
) -> dict[str, str | float]:
    history, margin, approval, rate, response, load, renewal, incumbent, total = components
    if approval >= 0.7:
        level = SUMMARY_TEXTS["approval_high"]
    elif approval >= 0.4:
        level = SUMMARY_TEXTS["approval_medium"]
    else:
        level = SUMMARY_TEXTS["approval_low"]
    summary = SUMMARY_TEXTS["base"].format(
        product=spec.name, rate_min=f"{spec.rate_min:.2f}", approval_level=level
    )
    if institution.median_hours is not None:
        summary += SUMMARY_TEXTS["response"].format(hours=str(max(1, math.ceil(institution.median_hours))))
    if renewal:
        summary += SUMMARY_TEXTS["renewal"]
    if incumbent:
        summary += SUMMARY_TEXTS["incumbent"]
    for kind, name in spec.schemes:
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
