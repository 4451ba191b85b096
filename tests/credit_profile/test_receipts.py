"""Data-use receipts on the audit chain: each transaction that records uses of authorised data seals a
digest of them into the chain, so a use edited or deleted afterwards is found."""

from __future__ import annotations

from sqlalchemy import select, text

from core.models import StatusEvent
from credit_profile.consents import record_use
from credit_profile.receipts import verify_use_receipts
from tests.conftest import IS_POSTGRES
from tests.factories import BorrowerFactory


def test_uses_are_receipted_on_the_chain_and_tampering_is_found(session):
    borrower = BorrowerFactory()
    session.flush()
    for action in ("self_read", "institution_read"):
        record_use(session, borrower_id=borrower.id, action=action)
    session.commit()
    receipt = session.scalar(select(StatusEvent).where(StatusEvent.entity_type == "consent_uses"))
    assert receipt is not None and receipt.hash is not None
    assert receipt.data["count"] == 2
    assert verify_use_receipts(session) == []
    if IS_POSTGRES:
        session.execute(text("SET LOCAL session_replication_role = replica"))
    session.execute(text("UPDATE consent_uses SET action = 'model_training' WHERE action = 'self_read'"))
    assert [p.kind for p in verify_use_receipts(session)] == ["receipt_mismatch"]


def test_a_disbursement_puts_the_loan_figures_on_the_chain(session):
    from decimal import Decimal

    from core.types import local_today
    from matching.dispatch import match_need
    from matching.leads import claim_lead, transition_lead
    from matching.loans import LoanInput
    from tests.matching.helpers import applicant, bank, submit

    figures = LoanInput(
        amount=Decimal("150000"), rate=Decimal("4.35"), term_months=12, collateral="credit",
        disbursed_on=local_today(), first_loan_borrower=True, renewal_without_repayment=False,
    )  # fmt: skip

    institution, _product, officers = bank("3.10")
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    (lead,) = match_need(session, need.id, top_n=1)
    claim_lead(session, lead.id, officer_id=officers[0].id, institution_id=institution.id)
    for step in ("contacted", "approved"):
        transition_lead(session, lead.id, to=step, officer_id=officers[0].id, institution_id=institution.id)
    transition_lead(
        session, lead.id, to="disbursed", officer_id=officers[0].id, institution_id=institution.id,
        loan=figures,
    )  # fmt: skip
    event = session.scalar(
        select(StatusEvent).where(StatusEvent.entity_id == lead.id, StatusEvent.to_status == "disbursed")
    )
    assert event.data["loan"]["amount"] == "150000" and event.data["loan"]["rate"] == "4.35"
    assert event.data["loan"]["first_loan_borrower"] is True
