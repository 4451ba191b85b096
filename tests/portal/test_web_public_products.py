"""The 金融超市: fresh after every catalogue change, never someone else's page (nothing is kept between
requests)."""

from __future__ import annotations

import pytest

from core.types import utcnow
from products.services import publish_product, retire_product
from tests.factories import InstitutionFactory, ProductFactory, UserFactory
from tests.portal.test_web_support import login, text

pytestmark = pytest.mark.smoke


def test_anonymous_pages_show_every_catalogue_change_at_once(client, session):
    bank = InstitutionFactory(code="CACHEA", name="缓存测试银行")
    first = ProductFactory(institution=bank, name="缓存一号贷", published=True)
    session.flush()
    assert "缓存一号贷" in text(client.get("/products"))
    # The catalogue changes three ways; each shows at once.
    draft = ProductFactory(institution=bank, name="缓存二号贷")
    session.flush()
    publish_product(session, draft, actor_id=None)
    session.flush()
    assert "缓存二号贷" in text(client.get("/products"))
    first.name, first.updated_at = "缓存一号贷（新版）", utcnow()
    session.flush()
    assert "缓存一号贷（新版）" in text(client.get("/products"))
    retire_product(session, draft, actor_id=None)
    session.flush()
    assert "缓存二号贷" not in text(client.get("/products"))
    api = client.get("/api/v1/products").get_json()
    assert {item["name"] for item in api["items"]} >= {"缓存一号贷（新版）"}
    assert "缓存二号贷" not in {item["name"] for item in api["items"]}


def test_a_signed_in_page_is_never_shown_to_anyone_else(client, session):
    ProductFactory(name="缓存三号贷", published=True)
    session.flush()
    anonymous = text(client.get("/products"))
    user = UserFactory(officer=True, institution_id=InstitutionFactory().id)
    login(client, user.username)
    page = text(client.get("/products"))
    assert user.username in page and user.username not in anonymous
    client.post("/logout")
    assert user.username not in text(client.get("/products"))
