"""What an applicant can do about a need nothing fits: the nearest published products and the change to
the need that would make each one fit ("把金额降到50万元即可申请惠农e贷"); and which products fit the
applicant at all, whatever the amount, term and security (the supermarket's "适合我").

Only what the applicant can change on a need counts as a change: the amount, the term and the security.
A product excluded for the applicant's county, kind or industry is not "near" however few rules it
fails. A product that needs a score the applicant does not have yet is near when authorising data is the
only thing missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from credit_profile.models import Borrower
from matching import engine
from matching.dispatch import product_spec
from matching.models import Need
from matching.needs import borrower_spec
from products.models import Product, ProductStatus

# Reasons the applicant removes by changing the need; NO_SCORE by authorising data.
NEED_REASONS = frozenset({"amount_below_min", "amount_above_max", "term", "collateral"})
NO_SCORE = "no_score"
NEAREST = 3


@dataclass(frozen=True)
class Change:
    """One change to the need: `field` is amount (value in 元), term_months (value the nearest whole
    month inside the product's range), collateral (value the first accepted kind) or consent."""

    field: str
    value: Decimal | int | str | None


@dataclass(frozen=True)
class NearProduct:
    product_id: int
    product_name: str
    institution_name: str
    rate_min: Decimal
    changes: tuple[Change, ...]


def _change(reason: engine.ExclusionReason, spec: engine.ProductSpec, need: engine.NeedSpec) -> Change:
    if reason.code == "amount_above_max":
        return Change("amount", spec.max_amount)
    if reason.code == "amount_below_min":
        return Change("amount", spec.min_amount)
    if reason.code == "term":
        return Change("term_months", min(max(need.term_months, spec.min_term_months), spec.max_term_months))
    if reason.code == "collateral":
        return Change("collateral", spec.collateral[0] if spec.collateral else None)
    return Change("consent", None)


def _distance(changes: Sequence[Change], need: engine.NeedSpec) -> float:
    """How far the changes move the need: relative change of amount and term, one for anything else."""
    total = 0.0
    for change in changes:
        if change.field == "amount" and isinstance(change.value, Decimal):
            total += float(abs(change.value - need.amount) / need.amount)
        elif change.field == "term_months" and isinstance(change.value, int):
            total += abs(change.value - need.term_months) / need.term_months
        else:
            total += 1.0
    return total


def _published(session: Session) -> Sequence[Product]:
    return session.scalars(
        select(Product).where(Product.status == ProductStatus.PUBLISHED).order_by(Product.id)
    ).all()


def nearest_products(session: Session, need: Need, *, limit: int = NEAREST) -> list[NearProduct]:
    """The `limit` published products the need misses by the fewest, smallest changes to its amount,
    term or security (or by authorising data), each with those changes; fewest changes first, then the
    smallest move, then the cheapest rate. Products its county, kind or industry rule out are left out."""
    borrower = session.get(Borrower, need.borrower_id)
    assert borrower is not None
    need_spec = engine.NeedSpec(
        amount=need.amount,
        term_months=need.term_months,
        collateral=need.collateral,
        is_renewal=need.is_renewal,
        renewal_institution_code=need.renewal_institution_code,
    )
    products = {p.id: p for p in _published(session)}
    specs = {pid: product_spec(p) for pid, p in products.items()}
    result = engine.evaluate(need_spec, borrower_spec(session, borrower), specs.values(), {}, top_n=0)
    ranked: list[tuple[tuple[int, float, Decimal, int], NearProduct]] = []
    for exclusion in result.exclusions:
        codes = {reason.code for reason in exclusion.reasons}
        if not codes <= NEED_REASONS | {NO_SCORE}:
            continue
        spec = specs[exclusion.product_id]
        changes = tuple(_change(reason, spec, need_spec) for reason in exclusion.reasons)
        product = products[exclusion.product_id]
        key = (len(changes), _distance(changes, need_spec), spec.rate_min, spec.id)
        near = NearProduct(spec.id, spec.name, product.institution.name, spec.rate_min, changes)
        ranked.append((key, near))
    ranked.sort(key=lambda item: item[0])
    return [near for _key, near in ranked[:limit]]


def fitting_product_ids(session: Session, borrower_id: int, products: Iterable[Product]) -> set[int]:
    """Of `products`, those whose county, kind, industry and score rules admit the borrower (any
    amount, term and security the product takes will do). A borrower without a score is admitted by
    products that set no minimum score."""
    borrower = session.get(Borrower, borrower_id)
    if borrower is None:
        return set()
    index = engine.prepare(product_spec(p) for p in products)
    who = borrower_spec(session, borrower)
    admitted = index.admits(
        region=who.region_code, kind=who.kind, industry_code=who.industry_code, score=who.score
    )
    return {spec.id for spec, yes in zip(index.specs, admitted.tolist(), strict=True) if yes}
