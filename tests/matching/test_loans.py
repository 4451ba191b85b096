"""Loans: renewal reminders before a declared renewal falls due; the closed loop of loan performance reports,
the training table, and training a scorecard from it."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import random
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.errors import InvalidInputError
from core.models import Notification, OutgoingMessage
from core.types import local_today
from credit_profile.consents import grant_consent, revoke_consent
from credit_profile.features import FEATURE_NAMES
from credit_profile.models import ConsentUse, ScorecardVersion
from matching.errors import LeadNotFoundError, LoanNotDisbursedError
from matching.leads import report_performance
from matching.loans import TRAINING_COLUMNS, send_renewal_reminders, training_table
from matching.models import Lead, Loan
from matching.needs import RenewalInput, withdraw_need
from tests.credit_profile.helpers import month, store
from tests.factories import BorrowerFactory, InstitutionFactory, LeadFactory, ProductFactory, UserFactory
from tests.matching.helpers import applicant, submit
from tests.matching.helpers import bank as lender


@pytest.fixture
def bank(session):
    product = ProductFactory(published=True)
    officer = UserFactory(officer=True, institution_id=product.institution_id)
    session.flush()
    return {"product": product, "institution_id": product.institution_id, "officer": officer}


def lead_for(bank, borrower, *, status="disbursed", disbursed_on=None) -> Lead:
    """A lead in ``status``; a disbursed one with its loan (what transition_lead leaves behind)."""
    loan = {"loan__first_loan": True, "loan__disbursed_on": disbursed_on or local_today()}
    return LeadFactory(
        **{status: True},
        **(loan if status == "disbursed" else {}),
        need__borrower=borrower,
        need__amount=Decimal("100000.00"),
        product=bank["product"],
        claimed_by=bank["officer"].id,
    )


def report(session, bank, lead, as_of=None, overdue_30=False, overdue_90=False):
    return report_performance(
        session,
        lead.id,
        officer_id=bank["officer"].id,
        institution_id=bank["institution_id"],
        as_of=as_of or local_today(),
        overdue_30=overdue_30,
        overdue_90=overdue_90,
    )


def test_performance_is_reported_on_disbursed_loans_only(session, bank):
    borrower = BorrowerFactory()
    disbursed_on = local_today() - dt.timedelta(days=40)
    lead = lead_for(bank, borrower, disbursed_on=disbursed_on)
    row = report(session, bank, lead, overdue_30=True)
    assert (row.overdue_30, row.overdue_90, row.reported_by) == (True, False, bank["officer"].id)

    with pytest.raises(LoanNotDisbursedError):
        report(session, bank, lead_for(bank, borrower, status="approved"))
    other_bank = InstitutionFactory()
    session.flush()
    with pytest.raises(LeadNotFoundError):
        report_performance(
            session,
            lead.id,
            officer_id=bank["officer"].id,
            institution_id=other_bank.id,
            as_of=local_today(),
            overdue_30=False,
            overdue_90=False,
        )
    for kwargs, fields in (
        ({"as_of": local_today() + dt.timedelta(days=1)}, {"as_of": ["in_future"]}),
        ({"as_of": disbursed_on - dt.timedelta(days=1)}, {"as_of": ["before_disbursement"]}),
        ({"overdue_90": True}, {"overdue_30": ["implied_by_overdue_90"]}),
    ):
        with pytest.raises(InvalidInputError) as caught:
            report(session, bank, lead, **kwargs)
        assert caught.value.fields == fields


def borrowers_with_outcomes(session, bank, outcomes):
    """One borrower per (slope, bad): two years of consented electricity use changing by ``slope`` kWh
    a month, a disbursed loan, and a report saying whether it went 30 (and, for every fourth borrower, 90)
    days past due."""
    leads = []
    for i, (slope, bad) in enumerate(outcomes):
        borrower = BorrowerFactory()
        consent = grant_consent(
            session,
            borrower_id=borrower.id,
            sources=["electricity"],
            purpose="融资",
            expires_on=local_today() + dt.timedelta(days=90),
            actor_id=None,
        )
        for back in range(1, 25):
            level = Decimal(2000 + slope * (24 - back) + i).quantize(Decimal("0.01"))
            store(session, borrower.id, "electricity", [month(back)], consent.id, kwh=level)
        # The month of disbursement is after the features' reference month: it must never be used.
        store(session, borrower.id, "electricity", [month(0)], consent.id, kwh=Decimal(0))
        lead = lead_for(bank, borrower)
        report(session, bank, lead, overdue_30=bad, overdue_90=bad and i % 4 == 0)
        leads.append((lead, borrower, consent, bad))
    return leads


def test_training_table_has_features_at_disbursement_and_the_chosen_target(session, bank):
    leads = borrowers_with_outcomes(session, bank, [(-30, True), (30, False), (-30, True), (30, False)])
    revoke_consent(session, leads[1][2], actor_id=None)

    rows = {row.loan_id: row for row in training_table(session, target="overdue_30")}
    loans = {lead.id: session.scalar(select(Loan.id).where(Loan.lead_id == lead.id)) for lead, *_ in leads}

    assert [rows[loans[lead.id]].bad for lead, *_ in leads] == [1, 0, 1, 0]
    assert [row.bad for row in training_table(session, target="overdue_90")] == [1, 0, 0, 0]
    first = rows[loans[leads[0][0].id]].features
    assert first["elec_zero_months"] == 0.0  # the disbursement month's zero is not seen
    assert first["elec_trend_12m"] < 0 and rows[loans[leads[2][0].id]].features["elec_trend_12m"] < 0
    assert rows[loans[leads[3][0].id]].features["elec_trend_12m"] > 0
    # The revoked borrower's data is no longer used.
    assert set(rows[loans[leads[1][0].id]].features.values()) == {None}
    uses = session.scalars(select(ConsentUse).where(ConsentUse.action == "model_training")).all()
    assert {u.borrower_id for u in uses} == {leads[i][1].id for i in (0, 2, 3)}
    with pytest.raises(InvalidInputError):
        training_table(session, target="overdue_60")


def test_immature_good_loans_wait_for_their_observation_period(session, bank):
    borrower = BorrowerFactory()
    lead = lead_for(bank, borrower, disbursed_on=local_today() - dt.timedelta(days=100))
    report(session, bank, lead)
    assert len(training_table(session, min_months_on_book=3)) == 1
    assert training_table(session, min_months_on_book=4) == []
    # A correction for the same date counts, not the first report.
    report(session, bank, lead, overdue_30=True, overdue_90=True)
    assert [row.bad for row in training_table(session, min_months_on_book=6)] == [1]


@pytest.mark.slow
def test_export_train_register_closes_the_loop(session, bank, runner, tmp_path):
    # Falling use makes a bad outcome likelier, not certain (optbinning will not bin a perfect split).
    rng = random.Random(20261122)
    slopes = [rng.uniform(-40, 40) for _ in range(60)]
    borrowers_with_outcomes(session, bank, [(s, rng.random() < 1 / (1 + math.exp(s / 8))) for s in slopes])
    table = tmp_path / "training.csv"

    result = runner.invoke(
        args=["scorecard", "export-training", "--out", str(table), "--target", "overdue_30"]
    )
    assert result.exit_code == 0, result.output
    with table.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 60 and list(rows[0]) == [*TRAINING_COLUMNS, "overdue_30"]
    assert {r["overdue_30"] for r in rows} == {"0", "1"}

    artefact = tmp_path / "card.json"
    result = runner.invoke(
        args=[
            "scorecard",
            "train",
            "--data",
            str(table),
            "--target",
            "overdue_30",
            "--exclude",
            "loan_id",
            "--out",
            str(artefact),
            "--version",
            "loop-1",
            # The loop is what this test is about; choosing the family is tests/portal/test_cli_credit.py's.
            "--method",
            "scorecard",
        ]
    )
    assert result.exit_code == 0, result.output
    names = {c["name"] for c in json.loads(artefact.read_text(encoding="utf-8"))["characteristics"]}
    assert names and names <= set(FEATURE_NAMES)

    result = runner.invoke(args=["scorecard", "register", "--model", str(artefact), "--note", "闭环"])
    assert result.exit_code == 0, result.output
    row = session.scalar(select(ScorecardVersion).where(ScorecardVersion.version == "loop-1"))
    assert (row.active, row.note) == (False, "闭环")


# --- renewal reminders 60, 30 and 15 days before a declared renewal falls due, each once ---


def _renewal_need(session, matures_in_days):
    lender()  # a published product, so that the renewal need is matched
    borrower, user = applicant()
    today = local_today()
    need = submit(
        session,
        borrower.id,
        user.id,
        renewal=RenewalInput(current_amount=500000, matures_on=today + dt.timedelta(days=matures_in_days)),
    )
    return need, user, today


def _reminders(session, user):
    return [
        n.data["threshold"]
        for n in session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id, Notification.kind == "renewal_reminder")
            .order_by(Notification.id)
        )
    ]


def test_each_threshold_is_reminded_once_as_the_due_date_approaches(session):
    need, user, today = _renewal_need(session, 70)
    assert send_renewal_reminders(session, today=today) == 0  # more than 60 days out

    for day, expected in (
        (10, [60]),
        (11, [60]),
        (40, [60, 30]),
        (41, [60, 30]),
        (55, [60, 30, 15]),
        (69, [60, 30, 15]),
    ):
        send_renewal_reminders(session, today=today + dt.timedelta(days=day))
        assert _reminders(session, user) == expected, day

    sms = session.scalars(select(OutgoingMessage).where(OutgoingMessage.user_id == user.id)).all()
    assert len(sms) == 3
    assert all("无还本续贷须在贷款到期前申请办理" in m.body for m in sms)
    assert str(need.renewal_matures_on.year) in sms[0].body


def test_a_need_submitted_late_gets_only_the_tightest_threshold(session):
    _need, user, today = _renewal_need(session, 20)
    assert send_renewal_reminders(session, today=today) == 1
    assert _reminders(session, user) == [30]


def test_a_withdrawn_renewal_is_not_reminded(session):
    need, user, today = _renewal_need(session, 50)
    withdraw_need(session, need, actor_id=user.id)
    assert send_renewal_reminders(session, today=today) == 0
