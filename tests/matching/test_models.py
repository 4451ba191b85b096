"""Needs, leads and loans carry their borrower's county, kind and industry (matching.models.BorrowerCopy),
kept equal to the borrower's by the database: filled when a row is written through the services, carried
along when the borrower changes, and a row whose copy differs is refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.types import local_today
from credit_profile.models import Borrower
from matching.dispatch import match_need
from matching.leads import claim_lead, transition_lead
from matching.loans import LoanInput
from matching.models import Lead, Loan, Need
from stats import breakdowns
from stats.windows import Window
from tests.matching.helpers import applicant, bank, submit

pytestmark = pytest.mark.smoke


def _disbursed(session):
    institution, _product, [officer] = bank()
    borrower, user = applicant(region_code="360802", industry_code="C39")
    need = submit(session, borrower.id, user.id)
    [lead] = [row for row in match_need(session, need.id, top_n=3) if row.institution_id == institution.id]
    claim_lead(session, lead.id, officer_id=officer.id, institution_id=institution.id)
    for step in ("contacted", "approved"):
        transition_lead(session, lead.id, to=step, officer_id=officer.id, institution_id=institution.id)
    loan = LoanInput(
        amount=Decimal("300000"), rate=Decimal("3.85"), term_months=24, collateral="credit",
        disbursed_on=local_today(), first_loan_borrower=True, renewal_without_repayment=False,
    )  # fmt: skip
    transition_lead(
        session, lead.id, to="disbursed", officer_id=officer.id, institution_id=institution.id, loan=loan
    )
    session.flush()
    return borrower


def _copies(session, borrower_id):
    return [
        tuple(row)
        for model in (Need, Lead, Loan)
        for row in session.execute(
            select(model.region_code, model.borrower_kind, model.industry_code, model.industry_section).where(
                model.borrower_id == borrower_id
            )
        )
    ]


def test_rows_written_by_the_services_carry_their_borrowers_attributes(session):
    borrower = _disbursed(session)
    assert _copies(session, borrower.id) == [("360802", borrower.kind, "C39", "C")] * 3


def test_a_change_to_the_borrower_is_carried_to_every_row_and_moves_it_in_the_breakdowns(session):
    borrower = _disbursed(session)
    today = local_today()
    window = Window(today - dt.timedelta(days=1), today)
    before = breakdowns.breakdown(session, window, "county")
    assert [i["key"] for i in before["items"] if i["loans"]] == ["360802"]

    session.execute(
        update(Borrower)
        .where(Borrower.id == borrower.id)
        .values(region_code="360821", kind="individual_business", industry_code="F")
    )
    session.expire_all()
    assert _copies(session, borrower.id) == [("360821", "individual_business", "F", "F")] * 3
    after = breakdowns.breakdown(session, window, "county")
    assert [i["key"] for i in after["items"] if i["loans"]] == ["360821"]
    assert [i["key"] for i in breakdowns.breakdown(session, window, "industry")["items"] if i["loans"]] == [
        "F"
    ]


@pytest.mark.parametrize("model", [Need, Lead, Loan])
@pytest.mark.parametrize(
    "values", [{"region_code": "360821"}, {"borrower_kind": "farmer"}, {"industry_code": "A"}], ids=str
)
def test_a_copy_that_differs_from_the_borrowers_is_refused(session, model, values):
    borrower = _disbursed(session)
    savepoint = session.begin_nested()
    with pytest.raises(IntegrityError):
        session.execute(update(model).where(model.borrower_id == borrower.id).values(**values))
        session.flush()
    savepoint.rollback()
    assert _copies(session, borrower.id) == [("360802", borrower.kind, "C39", "C")] * 3
