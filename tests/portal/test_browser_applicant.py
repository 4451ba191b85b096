"""Real browser, the applicant's daily tools: a farmer filters the supermarket in 万元, applies for a
product from its page, edits the need, then sees the officer who claimed it and the loan. Screenshots
at 390 and 1366 px into test-artifacts/ (see tests/portal/test_browser.py for the harness).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from core.accounts import create_user
from core.types import local_today
from credit_profile.borrowers import BorrowerInput, register_borrower
from matching.leads import claim_lead, transition_lead
from matching.loans import LoanInput
from matching.models import Lead, Need
from portal.app import create_app
from products.services import ProductInput, create_product, publish_product
from tests.conftest import REQUIRE_SERVICES, make_settings
from tests.factories import InstitutionFactory, bind_factories, make_id_number
from tests.portal.api_helpers import PASSWORD
from tests.portal.test_browser import CHROMIUM, login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 768}}


def _product(session, institution_id: int, name: str, **rules) -> int:
    data = ProductInput(
        name=name, min_amount=Decimal(10_000), max_amount=Decimal(500_000), min_term_months=6, max_term_months=36,
        rate_min=Decimal("3.85"), rate_max=Decimal("5.20"), collateral=["credit", "guarantee"],
        borrower_kinds=["farmer", "individual_business"], tags=["agri"],
    )  # fmt: skip
    for key, value in rules.items():
        setattr(data, key, value)
    product = create_product(session, institution_id=institution_id, actor_id=None, data=data)
    publish_product(session, product, actor_id=None)
    return product.id


@pytest.fixture
def farmer_world(committed_db) -> Iterator[tuple[str, object]]:
    if not Path(CHROMIUM).exists():
        if REQUIRE_SERVICES:
            pytest.fail(f"Chromium is required for browser tests but {CHROMIUM} is missing")
        pytest.skip("Chromium not installed")
    _engine, factory = committed_db
    app = create_app(make_settings(), session_factory=factory)
    with factory() as session:
        bind_factories(session)
        abc = InstitutionFactory(code="ABC_JA", name="中国农业银行吉安分行")
        ccb = InstitutionFactory(code="CCB_JA", name="中国建设银行吉安分行")
        _product(session, abc.id, "惠农e贷")
        _product(session, ccb.id, "裕农快贷", max_amount=Decimal(300_000), rate_min=Decimal("3.60"))
        _product(session, ccb.id, "抵押快贷", min_amount=Decimal(1_000_000), max_amount=Decimal(10_000_000))
        _product(session, abc.id, "科创贷", borrower_kinds=["enterprise"])
        for width, n in (("phone", 1), ("desktop", 2)):
            borrower = register_borrower(
                session,
                BorrowerInput(
                    kind="farmer",
                    name=f"刘建华{n}",
                    region_code="360821",
                    industry_code="A01",
                    id_number=make_id_number(900 + n),
                ),
                synthetic=True,
            )
            create_user(session, username=f"farmer_{width}", password=PASSWORD, role="applicant",
                        phone="13907961234", borrower_id=borrower.id)  # fmt: skip
        create_user(session, username="abc_officer", password=PASSWORD, role="officer", institution_id=abc.id,
                    phone="13907965678")  # fmt: skip
        session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", factory
    server.shutdown()


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_a_farmer_filters_in_wan_applies_edits_and_sees_the_officer_and_the_loan(farmer_world, width):
    from playwright.sync_api import sync_playwright

    base, factory = farmer_world
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_context(viewport=VIEWPORTS[width], locale="zh-CN").new_page()
        failed: list[str] = []
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        login(page, base, f"farmer_{width}")

        # Every entry of the nav is on screen at 390 px, none scrolled off to the right.
        offscreen = page.eval_on_selector_all(
            "nav.nav a", "els => els.filter(e => e.getBoundingClientRect().right > window.innerWidth).length"
        )
        assert offscreen == 0

        page.goto(f"{base}/products")
        page.fill("#amount", "5")
        page.get_by_role("button", name="筛选").click()
        page.wait_for_load_state()
        content = page.content()
        assert "可贷 5万元" in content and "适合您" in content
        assert "惠农e贷" in content and "裕农快贷" in content
        assert "抵押快贷" not in content and "科创贷" not in content
        shot(page, "applicant-supermarket", width)

        page.get_by_role("link", name="惠农e贷").first.click()
        page.wait_for_load_state()
        page.get_by_role("link", name="申请此产品").click()
        page.wait_for_load_state()
        assert "申请产品：" in page.content()
        page.fill("#amount", "20")
        page.fill("#term_months", "12")
        page.fill("#purpose", "春耕购买化肥和种苗")
        page.select_option("#collateral", "credit")
        shot(page, "applicant-apply", width)
        page.get_by_role("button", name="提交需求").click()
        page.wait_for_load_state()
        need_url = page.url
        assert "惠农e贷" in page.content() and "20万元" in page.content()

        page.get_by_role("link", name="修改需求").click()
        page.wait_for_load_state()
        assert page.input_value("#amount") == "20"
        page.fill("#amount", "25")
        shot(page, "applicant-edit", width)
        page.get_by_role("button", name="保存并重新匹配").click()
        page.wait_for_load_state()
        assert "25万元" in page.content() and "需求已修改" in page.content()

        # The bank claims the need and disburses it (the officer's pages are tested elsewhere).
        need_id = int(need_url.rstrip("/").rsplit("/", 1)[1])
        with factory() as session:
            from core.models import User

            officer = session.scalar(select(User).where(User.username == "abc_officer"))
            bank_id = officer.institution_id
            lead = session.scalar(
                select(Lead).where(Lead.need_id == need_id, Lead.institution_id == officer.institution_id)
            )
            claim_lead(session, lead.id, officer_id=officer.id, institution_id=officer.institution_id)
            for step in ("contacted", "approved", "disbursed"):
                loan = None
                if step == "disbursed":
                    need = session.get(Need, need_id)
                    loan = LoanInput(
                        amount=need.amount, rate=Decimal("3.95"), term_months=12, collateral="credit",
                        disbursed_on=local_today(), first_loan_borrower=True,
                        renewal_without_repayment=False,
                    )  # fmt: skip
                transition_lead(session, lead.id, to=step, officer_id=officer.id,
                                institution_id=officer.institution_id, loan=loan)  # fmt: skip
            session.commit()

        page.goto(need_url)
        content = page.content()
        assert "客户经理：abc_officer" in content and "13907965678" in content
        assert "贷款信息" in content and "3.95%" in content and "25万元" in content
        shot(page, "applicant-need-loan", width)

        # The bank read the farmer's profile three times (reloads): one row, by bank and data, in Chinese.
        with factory() as session:
            from core.models import User
            from credit_profile.consents import grant_consent, record_use

            me = session.scalar(select(User).where(User.username == f"farmer_{width}"))
            consent = grant_consent(
                session, borrower_id=me.borrower_id, sources=["electricity", "bank_flow"], purpose="融资需求匹配",
                expires_on=local_today() + dt.timedelta(days=300), actor_id=me.id,
            )  # fmt: skip
            for _ in range(3):
                record_use(session, borrower_id=me.borrower_id, consent_id=consent.id, action="institution_read",
                           institution_id=bank_id, detail="bank_flow,electricity")  # fmt: skip
            session.commit()
        page.goto(f"{base}/me/consents")
        content = page.content()
        assert "当天共 3 次" in content and "（银行流水、用电数据）" in content
        assert "中国农业银行吉安分行" in content
        shot(page, "applicant-consents", width)
        page.goto(f"{base}/me/credit")
        assert "暂无数据，授权后可评分" in page.content()
        assert "已授权用电数据，数据提供方尚未报送" in page.content()
        shot(page, "applicant-credit", width)
        assert not failed, failed
        browser.close()
