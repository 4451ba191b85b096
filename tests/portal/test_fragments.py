"""portal.fragments: a 金融超市 card and an inbox row are written once per process for the same values, and
every value either shows changes its key: after any change the page is what it is when written afresh."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from credit_profile.models import Borrower
from guarantees.models import SchemeProduct
from guarantees.schemes import set_paused
from matching.leads import claim_lead
from matching.models import Lead, Need
from portal import fragments
from products.models import Institution, Product
from tests.factories import InstitutionFactory, ProductFactory, SchemeFactory, UserFactory
from tests.portal.test_web_officer import lead, officer  # noqa: F401  # the officer's lead, as fixtures
from tests.portal.test_web_support import login, text

CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+(")')


def page(client: Any, path: str) -> str:
    return CSRF_VALUE.sub(r"\1\2", text(client.get(path)))


def assert_shows_at_once(client: Any, session: Any, path: str, change: Callable[[], object]) -> None:
    """The page after `change` (its fragments of the values before kept) is the page written afresh, and
    differs from the page before."""
    before = page(client, path)
    change()
    session.flush()
    kept = page(client, path)
    fragments._cache.clear()
    fresh = page(client, path)
    assert kept == fresh
    assert fresh != before


def test_a_kept_card_is_the_same_markup_for_the_same_values(client, session):
    ProductFactory(name="片段一号贷", published=True)
    session.flush()
    fragments._cache.clear()
    first = page(client, "/products")
    assert len(fragments._cache) > 0 and "片段一号贷" in first
    kept = dict(fragments._cache)
    assert page(client, "/products") == first
    assert all(fragments._cache[key] is markup for key, markup in kept.items())


def test_every_value_a_card_shows_is_in_its_key(client, session):
    bank = InstitutionFactory(name="片段测试银行")
    product = ProductFactory(institution=bank, name="片段二号贷", published=True)
    scheme = SchemeFactory(name="片段担保方案")
    session.flush()

    def set_(obj: Any, **values: Any) -> Callable[[], None]:
        return lambda: [setattr(obj, name, value) for name, value in values.items()]

    changes = [
        set_(product, name="片段二号贷（新）"),
        set_(bank, name="片段测试银行（新）"),
        set_(product, max_amount=product.max_amount + Decimal("10000")),
        set_(product, rate_min=product.rate_min - Decimal("0.01")),
        set_(product, rate_max=product.rate_max + Decimal("0.01")),
        set_(product, min_term_months=product.min_term_months + 1),
        set_(product, max_term_months=product.max_term_months + 1),
        set_(product, collateral=[*product.collateral, "pledge"] if "pledge" not in product.collateral else ["credit"]),
        set_(product, tags=[*product.tags, "green"] if "green" not in product.tags else ["tech"]),
        lambda: session.add(SchemeProduct(scheme_id=scheme.id, product_id=product.id)),
        set_(scheme, name="片段担保方案（新）"),
        lambda: set_paused(session, scheme, paused=True, reason="测试", actor_id=None),
    ]  # fmt: skip
    for change in changes:
        assert_shows_at_once(client, session, "/products", change)


def test_a_new_institution_shows_in_the_filter_at_once(client, session):
    assert "片段新机构" not in page(client, "/products")
    InstitutionFactory(name="片段新机构")
    session.flush()
    assert "片段新机构" in page(client, "/products")


def test_every_value_an_inbox_row_shows_is_in_its_key(client, session, lead, officer):  # noqa: F811
    login(client, officer.username)
    need = session.get(Need, lead.need_id)
    row = session.get(Lead, lead.id)
    borrower = session.get(Borrower, need.borrower_id)
    colleague = UserFactory(username="officer_b", officer=True, institution_id=lead.institution_id)
    changes = [
        lambda: setattr(row, "sla_due_at", row.sla_due_at - dt.timedelta(days=3)),  # overdue now
        lambda: setattr(row, "sla_due_at", row.sla_due_at + dt.timedelta(days=6)),
        lambda: setattr(need, "amount", need.amount + Decimal("10000")),
        lambda: setattr(need, "term_months", need.term_months + 1),
        # The lead's copies of the borrower's county and kind follow the borrower's (ON UPDATE CASCADE).
        lambda: setattr(borrower, "region_code", "360821" if borrower.region_code != "360821" else "360802"),
        lambda: setattr(borrower, "kind", "farmer" if borrower.kind != "farmer" else "enterprise"),
        lambda: claim_lead(session, lead.id, officer_id=colleague.id, institution_id=lead.institution_id),
        lambda: setattr(row, "claimed_by", officer.id),  # now the officer's own: the borrower's name
    ]
    product = session.get(Product, row.product_id)
    changes.append(lambda: setattr(product, "name", "片段新产品名"))
    for change in changes:
        assert_shows_at_once(client, session, "/officer/leads", change)


def test_a_row_turns_overdue_as_time_passes(client, session, lead, officer, monkeypatch):  # noqa: F811
    import portal.web.officer

    login(client, officer.username)
    row = session.get(Lead, lead.id)
    assert row.sla_due_at is not None
    assert "is-overdue" not in page(client, "/officer/leads")
    later = row.sla_due_at + dt.timedelta(minutes=1)
    monkeypatch.setattr(portal.web.officer, "utcnow", lambda: later)
    assert "is-overdue" in page(client, "/officer/leads")


def test_a_filter_form_is_written_for_its_own_query_string(client, session):
    ProductFactory(name="片段三号贷", published=True)
    session.flush()
    for path in ("/products?amount=abc", "/products?amount=5", "/products?amount=abc", "/products"):
        kept = page(client, path)
        fragments._cache.clear()
        assert kept == page(client, path)
    assert "请输入数字" in page(client, "/products?amount=abc")
    assert "请输入数字" not in page(client, "/products?amount=5")


def test_a_new_product_shows_in_the_inbox_filter_at_once(client, session, lead, officer):  # noqa: F811
    login(client, officer.username)
    assert "片段新产品" not in page(client, "/officer/leads")
    ProductFactory(institution=session.get(Institution, lead.institution_id), name="片段新产品")
    session.flush()
    assert "片段新产品" in page(client, "/officer/leads")


def test_the_navigation_is_each_role_s_and_marks_the_page_shown(client, session, lead, officer):  # noqa: F811
    active = re.compile(r'<a href="([^"]+)" class="active" aria-current="page">')
    assert active.findall(page(client, "/products")) == ["/products"]
    assert "/officer/leads" not in page(client, "/products")
    login(client, officer.username)
    assert active.findall(page(client, "/officer/leads")) == ["/officer/leads"]
    assert active.findall(page(client, "/products")) == ["/products"]
    nav = re.search(r'<nav class="nav".*?</nav>', page(client, "/products"), re.S)
    assert nav and 'href="/officer/leads"' in nav.group(0) and "/login" not in nav.group(0)
