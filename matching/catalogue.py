"""What a product manager reads about their products: each product's funnel (pushed, claimed, approved,
disbursed, median hours to claim), and how many recent needs a set of rules would have matched before
it is saved or published.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.sql import grouped_medians
from core.types import utcnow
from credit_profile.models import CreditScore
from credit_profile.scoring import has_data, latest_scores
from matching import engine
from matching.dispatch import MICROSECONDS_PER_HOUR, product_spec
from matching.models import Lead, LeadStatus, Need
from products.models import Institution, Product
from products.services import PRODUCT_FIELDS, ProductInput

PREVIEW_DAYS = 90


@dataclass(frozen=True)
class ProductFunnel:
    """A product's leads, ever: how many were pushed, claimed, approved (at some point) and disbursed,
    and the median working time from push to claim (None before the first claim)."""

    pushed: int = 0
    claimed: int = 0
    approved: int = 0
    disbursed: int = 0
    median_hours_to_claim: float | None = None


def product_funnels(session: Session, institution_id: int) -> dict[int, ProductFunnel]:
    """Product id -> its funnel, for every product of the institution that has leads: two statements."""
    of_institution = Lead.institution_id == institution_id
    counts = session.execute(
        select(
            Lead.product_id,
            func.count(),
            func.count(Lead.claimed_at),
            func.count(Lead.approved_at),
            func.sum(case((Lead.status == LeadStatus.DISBURSED, 1), else_=0)),
        )
        .where(of_institution)
        .group_by(Lead.product_id)
    ).all()
    medians = grouped_medians(
        session, select(Lead.product_id, Lead.claim_us).where(of_institution, Lead.claim_us.is_not(None))
    )
    return {
        product_id: ProductFunnel(
            pushed=pushed,
            claimed=claimed,
            approved=approved,
            disbursed=int(disbursed or 0),
            median_hours_to_claim=(
                medians[product_id] / MICROSECONDS_PER_HOUR if product_id in medians else None
            ),
        )
        for product_id, pushed, claimed, approved, disbursed in counts
    }


@dataclass(frozen=True)
class RulePreview:
    """Of the needs submitted in the last `days` days, how many the rules would have admitted."""

    days: int
    needs: int
    matched: int


def spec_from_input(
    data: ProductInput, *, institution: Institution, product_id: int = 0
) -> engine.ProductSpec:
    """The engine's view of rules not yet saved: a transient product (never added to the session)."""
    product = Product(
        id=product_id,
        institution_id=institution.id,
        **{name: getattr(data, name) for name in PRODUCT_FIELDS},
    )
    product.institution = institution
    return product_spec(product)


def preview_rules(
    session: Session, data: ProductInput, *, institution: Institution, days: int = PREVIEW_DAYS
) -> RulePreview:
    """How many of the needs of the last `days` days the rules in `data` would have admitted (by the
    matching engine's hard rules, with each borrower's current score). Reads the needs with the
    borrower attributes copied onto them and the borrowers' latest scores: two statements."""
    index = engine.prepare([spec_from_input(data, institution=institution)])
    since = utcnow() - dt.timedelta(days=days)
    needs = session.execute(
        select(
            Need.borrower_id,
            Need.amount,
            Need.term_months,
            Need.collateral,
            Need.is_renewal,
            Need.renewal_institution_code,
            Need.region_code,
            Need.borrower_kind,
            Need.industry_code,
        ).where(Need.submitted_at >= since)
    ).all()
    scores: dict[int, CreditScore] = latest_scores(session, {row.borrower_id for row in needs})
    matched = 0
    for row in needs:
        score = scores.get(row.borrower_id)
        usable = score if has_data(score) else None
        result = engine.evaluate(
            engine.NeedSpec(
                row.amount, row.term_months, row.collateral, row.is_renewal, row.renewal_institution_code
            ),
            engine.BorrowerSpec(
                kind=row.borrower_kind,
                region_code=row.region_code,
                industry_code=row.industry_code,
                score=usable.score if usable else None,
                grade=usable.grade if usable else None,
            ),
            index,
            {},
            top_n=0,
        )
        matched += result.eligible_count
    return RulePreview(days=days, needs=len(needs), matched=matched)
