"""Publishing, changing and retiring a product announce the change for re-matching, whatever front door
called the service; editing a draft, which no need can see, does not."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.models import OutboxJob
from products.services import (
    CATALOGUE_CHANGED_JOB,
    product_input_from,
    publish_product,
    retire_product,
    update_product,
)
from tests.factories import InstitutionFactory, ProductFactory


def announcements(session) -> list[tuple[int, str]]:
    rows = session.scalars(
        select(OutboxJob).where(OutboxJob.name == CATALOGUE_CHANGED_JOB).order_by(OutboxJob.id)
    )
    return [(row.payload["product_id"], row.dedup_key.split(":")[2]) for row in rows]


def test_each_change_on_the_shelf_is_announced_once(session):
    product = ProductFactory(institution=InstitutionFactory())
    session.flush()

    update_product(session, product, product_input_from(product, name="改名的草稿"), actor_id=None)
    assert announcements(session) == []  # a draft is on no shelf

    publish_product(session, product, actor_id=None)
    update_product(session, product, product_input_from(product, max_amount=Decimal("900000")), actor_id=None)
    retire_product(session, product, actor_id=None)

    assert announcements(session) == [
        (product.id, "published"),
        (product.id, "changed"),
        (product.id, "retired"),
    ]
