"""portal.api.common.dumped: a list view's presenter dict, encoded as its output schema would dump it."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from matching.inbox import officer_leads
from portal.api.common import dumped, page_body
from portal.api.products import product_dict
from portal.api.schemas.leads import LeadPage
from portal.api.schemas.products import ProductPage
from portal.presenters import lead_page_json
from tests.factories import LeadFactory, LoanFactory, LoanPerformanceFactory, ProductFactory, UserFactory


def test_a_page_of_leads_encodes_as_its_schema_dumps_it(app, session):
    product = ProductFactory(published=True)
    officer = UserFactory(officer=True, institution_id=product.institution_id)
    LeadFactory(product=product)  # anonymous: no borrower, no loan
    claimed = LeadFactory(product=product, approved=True, status="disbursed", claimed_by=officer.id)
    LoanPerformanceFactory(loan=LoanFactory(lead=claimed), late_30=True)  # disclosed, with a loan
    claimed.stale_flagged_at = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    session.flush()
    page = officer_leads(session, institution_id=product.institution_id, officer_id=officer.id)
    assert {lead.disclosed for lead in page.items} == {True, False}
    body = lead_page_json(page)

    with app.test_request_context():
        response = dumped(body)

    assert response.mimetype == "application/json"
    assert json.loads(response.get_data(as_text=True)) == LeadPage().dump(body)


def test_a_page_of_products_encodes_as_its_schema_dumps_it(app, session):
    products = [ProductFactory(published=True), ProductFactory(published=True, min_score=None)]
    products[0].rate_min = Decimal("3.450")
    session.flush()
    body = page_body([product_dict(p) for p in products], 2, 1, 20)
    body["items"][1]["max_amount"] = Decimal("1.5E+6")  # the schema writes "1500000", not "1.5E+6"

    with app.test_request_context():
        response = dumped(body)

    assert json.loads(response.get_data(as_text=True)) == ProductPage().dump(body)
