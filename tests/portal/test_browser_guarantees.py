"""Real browser, the guarantor's officer on its queue: approves a request within its SLA, files covers in a
batch, and reads a defaulted cover's waterfall with the arithmetic per party; then the bank's officer asks
for cover of a loan and types a default ten times too large (refused on the field, in 万元). Screenshots of
the queue, the waterfall, the request and the refused default at 390 and 1366 px into test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from core.accounts import create_user
from core.types import local_today
from guarantees.covers import file_covers
from guarantees.defaults import DefaultInput, record_payment, record_recovery, report_default
from guarantees.models import Compensation, Cover, CoverStatus
from portal.app import create_app
from tests.conftest import make_settings
from tests.factories import (
    BorrowerFactory,
    CoverFactory,
    InstitutionFactory,
    LeadFactory,
    LoanFactory,
    ProductFactory,
    SchemeFactory,
    bind_factories,
)
from tests.portal.api_helpers import PASSWORD
from tests.portal.test_browser import VIEWPORTS, browser_tab, login, logout, require_chromium, serving, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def desk(committed_db) -> Iterator[tuple[str, dict[str, int], object]]:
    """The city's guarantee company with a 4321 scheme; a bank's covers on it: one asked for, two active
    to file, one in default with the 代偿 paid, the claims filed and a partial recovery."""
    require_chromium()
    _engine, factory = committed_db
    app = create_app(make_settings(), session_factory=factory)
    with factory() as session:
        bind_factories(session)
        guarantor = InstitutionFactory(code="JLLDB", name="吉庐陵融资担保有限公司", kind="guarantor")
        scheme = SchemeFactory(
            operator=guarantor, name="吉安市政银担“4321”风险分担", comp_cap_rate=Decimal("1")
        )
        bank = InstitutionFactory(code="JANSH", name="吉安农村商业银行")
        product = ProductFactory(institution=bank, name="政银担快贷", published=True)
        operator = create_user(
            session, username="guarantor_g1", password=PASSWORD, role="guarantor", institution_id=guarantor.id
        )
        officer = create_user(
            session, username="officer_b1", password=PASSWORD, role="officer", institution_id=bank.id
        )

        def loan(name: str, amount: str):
            borrower = BorrowerFactory(name=name, kind="enterprise", region_code="360821")
            lead = LeadFactory(
                disbursed=True, loan=None, product=product, need__borrower_id=borrower.id,
                need__amount=Decimal(amount), need__term_months=12,
            )  # fmt: skip
            return LoanFactory(lead=lead)

        asked = CoverFactory(scheme=scheme, loan=loan("吉安县恒丰蔬菜种植场", "300000"), requested=True)
        files = [
            CoverFactory(scheme=scheme, loan=loan(n, "500000"))
            for n in ("永丰县绿源超市", "泰和县乌鸡养殖场")
        ]
        defaulted = CoverFactory(scheme=scheme, loan=loan("吉水县井冈竹木加工厂", "800000"))
        session.flush()
        report_default(
            session, defaulted.id, DefaultInput(local_today(), Decimal("600000.00"), Decimal("18000.00"),
                                                Decimal("100000.00")),
            institution_id=bank.id, user_id=officer.id,
        )  # fmt: skip
        today = local_today()
        primary = session.query(Compensation).filter_by(party="guarantor").one()
        record_payment(session, primary.id, operator_id=guarantor.id, user_id=operator.id, paid_on=today,
                       amount=primary.amount_due)  # fmt: skip
        record_recovery(session, defaulted.id, operator_id=guarantor.id, user_id=operator.id,
                        amount=Decimal("50000.00"), recovered_on=today, method="litigation")  # fmt: skip
        # A filed cover, for the filed state in the queue.
        filed = CoverFactory(scheme=scheme, loan=loan("安福县火腿加工厂", "200000"))
        session.flush()
        file_covers(session, [filed.id], operator_id=guarantor.id, user_id=operator.id)
        open_lead = loan("新干县箱包加工厂", "400000").lead_id
        ids = {"asked": asked.id, "defaulted": defaulted.id, "first": files[0].id, "second": files[1].id,
               "open_lead": open_lead}  # fmt: skip
        session.commit()
    with serving(app) as base:
        yield base, ids, factory


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_the_guarantor_approves_files_and_reads_the_waterfall(desk, width):
    base, ids, factory = desk
    with browser_tab(width) as (page, failed):
        page.on("dialog", lambda dialog: dialog.accept())

        login(page, base, "guarantor_g1")
        assert page.url.endswith("/guarantees/queue")
        content = page.content()
        assert "办理时限" in content and "批量备案" in content
        shot(page, "guarantees-queue", width)

        # Approve the request from its page.
        page.get_by_role("link", name=f"#{ids['asked']}", exact=True).click()
        page.wait_for_load_state()
        assert "提交审核结论" in page.content()
        page.check("input[name='decision-decision'][value='approve']")
        page.get_by_role("button", name="提交审核结论").click()
        page.wait_for_load_state()
        assert "已同意承保" in page.content()
        # Its loan is disbursed: active at once, with its filing deadline.
        assert "在保" in page.content() and "备案这笔业务" in page.content()
        shot(page, "guarantees-approved", width)

        # File two covers in one batch from the queue.
        page.goto(f"{base}/guarantees/queue#filing")
        page.check(f"input[name='cover_ids'][value='{ids['first']}']")
        page.check(f"input[name='cover_ids'][value='{ids['second']}']")
        page.get_by_role("button", name="备案所选业务").click()
        page.wait_for_load_state()
        assert "已备案 2 笔" in page.content()

        # The defaulted cover's waterfall, with each party's arithmetic and the recovery split.
        page.goto(f"{base}/guarantees/covers/{ids['defaulted']}")
        content = page.content()
        assert (
            "500000.00 × 0.40" in content and "200,000.00元" in content and "追偿回收与按比例返还" in content
        )
        page.locator("#waterfall").scroll_into_view_if_needed()
        shot(page, "guarantees-waterfall", width)

        # The bank's side: ask for cover of another loan, then a default typed ten times too large.
        logout(page)
        login(page, base, "officer_b1")
        page.goto(f"{base}/guarantees/leads/{ids['open_lead']}/cover")
        assert "担保费率上限（年）" in page.content() and "本笔贷款符合该方案条件" in page.content()
        page.select_option("#scheme_id", label="吉安市政银担“4321”风险分担")
        page.fill("#fee_rate", "0.8")
        shot(page, "guarantees-request", width)
        page.get_by_role("button", name="提交担保/补偿申请").click()
        page.wait_for_load_state()
        assert "已提交担保/补偿申请" in page.content()
        page.goto(f"{base}/guarantees/covers/{ids['first']}")
        page.locator("#default summary").click()
        page.fill("#default-principal", "500")
        page.fill("#default-interest", "1.2")
        page.get_by_role("button", name="提交逾期报告").click()
        page.wait_for_load_state()
        assert "逾期本金不能超过担保/补偿金额 50万元" in page.content()
        page.locator("#default-principal").scroll_into_view_if_needed()
        shot(page, "guarantees-default-slip", width)
        # The refused report answered 422, as a refused form does; nothing else failed.
        assert [f for f in failed if "422" not in f] == [], failed

    with factory() as session:
        assert session.get(Cover, ids["asked"]).status == CoverStatus.ACTIVE
        assert session.get(Cover, ids["first"]).filed_on == local_today()
        assert session.get(Cover, ids["first"]).status == CoverStatus.ACTIVE
        assert session.query(Cover).filter_by(lead_id=ids["open_lead"]).one().status == CoverStatus.REQUESTED
