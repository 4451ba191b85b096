"""guarantees.schemes: which loans a public scheme stands behind (what post-loan monitoring names)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, text

from core.models import StatusEvent
from guarantees.models import CoverStatus, SchemeProduct
from guarantees.schemes import (
    SCHEME_ENTITY,
    SchemeInput,
    active_badges,
    create_scheme,
    loan_schemes,
    product_badges,
    product_scheme_notes,
    scheme_input,
    set_paused,
    update_scheme,
    verify_schemes,
)
from matching import dispatch
from products.services import institution_names
from tests.factories import CoverFactory, InstitutionFactory, LoanFactory, ProductFactory, SchemeFactory


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


def _scheme_input(operator_code: str) -> SchemeInput:
    return SchemeInput(
        code="JA4321",
        name="吉安“4321”政银担风险分担",
        kind="guarantee",
        sponsor="吉安市财政局",
        operator_code=operator_code,
        capital=Decimal("1000000000.00"),
        leverage_limit=Decimal("15"),
        loss_shares={"bank": "0.20", "guarantor": "0.40", "reguarantor": "0.30", "fund": "0.10"},
        fee_rate_cap=Decimal("0.01"),
        single_cap=Decimal("20000000.00"),
        comp_cap_rate=Decimal("0.05"),
        filing_deadline_days=30,
        claim_deadline_days=90,
        funding_shares={"city": "0.6", "county": "0.4"},
    )


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE guarantee_schemes SET comp_cap_rate = 0.5",
        "UPDATE guarantee_schemes SET status = 'active', paused_reason = NULL",
        'UPDATE guarantee_schemes SET loss_shares = \'{"bank": "0.0", "fund": "1.0"}\'',
    ],
)
def test_audit_verify_detects_a_scheme_changed_around_the_service(runner, session, tamper) -> None:
    operator = InstitutionFactory(kind="guarantor")
    scheme = create_scheme(session, _scheme_input(operator.code), actor_id=None)
    set_paused(session, scheme, paused=True, reason="代偿率超过上限", actor_id=None)
    session.commit()
    # Create and pause are sealed into the chain with the terms they left.
    events = session.scalars(
        select(StatusEvent).where(StatusEvent.entity_type == SCHEME_ENTITY).order_by(StatusEvent.chain_seq)
    ).all()
    assert [e.to_status for e in events] == ["active", "paused"]
    assert events[-1].data["terms"]["comp_cap_rate"] == "0.05"
    assert verify_schemes(session) == []
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output

    session.execute(text(tamper))
    session.expire_all()
    assert [p.kind for p in verify_schemes(session)] == ["scheme_mismatch"]
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "担保方案与审计记录不符" in result.output


def test_an_edited_scheme_is_sealed_with_its_new_terms(session) -> None:
    operator = InstitutionFactory(kind="guarantor")
    scheme = create_scheme(session, _scheme_input(operator.code), actor_id=None)
    edit = scheme_input(session, scheme)
    edit.comp_cap_rate = Decimal("0.04")
    update_scheme(session, scheme.id, edit, actor_id=None)
    session.commit()  # events are sealed into the chain at commit
    event = session.scalars(
        select(StatusEvent).where(StatusEvent.entity_type == SCHEME_ENTITY).order_by(StatusEvent.id.desc())
    ).first()
    assert event is not None and event.note == "edited"
    assert event.data["changes"] == {"comp_cap_rate": ["0.05", "0.04"]}
    assert event.data["terms"]["comp_cap_rate"] == "0.04"
    # An edit through the service is not a change "around the service".
    assert verify_schemes(session) == []


def test_a_scheme_inserted_around_the_service_is_reported(session) -> None:
    SchemeFactory()
    assert [p.kind for p in verify_schemes(session)] == ["scheme_mismatch"]


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


def test_the_catalogues_institution_options_and_badges_show_what_was_just_written(session) -> None:
    """The 金融超市's institution options (products.services) and badges (here); what was just written
    shows, a paused scheme's badge does not."""
    before = institution_names(session)
    institution = InstitutionFactory(code="ZZZ_4321", name="吉安4321村镇银行")
    product, bare = ProductFactory(published=True), ProductFactory(published=True)
    first, second, paused = SchemeFactory(), SchemeFactory(), SchemeFactory()
    for scheme in (second, first, paused):
        session.add(SchemeProduct(scheme_id=scheme.id, product_id=product.id))
    session.flush()
    set_paused(session, paused, paused=True, reason="代偿率超过上限", actor_id=None)
    session.flush()

    institutions = institution_names(session)
    badges = product_badges(session, [product.id, bare.id])

    assert ("ZZZ_4321", "吉安4321村镇银行") not in before
    assert institutions == sorted(institutions)  # by code
    assert (institution.code, institution.name) in institutions
    assert [b.scheme_id for b in badges[product.id]] == sorted([first.id, second.id])
    assert bare.id not in badges
    everyone = active_badges(session)
    assert everyone[product.id] == badges[product.id] and bare.id not in everyone
