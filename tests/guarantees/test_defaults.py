"""A covered loan through default, 代偿, the claims on the re-guarantor and the fund, and recoveries,
under a 4321 scheme: every party's amount to the fen."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from core.errors import InvalidInputError
from core.models import StatusEvent
from core.types import local_today
from guarantees.covers import decide_cover, file_covers, request_cover
from guarantees.defaults import DefaultInput, borne_so_far, record_payment, record_recovery, report_default
from guarantees.errors import StateError
from guarantees.models import Compensation, CoverStatus
from tests.factories import CoverFactory, LeadFactory, NeedFactory, SchemeFactory, UserFactory


def _covered_loan(session):
    scheme = SchemeFactory()
    need = NeedFactory(amount=D("1000000.00"))
    lead = LeadFactory(disbursed=True, need=need, loan__disbursed_on=local_today() - dt.timedelta(days=20))
    officer = UserFactory(officer=True, institution_id=lead.institution_id)
    guarantor = UserFactory(role="guarantor", institution_id=scheme.operator_id)
    cover = request_cover(
        session,
        lead.id,
        scheme.id,
        officer_id=officer.id,
        institution_id=lead.institution_id,
        fee_rate=D("0.008"),
    )
    decide_cover(
        session, cover.id, approve=True, reason=None, user_id=guarantor.id, operator_id=scheme.operator_id
    )
    assert cover.status == CoverStatus.ACTIVE
    file_covers(session, [cover.id], operator_id=scheme.operator_id, user_id=guarantor.id)
    # The rest of the bank's portfolio under the scheme, so that the 5 % cap does not bite here.
    CoverFactory(scheme=scheme, institution_id=lead.institution_id, amount=D("19000000.00"))
    return scheme, cover, officer, guarantor


def _pay(session, scheme, guarantor, row, amount):
    return record_payment(
        session,
        row.id,
        operator_id=scheme.operator_id,
        user_id=guarantor.id,
        paid_on=local_today(),
        amount=amount,
    )


def _recover(session, scheme, guarantor, cover, amount, method="litigation"):
    return record_recovery(
        session,
        cover.id,
        operator_id=scheme.operator_id,
        user_id=guarantor.id,
        amount=amount,
        recovered_on=local_today(),
        method=method,
    )


def test_default_compensation_claims_and_recoveries_to_the_fen(session) -> None:
    scheme, cover, officer, guarantor = _covered_loan(session)
    today = local_today()
    report = report_default(
        session,
        cover.id,
        DefaultInput(today - dt.timedelta(days=10), D("877777.77"), D("23456.78"), D("100000.00")),
        institution_id=cover.institution_id,
        user_id=officer.id,
    )
    # Interest is not covered: loss = 877777.77 − 100000.00.
    assert report.loss == D("777777.77")
    assert report.shares == {
        "bank": "155555.55",
        "guarantor": "311111.11",
        "reguarantor": "233333.33",
        "fund": "77777.78",
    }
    (due,) = session.scalars(select(Compensation).where(Compensation.default_id == report.id)).all()
    assert (due.party, due.amount_due) == ("guarantor", D("622222.22"))

    with pytest.raises(InvalidInputError):
        _pay(session, scheme, guarantor, due, D("600000"))
    _pay(session, scheme, guarantor, due, D("622222.22"))
    claims = {
        c.party: c for c in session.scalars(select(Compensation).where(Compensation.default_id == report.id))
    }
    assert claims["reguarantor"].amount_due == D("233333.33")
    assert claims["fund"].amount_due == D("77777.78")
    # Before the fund pays, the guarantor carries the fund's share too.
    _pay(session, scheme, guarantor, claims["reguarantor"], D("233333.33"))
    assert borne_so_far(session, report)["guarantor"] == D("388888.89")
    _pay(session, scheme, guarantor, claims["fund"], D("77777.78"))
    borne = borne_so_far(session, report)
    assert borne == {k: D(v) for k, v in report.shares.items()}
    with pytest.raises(StateError):
        _pay(session, scheme, guarantor, due, D("622222.22"))

    first = _recover(session, scheme, guarantor, cover, D("100000.00"), "litigation")
    # 100000 × 155555.55 / 777777.77 = 19999.9995, × 311111.11 / … = 40000.0003, …: the two fens left
    # after rounding down go to the re-guarantor (.99987) and the bank (.99949).
    assert first.split == {
        "bank": "20000.00",
        "guarantor": "40000.00",
        "reguarantor": "30000.00",
        "fund": "10000.00",
    }
    second = _recover(session, scheme, guarantor, cover, D("900000.00"), "collateral")
    # More than is still owed: each party gets back exactly what it is still short, no more.
    assert second.split == {
        "bank": "135555.55",
        "guarantor": "271111.11",
        "reguarantor": "203333.33",
        "fund": "67777.78",
    }
    with pytest.raises(InvalidInputError):
        _recover(session, scheme, guarantor, cover, D("1.00"), "other")
    steps = session.scalars(
        select(StatusEvent.to_status).where(
            StatusEvent.entity_type == "guarantee_cover", StatusEvent.entity_id == cover.id
        )
    ).all()
    assert steps[:3] == ["requested", "approved", "active"]
    assert len(steps) == 3 + 1 + 1 + 3 + 2  # filed, default, three payments, two recoveries


def test_the_cap_on_the_banks_portfolio_bites(session) -> None:
    scheme = SchemeFactory(comp_cap_rate=D("0.05"))
    cover = CoverFactory(scheme=scheme, amount=D("1000000.00"), loan__amount=D("1000000.00"))
    officer = UserFactory(officer=True, institution_id=cover.institution_id)
    report = report_default(
        session,
        cover.id,
        DefaultInput(local_today(), D("100000.00"), D("0"), D("0")),
        institution_id=cover.institution_id,
        user_id=officer.id,
    )
    # The guarantee side may pay at most 5 % of the bank's 1,000,000 covered: 50,000; the bank keeps the rest.
    assert report.shares == {
        "bank": "50000.00",
        "guarantor": "25000.00",
        "reguarantor": "18750.00",
        "fund": "6250.00",
    }


def test_a_refusal_needs_a_reason_and_other_banks_cannot_ask(session) -> None:
    scheme = SchemeFactory()
    lead = LeadFactory(approved=True)
    officer = UserFactory(officer=True, institution_id=lead.institution_id)
    with pytest.raises(InvalidInputError):
        request_cover(
            session,
            lead.id,
            scheme.id,
            officer_id=officer.id,
            institution_id=lead.institution_id,
            fee_rate=D("0.02"),
        )
    cover = request_cover(
        session,
        lead.id,
        scheme.id,
        officer_id=officer.id,
        institution_id=lead.institution_id,
        fee_rate=D("0.01"),
    )
    with pytest.raises(InvalidInputError):
        decide_cover(
            session, cover.id, approve=False, reason=" ", user_id=officer.id, operator_id=scheme.operator_id
        )
    decide_cover(
        session,
        cover.id,
        approve=False,
        reason="反担保不足",
        user_id=officer.id,
        operator_id=scheme.operator_id,
    )
    assert cover.status == CoverStatus.REFUSED


def test_a_tenfold_slip_in_interest_or_collateral_is_refused_where_typed(session) -> None:
    """Only the principal is bounded by the covered amount; the interest (by the principal and a generous
    rate since disbursement) and the collateral recovered (by principal + interest) are bounded too."""
    _scheme, cover, officer, _guarantor = _covered_loan(session)  # disbursed 20 days ago
    today = local_today()

    def report(principal, interest, collateral):
        return report_default(
            session,
            cover.id,
            DefaultInput(today, D(principal), D(interest), D(collateral)),
            institution_id=cover.institution_id,
            user_id=officer.id,
        )

    refused = {
        # interest above the overdue principal
        ("100000.00", "100000.01", "0"): {"interest": ["above_overdue_principal"]},
        # 36 % a year for a quarter on 100000.00 is 8876.71: a zero too many in 1200.00
        ("100000.00", "12000.00", "0"): {"interest": ["above_interest_limit"]},
        # collateral recovered above principal + interest (a zero too many in 50000)
        ("100000.00", "1200.00", "500000.00"): {"collateral_realised": ["above_principal_and_interest"]},
    }
    for figures, fields in refused.items():
        with pytest.raises(InvalidInputError) as caught:
            report(*figures)
        assert caught.value.fields == fields
    assert cover.status == CoverStatus.ACTIVE
    assert session.scalars(select(Compensation)).all() == []
    # At the limits, accepted.
    done = report("100000.00", "8876.71", "108876.71")
    assert done.loss == D("0.00")
