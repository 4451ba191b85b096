"""Setting up needs, products and people for the matching tests through factories and the real services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import StatusEvent, User
from matching.models import Lead, Need
from matching.needs import NeedInput, RenewalInput, submit_need
from products.models import Institution, Product
from tests.factories import BorrowerFactory, InstitutionFactory, ProductFactory, UserFactory

FAR_FUTURE = dt.timedelta(days=40)


def bank(rate: str = "4.00", officers: int = 1, **product: Any) -> tuple[Institution, Product, list[User]]:
    """An institution with one published product (the given rate) and its officers."""
    institution = InstitutionFactory()
    product = ProductFactory(institution=institution, published=True, rate_min=Decimal(rate), **product)
    staff = [
        UserFactory(officer=True, institution_id=institution.id, phone="13900000000") for _ in range(officers)
    ]
    return institution, product, staff


def applicant(region_code: str = "360802", **borrower: Any) -> tuple[Any, User]:
    b = BorrowerFactory(region_code=region_code, **borrower)
    user = UserFactory(borrower_id=b.id, phone="13800000001")
    return b, user


def need_input(amount: str = "500000", renewal: RenewalInput | None = None) -> NeedInput:
    return NeedInput(
        amount=Decimal(amount),
        term_months=12,
        purpose="采购原材料",
        collateral="credit",
        declared_prior_loan=False,
        renewal=renewal,
    )


def submit(session: Session, borrower_id: int, user_id: int, **kwargs: Any) -> Need:
    return submit_need(session, borrower_id=borrower_id, data=need_input(**kwargs), actor_id=user_id)


def leads_of(session: Session, need_id: int) -> list[Lead]:
    return list(session.scalars(select(Lead).where(Lead.need_id == need_id).order_by(Lead.id)))


def events_of(session: Session, need_id: int) -> list[StatusEvent]:
    return list(
        session.scalars(select(StatusEvent).where(StatusEvent.need_id == need_id).order_by(StatusEvent.id))
    )


def event_kinds(session: Session, need_id: int) -> list[str]:
    return [
        str((e.data or {}).get("kind")) for e in events_of(session, need_id) if (e.data or {}).get("kind")
    ]
