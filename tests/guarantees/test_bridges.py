"""Bridge funds: commitment-first approval, the dated round trip and its tiered fee to the fen, the
overdue sweep with the bank's breach, and the fund pausing itself at its overdue threshold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from core.models import Notification
from core.types import local_today
from guarantees import bridges
from guarantees.bridges import BridgeRequest, Commitment
from guarantees.errors import CommitmentMissingError, LimitExceededError, SchemePausedError
from guarantees.fees import tiered_fee
from guarantees.models import BridgeStatus, SchemeStatus
from tests.factories import BorrowerFactory, InstitutionFactory, SchemeFactory, UserFactory

HASH = "ab" * 32


def _world(session, **scheme):
    fund = SchemeFactory(bridge=True, **scheme)
    bank = InstitutionFactory()
    borrower = BorrowerFactory()
    applicant = UserFactory(borrower_id=borrower.id)
    officer = UserFactory(officer=True, institution_id=bank.id)
    operator = UserFactory(role="guarantor", institution_id=fund.operator_id)
    return fund, bank, borrower, applicant, officer, operator


def _apply(session, fund, bank, borrower, applicant, amount=D("1234567.89")):
    return bridges.apply_for_bridge(
        session,
        BridgeRequest(
            scheme_id=fund.id,
            amount=amount,
            institution_code=bank.code,
            contract_no="JX-2026-001",
            maturing_principal=D("1500000.00"),
            matures_on=local_today() + dt.timedelta(days=10),
        ),
        borrower_id=borrower.id,
        user_id=applicant.id,
    )


def test_refused_without_commitment_approved_with_one_returned_on_day_7_with_the_tiered_fee(session) -> None:
    fund, bank, borrower, applicant, officer, operator = _world(session)
    app = _apply(session, fund, bank, borrower, applicant)
    with pytest.raises(CommitmentMissingError):
        bridges.approve_bridge(session, app.id, operator_id=fund.operator_id, user_id=operator.id)
    assert app.status == BridgeStatus.SUBMITTED

    # 95 % of a 1,200,000 commitment is 1,140,000: below the bridge asked for.
    bridges.record_commitment(
        session,
        app.id,
        Commitment(D("1200000.00"), local_today() + dt.timedelta(days=5), "张行长", HASH),
        institution_id=bank.id,
        user_id=officer.id,
    )
    with pytest.raises(LimitExceededError):
        bridges.approve_bridge(session, app.id, operator_id=fund.operator_id, user_id=operator.id)

    app2 = _apply(session, fund, bank, borrower, applicant)
    bridges.record_commitment(
        session,
        app2.id,
        Commitment(D("1500000.00"), local_today() + dt.timedelta(days=5), "张行长", HASH),
        institution_id=bank.id,
        user_id=officer.id,
    )
    bridges.approve_bridge(session, app2.id, operator_id=fund.operator_id, user_id=operator.id)
    assert app2.status == BridgeStatus.APPROVED

    out = local_today() - dt.timedelta(days=7)
    app2.approved_on = out  # approved a week ago, for the clock
    bridges.disburse_bridge(session, app2.id, operator_id=fund.operator_id, user_id=operator.id, on=out)
    assert app2.due_on == out + dt.timedelta(days=10)
    bridges.record_old_loan_repaid(
        session, app2.id, institution_id=bank.id, user_id=officer.id, on=out + dt.timedelta(days=1)
    )
    bridges.record_renewal(
        session,
        app2.id,
        institution_id=bank.id,
        user_id=officer.id,
        on=out + dt.timedelta(days=6),
        amount=D("1500000.00"),
    )
    clock = bridges.clock(fund, app2, local_today())
    assert clock is not None and clock.days_used == 7 and clock.days_left == 3
    bridges.return_bridge(
        session, app2.id, operator_id=fund.operator_id, user_id=operator.id, on=local_today()
    )
    assert app2.status == BridgeStatus.RETURNED
    assert app2.days_used == 7
    # 1234567.89 × (5 × 0.0002 + 2 × 0.0004) = 1234567.89 × 0.0018 = 2222.222202 → 2222.22
    assert app2.fee == D("2222.22")


def test_fee_tiers_day_by_day() -> None:
    tiers = [{"up_to_day": 5, "daily_rate": "0.0002"}, {"up_to_day": None, "daily_rate": "0.0004"}]
    assert tiered_fee(D("10000000.00"), 1, tiers) == D("2000.00")
    assert tiered_fee(D("10000000.00"), 5, tiers) == D("10000.00")
    assert tiered_fee(D("10000000.00"), 6, tiers) == D("14000.00")
    assert tiered_fee(D("333.33"), 3, tiers) == D("0.20")  # 0.199998


def test_the_fund_pauses_itself_when_overdue_passes_the_threshold(session) -> None:
    fund, bank, borrower, applicant, officer, operator = _world(session, capital=D("5000000.00"))
    apps = []
    for amount in (D("1000000.00"), D("1000001.00")):
        app = _apply(session, fund, bank, borrower, applicant, amount=amount)
        bridges.record_commitment(
            session,
            app.id,
            Commitment(D("1500000.00"), local_today(), "李行长", HASH),
            institution_id=bank.id,
            user_id=officer.id,
        )
        bridges.approve_bridge(session, app.id, operator_id=fund.operator_id, user_id=operator.id)
        out = local_today() - dt.timedelta(days=12)
        app.approved_on = out
        bridges.disburse_bridge(session, app.id, operator_id=fund.operator_id, user_id=operator.id, on=out)
        apps.append(app)
    bridges.record_old_loan_repaid(
        session,
        apps[1].id,
        institution_id=bank.id,
        user_id=officer.id,
        on=local_today() - dt.timedelta(days=11),
    )
    # The first is overdue alone: 1,000,000 / 5,000,000 = 20 %, within 40 %.
    apps[1].due_on = local_today() + dt.timedelta(days=1)
    assert bridges.sweep_overdue(session) == 1
    assert apps[0].status == BridgeStatus.OVERDUE and fund.status == SchemeStatus.ACTIVE
    # The second falls due unrenewed: 2,000,001 / 5,000,000 = 40.00002 % > 40 %: the fund pauses.
    apps[1].due_on = local_today() - dt.timedelta(days=2)
    assert bridges.sweep_overdue(session) == 1
    assert apps[1].status == BridgeStatus.BANK_BREACH and apps[1].breach_on == local_today()
    assert fund.status == SchemeStatus.PAUSED
    assert fund.paused_reason is not None and "40.00%" in fund.paused_reason
    assert session.scalar(select(Notification.id).where(Notification.kind == "bridge_overdue")) is not None
    with pytest.raises(SchemePausedError):
        _apply(session, fund, bank, borrower, applicant)
    # A return brings the share back within the threshold: the rule that paused the fund resumes it.
    bridges.return_bridge(
        session, apps[0].id, operator_id=fund.operator_id, user_id=operator.id, on=local_today()
    )
    assert fund.status == SchemeStatus.ACTIVE
    assert apps[0].fee == D("3800.00")  # 12 days of 1,000,000: 5 × 200 + 7 × 400
