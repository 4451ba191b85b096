"""The catalogue as arrays for the matching engine (`matching.engine`), and a need's failing rules on it.

Pure computation: no I/O. `prepare` turns the products into one row per product, in product id order:
exact integer amount bounds (Decimal scaled to a common integer unit), term bounds, the minimum score
with a flag for "none", institution numbers, rates. What depends on one borrower-side value alone (which
products cover a county, take a kind of borrower or a security, exclude an industry, or are the renewal's
incumbent) is computed on first use and kept on the index: a catalogue is matched against thousands of
needs that share a few dozen such values. `ProductIndex.failures` then gives, per rule, the products that
fail it for one need, as boolean arrays; the engine builds reasons only for the products it explains.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from math import lcm
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from core.reference import CITY_CODE, COLLATERAL_KINDS, industry_section

if TYPE_CHECKING:
    from matching.engine import ProductSpec

CREDIT = "credit"
RENEWAL_TAG = "renewal"

Mask = NDArray[np.bool_]


class _Scope(NamedTuple):
    """An excluded industry code split once, as `industry_within` splits it."""

    code: str
    section: str | None
    digits: str
    literal: str


def _scope(code: str) -> _Scope:
    section, digits = split_industry(code)
    return _Scope(code, section, digits, code.strip().upper())


def _inside(section: str | None, digits: str, literal: str, scope: _Scope) -> bool:
    """`industry_within` on pre-split values: the borrower's code is split once per evaluation."""
    if scope.section is None:
        return bool(scope.literal) and literal.startswith(scope.literal)
    return section == scope.section and digits.startswith(scope.digits)


def split_industry(code: str) -> tuple[str | None, str]:
    normalized = code.strip().upper()
    digits = normalized[1:] if normalized[:1].isalpha() else normalized
    return industry_section(normalized), digits


def money(amount: Decimal) -> str:
    if amount == amount.to_integral_value():
        return f"{amount:.0f}"
    return f"{amount:.2f}"


def _exact_ints(values: list[int]) -> NDArray[Any]:
    """int64 when every value fits, else Python ints in an object array: comparisons stay exact."""
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        return np.array(values, dtype=object)


def _read_only(mask: Mask) -> Mask:
    mask.flags.writeable = False
    return mask


class IndustryVerdict(NamedTuple):
    """For one borrower industry code: which products exclude it, and the first excluded code naming it."""

    excluded: Mask
    # The first of the product's excluded codes the borrower lies inside, by ProductIndex.industry_group.
    code_by_group: tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class Failures:
    """One need's failing rules over a ProductIndex, rule by rule in the order reasons are listed.

    `rules` holds (code, mask) pairs; each product fails at most one of the two amount rules. `count` is
    the number of rules each product fails (0: eligible).
    """

    rules: tuple[tuple[str, Mask], ...]
    count: NDArray[np.int8]
    industry: IndustryVerdict


@dataclass(frozen=True, slots=True, eq=False)
class ProductIndex:
    """Products checked and pre-computed once for many `evaluate` calls; build it with `prepare`.

    The caches hold what one borrower-side value (a county, a kind, a security, an industry code, the
    renewal's institution code) means for every product; they fill on first use and never go stale, as
    the index never changes. Their arrays are shared by every result, hence read-only.
    """

    specs: tuple[ProductSpec, ...]
    # Per product, in product id order:
    institution_number: NDArray[np.intp]  # position in `institution_ids`
    amount_unit: int  # the bounds are amounts times this, exactly
    min_amount: NDArray[Any]
    max_amount: NDArray[Any]
    min_term: NDArray[Any]
    max_term: NDArray[Any]
    has_min_score: Mask
    min_score: NDArray[Any]  # 0 where the product sets no minimum
    rate: NDArray[np.float64]  # float(rate_min)
    rate_order: NDArray[np.intp]  # rank of rate_min among the catalogue's, equal values equal
    renewal_tagged: Mask
    all_regions: Mask
    any_collateral: Mask
    industry_group: NDArray[np.intp]  # position of the product's excluded codes in `industry_groups`
    min_amount_texts: tuple[str, ...]
    max_amount_texts: tuple[str, ...]
    accepted_texts: tuple[str, ...]
    region_sets: tuple[frozenset[str], ...]
    kind_sets: tuple[frozenset[str], ...]
    collateral_sets: tuple[frozenset[str], ...]
    # Distinct values:
    institution_ids: tuple[int, ...]
    industry_groups: tuple[tuple[_Scope, ...], ...]
    _region_fails: dict[str, Mask] = field(default_factory=dict)
    _kind_fails: dict[str, Mask] = field(default_factory=dict)
    _collateral_fails: dict[str, Mask] = field(default_factory=dict)
    _industries: dict[str, IndustryVerdict] = field(default_factory=dict)
    _incumbents: dict[str, Mask] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.specs)

    def region_fails(self, region: str) -> Mask:
        mask = self._region_fails.get(region)
        if mask is None:
            covers = np.fromiter((region in s for s in self.region_sets), np.bool_, len(self.specs))
            mask = self._region_fails[region] = _read_only(~(self.all_regions | covers))
        return mask

    def kind_fails(self, kind: str) -> Mask:
        mask = self._kind_fails.get(kind)
        if mask is None:
            mask = self._kind_fails[kind] = _read_only(
                np.fromiter((kind not in s for s in self.kind_sets), np.bool_, len(self.specs))
            )
        return mask

    def collateral_fails(self, collateral: str) -> Mask:
        mask = self._collateral_fails.get(collateral)
        if mask is None:
            takes = np.fromiter((collateral in s for s in self.collateral_sets), np.bool_, len(self.specs))
            mask = self._collateral_fails[collateral] = _read_only(~(self.any_collateral | takes))
        return mask

    def industry(self, industry_code: str) -> IndustryVerdict:
        verdict = self._industries.get(industry_code)
        if verdict is None:
            section, digits = split_industry(industry_code)
            literal = industry_code.strip().upper()
            codes = tuple(
                next((s.code for s in scopes if _inside(section, digits, literal, s)), None)
                for scopes in self.industry_groups
            )
            hit = np.array([code is not None for code in codes], dtype=np.bool_)
            verdict = IndustryVerdict(_read_only(hit[self.industry_group]), codes)
            self._industries[industry_code] = verdict
        return verdict

    def incumbent(self, institution_code: str) -> Mask:
        """The products of the institution with this code."""
        mask = self._incumbents.get(institution_code)
        if mask is None:
            mask = self._incumbents[institution_code] = _read_only(
                np.fromiter(
                    (s.institution_code == institution_code for s in self.specs), np.bool_, len(self.specs)
                )
            )
        return mask

    def admits(self, *, region: str, kind: str, industry_code: str, score: int | None) -> Mask:
        """The products whose borrower-side rules (county, kind, industry, score) admit this borrower and
        that take some need at all: a security listed, bounds in order (any amount, term and security
        the product takes will then do)."""
        score_fails = self.has_min_score if score is None else self.has_min_score & (score < self.min_score)
        takes_some = (
            np.fromiter((bool(s) for s in self.collateral_sets), np.bool_, len(self.specs))
            & (self.min_amount <= self.max_amount)
            & (self.min_term <= self.max_term)
        )
        fails = (
            self.region_fails(region)
            | self.kind_fails(kind)
            | self.industry(industry_code).excluded
            | score_fails
        )
        admitted: Mask = takes_some & ~fails
        return admitted

    def failures(
        self,
        *,
        amount: Decimal,
        term_months: int,
        collateral: str,
        region: str,
        kind: str,
        industry_code: str,
        score: int | None,
        exclude_institutions: frozenset[int],
    ) -> Failures:
        """Every rule's failing products for one need (the engine's module doc states the rules)."""
        # amount < bound <=> floor(amount) < bound and amount > bound <=> ceil(amount) > bound, bounds
        # being integers: exact whatever the need's amount.
        numerator, denominator = amount.as_integer_ratio()
        numerator *= self.amount_unit
        below = numerator // denominator < self.min_amount
        above = (-(-numerator // denominator) > self.max_amount) & ~below
        term = (term_months < self.min_term) | (term_months > self.max_term)
        if score is None:
            score_fails, score_code = self.has_min_score, "no_score"
        else:
            score_fails, score_code = self.has_min_score & (score < self.min_score), "score_below_min"
        industry = self.industry(industry_code)
        rules = [
            ("region", self.region_fails(region)),
            ("borrower_kind", self.kind_fails(kind)),
            ("amount_below_min", below),
            ("amount_above_max", above),
            ("term", term),
            ("collateral", self.collateral_fails(collateral)),
            ("industry_excluded", industry.excluded),
            (score_code, score_fails),
        ]
        if exclude_institutions:
            tried = np.fromiter((i in exclude_institutions for i in self.institution_ids), np.bool_)
            rules.append(("institution_already_tried", tried[self.institution_number]))
        count = np.zeros(len(self.specs), dtype=np.int8)
        for _code, mask in rules:
            count += mask
        return Failures(tuple(rules), count, industry)


def prepare(products: Iterable[ProductSpec]) -> ProductIndex:
    """Pre-compute per-product arrays, in product id order. Raises ValueError on a duplicate product id."""
    specs = sorted(products, key=lambda p: p.id)
    for before, after in pairwise(specs):
        if before.id == after.id:
            raise ValueError(f"duplicate product id {after.id}")
    institution_ids = tuple(dict.fromkeys(s.institution_id for s in specs))
    institution_at = {institution: i for i, institution in enumerate(institution_ids)}
    bounds = [s.min_amount.as_integer_ratio() for s in specs] + [
        s.max_amount.as_integer_ratio() for s in specs
    ]
    unit = lcm(100, *(denominator for _, denominator in bounds))
    scaled = [numerator * (unit // denominator) for numerator, denominator in bounds]
    rates = sorted({s.rate_min for s in specs})
    rate_at = {rate: i for i, rate in enumerate(rates)}
    groups = {excluded: i for i, excluded in enumerate(dict.fromkeys(s.industries_excluded for s in specs))}
    regions = [frozenset(s.region_codes) for s in specs]
    return ProductIndex(
        specs=tuple(specs),
        institution_number=np.array([institution_at[s.institution_id] for s in specs], dtype=np.intp),
        amount_unit=unit,
        min_amount=_exact_ints(scaled[: len(specs)]),
        max_amount=_exact_ints(scaled[len(specs) :]),
        min_term=_exact_ints([s.min_term_months for s in specs]),
        max_term=_exact_ints([s.max_term_months for s in specs]),
        has_min_score=np.array([s.min_score is not None for s in specs], dtype=np.bool_),
        min_score=_exact_ints([0 if s.min_score is None else s.min_score for s in specs]),
        rate=np.array([float(s.rate_min) for s in specs], dtype=np.float64),
        rate_order=np.array([rate_at[s.rate_min] for s in specs], dtype=np.intp),
        renewal_tagged=np.array([RENEWAL_TAG in s.tags for s in specs], dtype=np.bool_),
        all_regions=np.array([not r or CITY_CODE in r for r in regions], dtype=np.bool_),
        any_collateral=np.array([CREDIT in s.collateral for s in specs], dtype=np.bool_),
        industry_group=np.array([groups[s.industries_excluded] for s in specs], dtype=np.intp),
        min_amount_texts=tuple(money(s.min_amount) for s in specs),
        max_amount_texts=tuple(money(s.max_amount) for s in specs),
        accepted_texts=tuple("、".join(COLLATERAL_KINDS.get(c, c) for c in s.collateral) for s in specs),
        region_sets=tuple(regions),
        kind_sets=tuple(frozenset(s.borrower_kinds) for s in specs),
        collateral_sets=tuple(frozenset(s.collateral) for s in specs),
        institution_ids=institution_ids,
        industry_groups=tuple(tuple(_scope(code) for code in excluded) for excluded in groups),
    )
