"""The officer's inbox as one narrow statement: the same leads, in the same order, as `list_leads`."""

from __future__ import annotations

import pytest

from credit_profile.models import Borrower
from matching.dispatch import match_need
from matching.leads import claim_lead, list_inbox, list_leads
from tests.matching.helpers import applicant, bank, submit

pytestmark = pytest.mark.smoke


def test_the_inbox_lists_what_list_leads_lists_in_its_order_with_the_need_borrower_and_product(session):
    institution, product, [officer] = bank()
    _other, _other_product, _ = bank()
    needs = []
    for i, kind in enumerate(["enterprise", "individual_business", "farmer", "enterprise", "enterprise"]):
        borrower, user = applicant(region_code=["360802", "360821", "360881"][i % 3], kind=kind)
        needs.append(submit(session, borrower.id, user.id, amount=str(100_000 * (i + 1))))
        session.flush()
        match_need(session, needs[-1].id, top_n=3)
    mine = list_leads(session, institution_id=institution.id, limit=100)[0]
    claim_lead(session, mine[1].id, officer_id=officer.id, institution_id=institution.id)
    session.flush()

    for status in (None, "pushed", "claimed", "rejected"):
        for limit, offset in ((100, 0), (2, 0), (2, 2), (2, 4)):
            leads, total = list_leads(
                session, institution_id=institution.id, status=status, limit=limit, offset=offset
            )
            rows, inbox_total = list_inbox(
                session, institution_id=institution.id, status=status, limit=limit, offset=offset
            )
            assert inbox_total == total
            assert [r.id for r in rows] == [lead.id for lead in leads]
            for row, lead in zip(rows, leads, strict=True):
                assert (row.status, row.sla_due_at) == (lead.status, lead.sla_due_at)
                assert (row.amount, row.term_months) == (lead.need.amount, lead.need.term_months)
                assert (row.borrower_kind, row.region_code) == (
                    session.get(Borrower, lead.borrower_id).kind,
                    session.get(Borrower, lead.borrower_id).region_code,
                )
                assert row.product_name == product.name
    assert list_inbox(session, institution_id=institution.id)[1] == 5
    assert {r.status for r in list_inbox(session, institution_id=institution.id)[0]} == {"pushed", "claimed"}
