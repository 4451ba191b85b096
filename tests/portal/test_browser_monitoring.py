"""Real browser, post-loan monitoring: the officer's warnings list and a warning's page (acknowledge, then
record an action), and the finance office's figures (/finance/warnings). Screenshots at 390 and 1366 px
into test-artifacts/ (see tests/portal/test_browser.py for the harness)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest

from core.accounts import create_user
from core.types import local_today
from credit_profile.consents import pause_consent
from portal.app import create_app
from tests.conftest import make_settings
from tests.factories import (
    BorrowerFactory,
    EarlyWarningFactory,
    InstitutionFactory,
    LeadFactory,
    LoanFactory,
    ProductFactory,
    bind_factories,
)
from tests.factories.monitoring import monitoring_consent
from tests.portal.api_helpers import PASSWORD
from tests.portal.test_browser import (
    SCROLLING_TABLES,
    VIEWPORTS,
    browser_tab,
    login,
    logout,
    require_chromium,
    serving,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BORROWERS = ("吉安县恒丰蔬菜种植场", "永丰县绿源小超市", "吉水县金穗米业有限公司")


@pytest.fixture
def monitored(committed_db) -> Iterator[tuple[str, int]]:
    """A bank's officer with three monitored loans he claimed (one consent paused), a red and a yellow
    warning, and the city finance office."""
    require_chromium()
    _engine, factory = committed_db
    app = create_app(make_settings(), session_factory=factory)
    with factory() as session:
        bind_factories(session)
        bank = InstitutionFactory(code="JAMB", name="吉安监测银行")
        product = ProductFactory(institution=bank, name="吉农快贷", published=True)
        officer = create_user(
            session, username="officer_m", password=PASSWORD, role="officer", institution_id=bank.id
        )
        create_user(session, username="finance_m", password=PASSWORD, role="finance", region_code="360800")
        loans = []
        disbursed = local_today() - dt.timedelta(days=135)  # four months of data on the books
        for name in BORROWERS:
            borrower = BorrowerFactory(name=name, kind="enterprise")
            lead = LeadFactory(disbursed=True, loan=None, product=product, need__borrower_id=borrower.id)
            lead.claimed_by = officer.id
            loans.append(LoanFactory(lead=lead, amount=Decimal("500000"), disbursed_on=disbursed))
        consents = [monitoring_consent(loan) for loan in loans]
        session.flush()
        pause_consent(session, consents[2], actor_id=None)
        red = EarlyWarningFactory(
            loan=loans[0],
            red=True,
            officer_id=officer.id,
            rule_codes=["elec_drop", "tax_sales"],
            evidence=[
                {"rule": "elec_drop", "level": "red", "text": "近3个月用电量 1,200 千瓦时，同比下降 52.0%"},
                {
                    "rule": "tax_sales",
                    "level": "yellow",
                    "text": "近3个月开票销售额 18.6 万元，同比下降 35.0%",
                },
            ],
        )
        EarlyWarningFactory(loan=loans[1], officer_id=officer.id)
        session.commit()
        red_id = red.id
    with serving(app) as base:
        yield base, red_id


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_the_officer_handles_a_warning_and_the_finance_office_reads_the_figures(monitored, width):
    base, red_id = monitored
    with browser_tab(width) as (page, failed):
        login(page, base, "officer_m")
        page.goto(f"{base}/officer/warnings")
        content = page.content()
        assert "吉安县恒丰蔬菜种植场" in content and "永丰县绿源小超市" in content
        assert "tax_sales" not in content  # rules by their Chinese names, never codes
        page.get_by_text("查看明细").click()
        assert "已暂停" in page.inner_text("details")  # the third loan's consent is paused
        shot(page, "monitoring-warnings", width)
        assert page.evaluate(SCROLLING_TABLES) == 0, width

        page.goto(f"{base}/officer/warnings/{red_id}")
        assert "同比下降 52.0%" in page.content()
        shot(page, "monitoring-warning", width)
        page.get_by_role("button", name="确认收到").click()
        page.wait_for_load_state()
        assert "已确认收到预警" in page.content()
        page.select_option("#action", "site_visit")
        page.fill("#note", "已上门走访，企业因设备检修停产两周，已恢复生产")
        page.get_by_role("button", name="保存处置情况").click()
        page.wait_for_load_state()
        assert "关闭预警" in page.content()
        shot(page, "monitoring-warning-actioned", width)
        logout(page)

        login(page, base, "finance_m")
        page.goto(f"{base}/finance/warnings")
        assert "预警" in page.content()
        shot(page, "monitoring-figures", width)
        assert page.evaluate(SCROLLING_TABLES) == 0, width
    assert not failed, failed
