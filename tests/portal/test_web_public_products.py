"""The 金融超市 from the cache: fresh after every catalogue change, never someone else's page."""

from __future__ import annotations

import pytest

from core.types import utcnow
from portal.caching import cache
from products.services import publish_product, retire_product
from tests.factories import InstitutionFactory, ProductFactory, UserFactory
from tests.portal.test_web_support import login, text

pytestmark = pytest.mark.smoke


def test_anonymous_pages_come_from_the_cache_until_the_catalogue_changes(app, client, session):
    bank = InstitutionFactory(code="CACHEA", name="缓存测试银行")
    first = ProductFactory(institution=bank, name="缓存一号贷", published=True)
    session.flush()
    assert "缓存一号贷" in text(client.get("/products"))
    with app.app_context():
        keys = [k for k in cache.cache._cache if "products-page" in k]  # SimpleCache's own store
    assert len(keys) == 1
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


def test_signed_in_pages_are_never_served_from_the_cache(client, session):
    ProductFactory(name="缓存三号贷", published=True)
    session.flush()
    anonymous = text(client.get("/products"))
    user = UserFactory(officer=True, institution_id=InstitutionFactory().id)
    login(client, user.username)
    page = text(client.get("/products"))
    assert user.username in page and user.username not in anonymous
    client.post("/logout")
    assert user.username not in text(client.get("/products"))


def test_a_process_reads_the_catalogue_version_at_most_once_a_period(session, session_factory):
    """With CATALOGUE_CACHE_SECONDS, requests inside the period touch no database at all; when the
    period ends (its cache entry expires) the next request sees the change."""
    from sqlalchemy import event

    from portal.app import create_app
    from portal.caching import VERSION_KEY
    from tests.conftest import make_settings

    app = create_app(make_settings(catalogue_cache_seconds=60), session_factory=session_factory)
    client = app.test_client()
    ProductFactory(name="缓存四号贷", published=True)
    session.flush()
    statements: list[str] = []
    engine = session.get_bind().engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for _ in range(3):
            assert "缓存四号贷" in text(client.get("/products"))
        assert len([s for s in statements if "count(products.id)" in s]) == 1
        ProductFactory(name="缓存五号贷", published=True)
        session.flush()
        assert "缓存五号贷" not in text(client.get("/products"))  # within the period: as it was
        with app.app_context():
            cache.delete(VERSION_KEY)  # what the end of the period does
        assert "缓存五号贷" in text(client.get("/products"))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
