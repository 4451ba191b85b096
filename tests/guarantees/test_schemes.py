"""guarantees.schemes: which loans a public scheme stands behind (what post-loan monitoring names)."""

from __future__ import annotations

from decimal import Decimal

from guarantees.models import CoverStatus, SchemeProduct
from guarantees.schemes import loan_schemes, product_scheme_notes
from matching import dispatch
from tests.factories import CoverFactory, LoanFactory, ProductFactory, SchemeFactory


def test_loan_schemes_names_the_scheme_of_covers_in_force_only(session) -> None:
    scheme = SchemeFactory(name="吉庐陵融资担保 4321 批量担保")
    active = CoverFactory(scheme=scheme)
    defaulted = CoverFactory(scheme=scheme, status=CoverStatus.DEFAULTED)
    released = CoverFactory(scheme=scheme, status=CoverStatus.RELEASED)
    bare = LoanFactory()

    found = loan_schemes(session, [active.loan_id, defaulted.loan_id, released.loan_id, bare.id])

    assert found == {active.loan_id: scheme.name, defaulted.loan_id: scheme.name}
    assert loan_schemes(session, []) == {}


def test_the_portal_connects_monitoring_to_the_schemes(settings, session_factory, monkeypatch) -> None:
    from monitoring import figures
    from portal.app import create_app

    monkeypatch.setattr(figures, "_lookup", [])
    monkeypatch.setattr(dispatch, "_scheme_lookup", [])
    assert not figures.schemes_connected()
    create_app(settings, session_factory)
    assert figures._lookup == [loan_schemes]
    assert dispatch._scheme_lookup == [product_scheme_notes]


def cover_product(session, *schemes):
    product = ProductFactory(published=True)
    for scheme in schemes:
        session.add(SchemeProduct(scheme_id=scheme.id, product_id=product.id))
    session.flush()
    return product


def test_product_scheme_notes_name_the_guarantor_or_the_fund(session) -> None:
    guarantee = SchemeFactory(operator__name="吉庐陵融资担保有限公司")
    fund = SchemeFactory(fund=True, name="科贷通风险补偿资金")
    paused = SchemeFactory(status="paused")
    covered = cover_product(session, guarantee, fund, paused)
    bare = ProductFactory(published=True)

    notes = product_scheme_notes(session, [covered.id, bare.id])

    assert notes == {
        covered.id: [("guarantee", "吉庐陵融资担保有限公司"), ("compensation_fund", "科贷通风险补偿资金")]
    }
    assert product_scheme_notes(session, []) == {}


def test_a_lead_pushed_for_a_covered_product_explains_the_scheme(session, monkeypatch) -> None:
    from tests.factories import NeedFactory

    monkeypatch.setattr(dispatch, "_scheme_lookup", [])
    dispatch.register_product_scheme_lookup(product_scheme_notes)
    product = cover_product(session, SchemeFactory(operator__name="吉庐陵融资担保有限公司"))
    need = NeedFactory(amount=Decimal("100000.00"), term_months=12)
    (lead,) = [
        lead for lead in dispatch.match_need(session, need.id, top_n=5) if lead.product_id == product.id
    ]
    assert "该产品有政府性融资担保（吉庐陵融资担保有限公司）支持" in lead.explanation["summary"]
