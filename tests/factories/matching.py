"""Needs, the leads they are pushed as, the loans leads end in and the lenders' reports on those loans.

Pass the objects a row belongs to (``borrower=``, ``need=``, ``product=``, ``lead=``, ``loan=``) rather
than their ids: a factory creates whatever it is not given. A lead's traits follow the officer's steps
(claimed, contacted, approved, disbursed; rejected, expired), put its need in the status the services
would, and record the lead's status events after the claim, so that the database's first-step times
(contacted, approved, decided) agree with them; a disbursed lead comes with its loan.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from core.types import local_today, utcnow
from matching.models import Lead, LeadStatus, Loan, LoanPerformance, Need, NeedStatus
from tests.factories.base import Base
from tests.factories.core import StatusEventFactory
from tests.factories.credit_profile import BorrowerFactory
from tests.factories.products import ProductFactory

# The status events a lead in this status has after its claim (the claim itself is on the lead).
LEAD_PATHS = {
    LeadStatus.CONTACTED: ("contacted",),
    LeadStatus.APPROVED: ("contacted", "approved"),
    LeadStatus.DISBURSED: ("contacted", "approved", "disbursed"),
    LeadStatus.REJECTED: ("rejected",),
}
# The need's status while it has a lead in this status (the services' state changes).
NEED_STATUS_OF_LEAD = {
    LeadStatus.PUSHED: NeedStatus.MATCHED,
    LeadStatus.EXPIRED: NeedStatus.MATCHED,
    LeadStatus.DISBURSED: NeedStatus.DISBURSED,
}


class NeedFactory(Base):
    class Meta:
        model = Need

    class Params:
        borrower = None
        renewal = factory.Trait(
            is_renewal=True,
            renewal_institution_code="JARCB",
            renewal_current_amount=factory.SelfAttribute("amount"),
            renewal_matures_on=factory.LazyFunction(lambda: local_today() + dt.timedelta(days=60)),
        )
        matched = factory.Trait(status=NeedStatus.MATCHED, dispatch_round=1)
        unmatched = factory.Trait(status=NeedStatus.UNMATCHED, dispatch_round=1)
        in_progress = factory.Trait(status=NeedStatus.IN_PROGRESS, dispatch_round=1)

    borrower_id = factory.LazyAttribute(lambda o: (o.borrower or BorrowerFactory()).id)
    amount = Decimal("500000.00")
    term_months = 12
    purpose = "采购原材料"
    collateral = "credit"
    declared_prior_loan = False
    status = NeedStatus.SUBMITTED
    submitted_at = factory.LazyFunction(utcnow)
    updated_at = factory.SelfAttribute("submitted_at")


class LeadFactory(Base):
    class Meta:
        model = Lead

    class Params:
        product = factory.LazyFunction(lambda: ProductFactory(published=True))
        # Pushed two hours ago and claimed an hour later, so that the events after the claim are past.
        claimed = factory.Trait(
            status=LeadStatus.CLAIMED,
            pushed_at=factory.LazyFunction(lambda: utcnow() - dt.timedelta(hours=2)),
            claimed_at=factory.LazyAttribute(lambda o: o.pushed_at + dt.timedelta(hours=1)),
        )
        contacted = factory.Trait(claimed=True, status=LeadStatus.CONTACTED)
        approved = factory.Trait(contacted=True, status=LeadStatus.APPROVED)
        disbursed = factory.Trait(
            approved=True,
            status=LeadStatus.DISBURSED,
            loan=factory.RelatedFactory("tests.factories.matching.LoanFactory", factory_related_name="lead"),
        )
        rejected = factory.Trait(
            claimed=True, status=LeadStatus.REJECTED, reason_code="insufficient_cash_flow"
        )
        expired = factory.Trait(status=LeadStatus.EXPIRED)

    need = factory.SubFactory(
        NeedFactory,
        status=factory.LazyAttribute(
            lambda n: NEED_STATUS_OF_LEAD.get(n.factory_parent.status, NeedStatus.IN_PROGRESS)
        ),
        dispatch_round=1,
    )
    borrower_id = factory.SelfAttribute("need.borrower_id")
    institution_id = factory.LazyAttribute(lambda o: o.product.institution_id)
    product_id = factory.LazyAttribute(lambda o: o.product.id)
    status = LeadStatus.PUSHED
    dispatch_round = 1
    rank = 1
    pushed_at = factory.LazyFunction(utcnow)
    updated_at = factory.SelfAttribute("pushed_at")
    sla_due_at = factory.LazyAttribute(lambda o: o.pushed_at + dt.timedelta(hours=8))

    @factory.post_generation
    def path(obj, create, extracted, decided=None, **_kwargs):
        """The lead's status events after its claim: ``path=[...]`` for others than its status's (see
        LEAD_PATHS); each a second after the claim, but an approval or rejection at ``path__decided``."""
        if not create:
            return
        steps = LEAD_PATHS.get(obj.status, ()) if extracted is None else extracted
        start = obj.claimed_at or obj.pushed_at
        session = LeadFactory._meta.sqlalchemy_session
        for i, to in enumerate(steps):
            at = decided if decided is not None and to in ("approved", "rejected") else None
            session.add(
                StatusEventFactory.build(lead=obj, to_status=to, at=at or start + dt.timedelta(seconds=i + 1))
            )
        if steps:
            session.flush()


class LoanFactory(Base):
    """A loan on a disbursed lead: the need's amount, term and collateral unless given."""

    class Meta:
        model = Loan

    class Params:
        lead = factory.LazyFunction(lambda: LeadFactory(disbursed=True, loan=None))
        first_loan = factory.Trait(first_loan_borrower=True)
        renewal = factory.Trait(renewal_without_repayment=True)

    lead_id = factory.SelfAttribute("lead.id")
    need_id = factory.SelfAttribute("lead.need_id")
    borrower_id = factory.SelfAttribute("lead.borrower_id")
    institution_id = factory.SelfAttribute("lead.institution_id")
    product_id = factory.SelfAttribute("lead.product_id")
    amount = factory.LazyAttribute(lambda o: o.lead.need.amount)
    rate = Decimal("4.35")
    term_months = factory.LazyAttribute(lambda o: o.lead.need.term_months)
    collateral = factory.LazyAttribute(lambda o: o.lead.need.collateral)
    disbursed_on = factory.LazyFunction(local_today)
    first_loan_borrower = False
    renewal_without_repayment = False


class LoanPerformanceFactory(Base):
    """A lender's report on a loan: not past due, unless ``late_30`` or ``late_90``."""

    class Meta:
        model = LoanPerformance

    class Params:
        loan = factory.SubFactory(LoanFactory)
        late_30 = factory.Trait(overdue_30=True)
        late_90 = factory.Trait(overdue_30=True, overdue_90=True)

    loan_id = factory.SelfAttribute("loan.id")
    as_of = factory.LazyFunction(local_today)
    overdue_30 = False
    overdue_90 = False
