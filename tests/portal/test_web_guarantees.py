"""The guarantee pages for the guarantor role (not a column of the access matrix): its own queue, its own
covers and bridges, another operator's a 404; the finance office's scheme page and the supermarket's
badges."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from core.types import local_today
from guarantees import bridges
from guarantees.defaults import DefaultInput, report_default
from guarantees.models import SchemeProduct
from tests.factories import PASSWORD, CoverFactory, ProductFactory, SchemeFactory, UserFactory
from tests.factories.guarantees import submitted_bridge

pytestmark = pytest.mark.smoke


def _login(client, user):
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_guarantor_sees_its_own_queue_cover_and_bridge_only(app, session):
    scheme, other = SchemeFactory(), SchemeFactory()
    cover = CoverFactory(scheme=scheme)
    foreign = CoverFactory(scheme=other)
    officer = UserFactory(officer=True, institution_id=cover.institution_id)
    report_default(
        session, cover.id, DefaultInput(local_today(), D("10000.00"), D("0"), D("0")),
        institution_id=cover.institution_id, user_id=officer.id,
    )  # fmt: skip
    fund = SchemeFactory(bridge=True, operator_id=scheme.operator_id)
    app_row = submitted_bridge(
        fund, borrower_id=cover.borrower_id, institution_id=cover.institution_id, region_code="360802"
    )
    guarantor = UserFactory(role="guarantor", institution_id=scheme.operator_id)
    client = _login(app.test_client(), guarantor)

    queue = client.get("/guarantees/queue")
    assert queue.status_code == 200
    body = queue.get_data(as_text=True)
    assert f"#{cover.id}<" in body and f"#{foreign.id}<" not in body
    page = client.get(f"/guarantees/covers/{cover.id}").get_data(as_text=True)
    # The waterfall with its arithmetic: 10000.00 × 0.40 = 4,000.00 for the guarantor.
    assert "10000.00 × 0.40" in page and "4,000.00元" in page and "担保机构承担" in page
    assert client.get(f"/guarantees/covers/{foreign.id}").status_code == 404
    # The queue links the one bridge page; its former address moved there for good.
    assert f'href="/bridges/{app_row.id}"' in body
    moved = client.get(f"/guarantees/bridges/{app_row.id}")
    assert moved.status_code == 301 and moved.headers["Location"].endswith(f"/bridges/{app_row.id}")
    assert "/guarantees/" not in moved.headers["Location"]
    assert "尚未收到银行书面续贷承诺" in client.get(f"/bridges/{app_row.id}").get_data(as_text=True)
    assert client.get("/guarantees/schemes").status_code == 403
    assert client.get("/officer/leads").status_code == 403


def test_bridge_clock_on_the_page(app, session):
    fund = SchemeFactory(bridge=True)
    cover = CoverFactory()
    app_row = submitted_bridge(
        fund, borrower_id=cover.borrower_id, institution_id=cover.institution_id, region_code="360802"
    )
    app_row.status, app_row.commitment_amount, app_row.commitment_doc_hash = "approved", D("300000"), "a" * 64
    app_row.approved_on = local_today() - dt.timedelta(days=7)
    operator = UserFactory(role="guarantor", institution_id=fund.operator_id)
    bridges.disburse_bridge(
        session, app_row.id, operator_id=fund.operator_id, user_id=operator.id, on=app_row.approved_on
    )
    client = _login(app.test_client(), operator)
    page = client.get(f"/guarantees/bridges/{app_row.id}", follow_redirects=True).get_data(as_text=True)
    # 7 days of 250,000: 5 × 50 + 2 × 100 = 450.00; 3 of the 10 days left.
    assert "7 天（最长 10 天）" in page and "剩余3天" in page and "450.00元" in page


def test_finance_scheme_page_and_supermarket_badges(app, session):
    scheme = SchemeFactory(name="吉安4321测试方案")
    product = ProductFactory(published=True)
    session.add(SchemeProduct(scheme_id=scheme.id, product_id=product.id))
    CoverFactory(scheme=scheme)
    session.flush()
    finance = UserFactory(finance=True)
    client = _login(app.test_client(), finance)
    page = client.get("/guarantees/schemes?from_date=2026-01-01&to_date=2026-12-31&region_code=&by=scheme")
    assert page.status_code == 200
    assert "吉安4321测试方案" in page.get_data(as_text=True)
    bad = client.get("/guarantees/schemes?from_date=2026-12-31&to_date=2026-01-01&region_code=&by=scheme")
    assert bad.status_code == 422 and "结束日期不能早于开始日期" in bad.get_data(as_text=True)
    shelf = app.test_client().get("/products").get_data(as_text=True)
    assert "政府性担保" in shelf


def test_the_match_explanation_names_the_public_scheme_to_officer_and_applicant(app, session):
    from matching.dispatch import match_need
    from tests.factories import BorrowerFactory, NeedFactory

    scheme = SchemeFactory(operator__name="吉庐陵融资担保有限公司")
    product = ProductFactory(published=True)
    session.add(SchemeProduct(scheme_id=scheme.id, product_id=product.id))
    borrower = BorrowerFactory()
    applicant = UserFactory(borrower_id=borrower.id, phone="13912345678")
    need = NeedFactory(borrower=borrower, amount=D("100000.00"))
    session.flush()
    (lead,) = [lead for lead in match_need(session, need.id, top_n=5) if lead.product_id == product.id]
    officer = UserFactory(officer=True, institution_id=product.institution_id)
    words = "该产品有政府性融资担保（吉庐陵融资担保有限公司）支持"

    lead_page = _login(app.test_client(), officer).get(f"/officer/leads/{lead.id}")
    assert lead_page.status_code == 200 and "匹配理由" in lead_page.get_data(as_text=True)
    assert words in lead_page.get_data(as_text=True)
    need_page = _login(app.test_client(), applicant).get(f"/me/needs/{need.id}")
    assert need_page.status_code == 200 and words in need_page.get_data(as_text=True)
