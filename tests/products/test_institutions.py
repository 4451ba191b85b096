"""Deactivating an institution: its products leave the catalogue and matching, its staff are signed out."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.accounts import open_session, resolve_session
from core.errors import InvalidInputError
from core.models import StatusEvent
from matching.dispatch import load_match_context
from products.institutions import update_institution
from products.services import ProductFilter, list_products
from tests.factories import InstitutionFactory, ProductFactory, UserFactory


def test_a_deactivated_institution_is_neither_listed_nor_matched_and_its_staff_are_out(session):
    bank, other = InstitutionFactory(), InstitutionFactory()
    gone = ProductFactory(institution=bank, published=True)
    kept = ProductFactory(institution=other, published=True)
    officer, admin = UserFactory(officer=True, institution_id=bank.id), UserFactory(admin=True)
    token, _row = open_session(session, officer, kind="api", ttl=dt.timedelta(hours=1))
    assert set(load_match_context(session).products) == {gone.id, kept.id}

    update_institution(session, bank.id, active=False, actor_id=admin.id)

    assert set(load_match_context(session).products) == {kept.id}
    assert [p.id for p in list_products(session, ProductFilter())] == [kept.id]
    assert resolve_session(session, token, kind="api") is None
    event = session.scalars(select(StatusEvent).where(StatusEvent.entity_type == "institution")).one()
    assert (event.to_status, event.actor_id, event.data["before"]["active"]) == (
        "deactivated",
        admin.id,
        True,
    )

    update_institution(session, bank.id, active=True, actor_id=admin.id)
    assert set(load_match_context(session).products) == {gone.id, kept.id}


def test_an_unknown_kind_or_a_blank_name_changes_nothing(session):
    bank = InstitutionFactory(name="原名银行")
    admin = UserFactory(admin=True)
    with pytest.raises(InvalidInputError) as caught:
        update_institution(session, bank.id, name="  ", kind="casino", actor_id=admin.id)
    assert set(caught.value.fields) == {"name", "kind"}
    assert bank.name == "原名银行"
