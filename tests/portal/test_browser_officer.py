"""Real browser, the officer's workbench: decline a lead, claim another, add a note, record a disbursement
that needs the outlier confirmation, correct it. Screenshots at 390 and 1366 px into test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.accounts import create_user
from matching.dispatch import match_need
from matching.models import Lead, Loan
from matching.needs import NeedInput, submit_need
from portal.app import create_app
from tests.conftest import make_settings
from tests.factories import BorrowerFactory, InstitutionFactory, ProductFactory, UserFactory, bind_factories
from tests.portal.api_helpers import PASSWORD
from tests.portal.test_browser import VIEWPORTS, browser_tab, login, require_chromium, serving, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def workbench(committed_db) -> Iterator[tuple[str, list[int], object]]:
    """A bank, two of its officers and two needs of 30万元 pushed to it."""
    require_chromium()
    _engine, factory = committed_db
    app = create_app(make_settings(), session_factory=factory)
    with factory() as session:
        bind_factories(session)
        bank = InstitutionFactory(code="JAWB", name="吉安工作台银行")
        ProductFactory(institution=bank, name="吉农快贷", published=True, max_amount=Decimal("3000000"))
        for username in ("officer_w1", "officer_w2"):
            create_user(session, username=username, password=PASSWORD, role="officer", institution_id=bank.id)
        lead_ids = []
        for n, name in enumerate(("吉安县恒丰蔬菜种植场", "永丰县绿源小超市")):
            borrower = BorrowerFactory(name=name, kind="individual_business", employees=3)
            user = UserFactory(borrower_id=borrower.id, phone=f"1390796{n:04d}")
            need = submit_need(
                session,
                borrower_id=borrower.id,
                actor_id=user.id,
                data=NeedInput(
                    amount=Decimal("300000"),
                    term_months=12,
                    purpose="进货周转",
                    collateral="credit",
                    declared_prior_loan=False,
                ),
            )
            [lead] = match_need(session, need.id, top_n=3)
            lead_ids.append(lead.id)
        session.commit()
    with serving(app) as base:
        yield base, lead_ids, factory


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_the_officer_declines_claims_notes_disburses_and_corrects(workbench, width):
    base, (first, second), factory = workbench
    with browser_tab(width) as (page, failed):
        page.on("dialog", lambda dialog: dialog.accept())

        login(page, base, "officer_w1")
        page.goto(f"{base}/officer/leads")
        assert "认领时限" in page.content()
        shot(page, "workbench-inbox", width)

        # Decline the first lead without claiming it.
        page.goto(f"{base}/officer/leads/{first}")
        page.locator("#decline summary").click()
        page.select_option("#decline-reason_code", "outside_product_scope")
        page.fill("#decline-note", "经营范围不在本产品支持之列")
        shot(page, "workbench-decline", width)
        page.get_by_role("button", name="婉拒此线索").click()
        page.wait_for_load_state()
        assert "已婉拒该线索" in page.content()

        # Claim the second, add a note, move it on.
        page.goto(f"{base}/officer/leads/{second}")
        page.get_by_role("button", name="认领线索").click()
        page.wait_for_load_state()
        assert "永丰县绿源小超市" in page.content()
        page.fill("#note-text", "已约客户周三上午到网点面谈")
        page.get_by_role("button", name="添加备注").click()
        page.wait_for_load_state()
        page.get_by_role("button", name="登记为已联系").click()
        page.wait_for_load_state()
        page.get_by_role("button", name="登记为审批通过").click()
        page.wait_for_load_state()

        # 200万元 for a 30万元 need: a warning and the confirmation box; then confirmed.
        assert page.input_value("#disbursed-amount") == "30"
        page.fill("#disbursed-amount", "200")
        page.fill("#disbursed-rate", "4.35")
        page.get_by_role("button", name="确认放款").click()
        page.wait_for_load_state()
        assert "放款金额超过需求金额的两倍" in page.content()
        page.locator("#disbursed-amount").scroll_into_view_if_needed()
        shot(page, "workbench-outlier", width)
        page.check("#disbursed-confirm_outlier")
        page.get_by_role("button", name="确认放款").click()
        page.wait_for_load_state()
        assert "已登记放款" in page.content()

        # The slip corrected: 30万元, with a reason.
        page.locator("#correct summary").click()
        page.fill("#correct-amount", "30")
        page.fill("#correct-reason", "多录了一个零，按合同更正为30万元")
        page.get_by_role("button", name="保存更正").click()
        page.wait_for_load_state()
        assert "放款信息已更正" in page.content()
        assert "更正放款信息：金额 200万元 → 30万元" in page.content()
        assert "已约客户周三上午到网点面谈" in page.content()
        page.locator("#history").scroll_into_view_if_needed()
        shot(page, "workbench-corrected", width)

        page.goto(f"{base}/officer/leads?status=declined")
        assert f"#{first}" in page.content()
        # The refused disbursement answered 422, as a refused form does; nothing else failed.
        assert [f for f in failed if "422" not in f] == [], failed

    with factory() as session:
        assert session.scalar(select(Loan.amount).where(Loan.lead_id == second)) == Decimal("300000.00")
        assert session.get(Lead, first).status == "declined"
