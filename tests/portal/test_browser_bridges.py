"""Real browser, bridge funds and schemes: a bridge application's clock page (the operator's view, with
the fee's arithmetic and its step forms; the applicant's application form) and the city finance
office's scheme page (the list, a paused scheme's reason, the edit form). Screenshots at 390 and 1366
px into test-artifacts/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest

from core.accounts import create_user
from core.types import local_today
from guarantees.models import BridgeApplication, BridgeStatus
from portal.app import create_app
from tests.conftest import make_settings
from tests.factories import BorrowerFactory, InstitutionFactory, NeedFactory, SchemeFactory, bind_factories
from tests.portal.api_helpers import PASSWORD
from tests.portal.test_browser import VIEWPORTS, browser_tab, login, require_chromium, serving, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def funds(committed_db) -> Iterator[tuple[str, int, int]]:
    """A bridge fund with a bridge out for 7 of its 10 days, a paused compensation fund, a 4321 scheme;
    the fund's operator, the applicant (with a renewal need), the city finance office."""
    require_chromium()
    _engine, factory = committed_db
    app = create_app(make_settings(), session_factory=factory)
    with factory() as session:
        bind_factories(session)
        operator = InstitutionFactory(code="XLLZD", name="新庐陵转贷服务有限公司", kind="guarantor")
        fund = SchemeFactory(bridge=True, operator_id=operator.id, name="新庐陵续贷周转金", code="XLL-BRIDGE")
        guarantee = SchemeFactory(name="吉庐陵“4321”政银担风险分担", code="JLL-4321")
        SchemeFactory(
            fund=True, name="吉安科贷通风险补偿资金", code="KDT-JA", status="paused",
            paused_reason="代偿率 5.6% 超过方案上限 5%，市金融办暂停新业务，待资金补足后恢复",
        )  # fmt: skip
        bank = InstitutionFactory(code="JAXB", name="吉安农商银行")
        borrower = BorrowerFactory(name="吉安县恒丰蔬菜种植场", kind="individual_business")
        NeedFactory(
            borrower_id=borrower.id, renewal=True, amount=Decimal("300000"), renewal_institution_code="JAXB"
        )
        create_user(
            session, username="bridge_applicant", password=PASSWORD, role="applicant", borrower_id=borrower.id
        )
        create_user(
            session,
            username="bridge_operator",
            password=PASSWORD,
            role="guarantor",
            institution_id=operator.id,
        )
        create_user(session, username="city_finance", password=PASSWORD, role="finance", region_code="360800")
        out = local_today() - dt.timedelta(days=7)
        bridge = BridgeApplication(
            scheme_id=fund.id, borrower_id=borrower.id, region_code=borrower.region_code, institution_id=bank.id,
            contract_no="JXNS-2025-0188", maturing_principal=Decimal("300000.00"),
            matures_on=out + dt.timedelta(days=1), amount=Decimal("250000.00"), status=BridgeStatus.DISBURSED,
            commitment_amount=Decimal("300000.00"), commitment_date=out + dt.timedelta(days=3),
            commitment_signer="李行长", commitment_doc_hash="9f" * 32, approved_on=out, disbursed_on=out,
            due_on=out + dt.timedelta(days=10),
        )  # fmt: skip
        session.add(bridge)
        session.commit()
        ids = (bridge.id, guarantee.id)
    with serving(app) as base:
        yield base, *ids


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_bridge_clock_and_the_scheme_pages(funds, width):
    base, bridge_id, scheme_id = funds
    with browser_tab(width) as (page, failed):
        login(page, base, "bridge_operator")
        page.goto(f"{base}/bridges/{bridge_id}")
        clock = page.locator("#clock").inner_text()
        # 7 days of 25万元: 5 × 50 + 2 × 100 = 450.00 元, 3 of the 10 days left.
        assert "剩余3天" in clock and "450.00元" in clock and "第6–7天" in clock
        shot(page, "bridge-clock", width)
        assert page.locator("[data-due]").inner_text() == "剩余3天"
        page.goto(f"{base}/bridges/")
        assert "剩余3天" in page.content()
        shot(page, "bridge-list", width)

        # A page left open keeps counting: two days on, the browser's clock says 1 day left, and 5 days
        # on it is overdue (red), without a reload.
        later = page.context.new_page()
        later.clock.install(time=dt.datetime.now(dt.UTC))
        later.goto(f"{base}/bridges/{bridge_id}")
        later.clock.fast_forward(2 * 86_400_000)
        later.wait_for_function("document.querySelector('[data-due]').textContent === '剩余1天'")
        later.clock.fast_forward(3 * 86_400_000)
        later.wait_for_function("document.querySelector('[data-due]').textContent === '已逾期2天'")
        assert "overdue" in later.locator("[data-due]").locator("xpath=..").get_attribute("class")
        later.close()
        page.context.clear_cookies()

        login(page, base, "bridge_applicant")
        page.goto(f"{base}/me/bridges/new")
        assert "新庐陵续贷周转金" in page.content()
        shot(page, "bridge-apply", width)
        page.context.clear_cookies()

        login(page, base, "city_finance")
        page.goto(f"{base}/finance/schemes/")
        assert "暂停原因：代偿率 5.6%" in page.content()
        shot(page, "schemes-list", width)
        page.goto(f"{base}/finance/schemes/{scheme_id}/edit")
        assert page.input_value("#loss_guarantor") == "40"
        # A wrong total is refused with the reason beside the shares.
        page.fill("#loss_bank", "25")
        page.get_by_role("button", name="保存").click()
        page.wait_for_load_state()
        assert "各方分担比例合计应为 100%（现为 105%）" in page.content()
        shot(page, "schemes-edit", width)
        # Only the refused form's 422 (and the console's note of it).
        assert [f for f in failed if "422" not in f] == [], failed
