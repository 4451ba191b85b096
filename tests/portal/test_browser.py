"""Real browser: Playwright drives Debian's Chromium against the portal served on loopback.

The applicant registers, authorises data, submits a need and follows it; the officer claims it, sees
the disclosed profile and records the disbursement; the finance office reads the dashboard. Each
page is screenshotted at phone (390×844) and desktop (1366×768) widths into test-artifacts/.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from werkzeug.serving import make_server

from core.accounts import create_user
from core.models import OutgoingMessage, User
from core.types import SHANGHAI
from portal.app import create_app
from products.services import ProductInput, create_product, publish_product
from tests.conftest import ARTIFACTS, REQUIRE_SERVICES, make_settings
from tests.factories import InstitutionFactory, bind_factories
from tests.portal.api_helpers import PASSWORD, uscc

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 768}}


def require_chromium() -> None:
    """Skip the test where Chromium is missing (fail it where services are required, as in CI)."""
    if not Path(CHROMIUM).exists():
        if REQUIRE_SERVICES:
            pytest.fail(f"Chromium is required for browser tests but {CHROMIUM} is missing")
        pytest.skip("Chromium not installed")


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app served on a free port of 127.0.0.1 (each xdist worker gets its own) while the block runs."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextlib.contextmanager
def browser_tab(width: str) -> Iterator[tuple[Any, list[str]]]:
    """A Chromium page at the named viewport, and the list of the responses >= 400 and console errors
    it meets."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport=VIEWPORTS[width], locale="zh-CN")
        page = context.new_page()
        failed: list[str] = []
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("console", lambda m: failed.append(m.text) if m.type == "error" else None)
        try:
            yield page, failed
        finally:
            context.close()
            browser.close()


@pytest.fixture
def live_server(committed_db) -> Iterator[str]:
    require_chromium()
    _engine, factory = committed_db
    app = create_app(make_settings(), session_factory=factory)
    with factory() as session:
        bind_factories(session)
        bank = InstitutionFactory(code="JARCB", name="江西吉安农村商业银行")
        product = create_product(
            session,
            institution_id=bank.id,
            actor_id=None,
            data=ProductInput(
                name="吉农快贷",
                min_amount=10_000,
                max_amount=3_000_000,
                min_term_months=1,
                max_term_months=36,
                rate_min=4,
                rate_max=6,
                collateral=["credit", "guarantee"],
                borrower_kinds=["enterprise", "individual_business", "farmer"],
                tags=["first_loan"],
            ),
        )
        publish_product(session, product, actor_id=None)
        create_user(session, username="officer_b", password=PASSWORD, role="officer", institution_id=bank.id)
        create_user(session, username="city_finance", password=PASSWORD, role="finance", region_code="360800")
        session.commit()
    with serving(app) as base:
        yield base


@pytest.fixture(params=list(VIEWPORTS))
def browser_page(request, live_server):
    with browser_tab(request.param) as (page, failed):
        yield page, live_server, request.param, failed


# Form controls wider than their form (a date input's intrinsic width in a narrow grid column), and a
# page wider than the screen: both cut off or scroll sideways on a phone.
OVERFLOWING = """() => {
  const wide = [...document.querySelectorAll('form input, form select, form textarea, form button')].filter(e => {
    const r = e.getBoundingClientRect(), f = e.closest('form').getBoundingClientRect();
    return r.width > 0 && r.right > f.right + 1;
  }).map(e => e.name || e.id || e.tagName);
  if (document.documentElement.scrollWidth > window.innerWidth) wide.push('page');
  return wide;
}"""


# Tables wider than the box they scroll in: a phone user would have to swipe sideways to read them.
SCROLLING_TABLES = """() => [...document.querySelectorAll('.table-scroll')]
  .filter(box => box.offsetParent !== null && box.scrollWidth > box.clientWidth + 1).length"""


def shot(page, name: str, width: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    assert page.evaluate(OVERFLOWING) == [], (name, width)


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def logout(page) -> None:
    page.get_by_role("button", name="退出").click()
    page.wait_for_load_state()


def texted_code(committed_db, username: str) -> str:
    """The last code texted to the user, read from the SMS outbox as their phone would show it."""
    _engine, factory = committed_db
    with factory() as session:
        body = session.scalar(
            select(OutgoingMessage.body)
            .join(User, User.id == OutgoingMessage.user_id)
            .where(User.username == username)
            .order_by(OutgoingMessage.id.desc())
            .limit(1)
        )
    found = re.search(r"\b(\d{6})\b", body or "")
    assert found, body
    return found.group(1)


def test_the_whole_loop_in_a_browser(browser_page, committed_db):
    page, base, width, failed = browser_page
    suffix = 10 if width == "phone" else 11
    username = f"applicant_{width}"
    today = dt.datetime.now(SHANGHAI).date()

    page.goto(f"{base}/register")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.fill("#password_again", PASSWORD)
    page.fill("#phone", "13907960001")
    page.select_option("#kind", "enterprise")
    page.fill("#name", f"吉安浏览器测试{suffix}有限公司")
    page.fill("#uscc", uscc(suffix))
    page.select_option("#region_code", "360802")
    page.select_option("#industry_code", "C")
    shot(page, "register", width)
    page.get_by_role("button", name="注册").click()
    page.wait_for_load_state()
    assert page.url.endswith("/register/verify"), page.content()[:2000]
    page.fill("#code", texted_code(committed_db, username))
    page.get_by_role("button", name="验证", exact=True).click()
    page.wait_for_load_state()
    assert "/register" not in page.url, page.content()[:2000]

    page.goto(f"{base}/me/consents")
    for source in ("electricity", "tax", "bank_flow"):
        page.check(f"input[name=sources][value={source}]")
    page.fill("#purpose", "融资需求匹配")
    page.fill("#expires_on", (today + dt.timedelta(days=200)).isoformat())
    page.check("#agree")
    page.get_by_role("button", name="同意并授权").click()
    page.wait_for_load_state()
    assert "生效中" in page.content()
    shot(page, "consents", width)

    page.goto(f"{base}/me/credit")
    assert "评分" in page.content()
    shot(page, "credit-profile", width)
    assert page.evaluate(SCROLLING_TABLES) == 0, width  # the data coverage: a card per source on a phone

    page.goto(f"{base}/me/needs/new")
    page.fill("#amount", "50")  # 万元
    page.fill("#term_months", "12")
    page.fill("#purpose", "采购原材料")
    page.select_option("#collateral", "credit")
    page.get_by_role("button", name="提交需求").click()
    page.wait_for_load_state()
    assert "已推送" in page.content() and "吉农快贷" in page.content()
    need_url = page.url
    shot(page, "need", width)
    logout(page)

    login(page, base, "officer_b")
    page.goto(f"{base}/officer/leads")
    shot(page, "officer-inbox", width)
    page.locator("a[href*='/officer/leads/']").first.click()
    page.wait_for_load_state()
    assert f"吉安浏览器测试{suffix}" not in page.content()
    shot(page, "lead-preview", width)
    page.get_by_role("button", name="认领线索").click()
    page.wait_for_load_state()
    assert f"吉安浏览器测试{suffix}" in page.content()
    page.get_by_role("button", name="登记为已联系").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="登记为审批通过").click()
    page.wait_for_load_state()
    page.fill("#disbursed-amount", "50")  # 万元
    page.fill("#disbursed-rate", "4.35")
    page.fill("#disbursed-term_months", "12")
    page.select_option("#disbursed-collateral", "credit")
    page.fill("#disbursed-disbursed_on", today.isoformat())
    page.check("#disbursed-first_loan_borrower")
    shot(page, "lead-claimed", width)
    page.get_by_role("button", name="确认放款").click()
    page.wait_for_load_state()
    assert "已放款" in page.content()
    logout(page)

    login(page, base, username)
    page.goto(need_url)
    assert "已放款" in page.content()
    logout(page)

    login(page, base, "city_finance")
    page.goto(f"{base}/finance/?from_date={today.isoformat()}&to_date={today.isoformat()}")
    content = page.content()
    assert "首贷" in content
    # Charts are server-drawn inline SVG, one drawing per width: the one for this width is shown.
    shown = page.eval_on_selector_all(
        "figure.chart svg", "els => els.filter(e => e.getBoundingClientRect().width > 0).length"
    )
    assert shown >= 1, shown
    shot(page, "finance", width)
    loans = page.locator("a[href*='figure=loans&']").first
    assert loans.inner_text() == "1"
    loans.click()
    page.wait_for_load_state()
    assert "共 1 条" in page.content()
    shot(page, "finance-drilldown", width)
    page.goto(f"{base}/finance/breakdown?from_date={today.isoformat()}&to_date={today.isoformat()}")
    shot(page, "finance-breakdown", width)
    for file_format in ("CSV", "XLSX"):
        with page.expect_download() as download_info:
            page.locator("section#breakdown .exports").get_by_role("link", name=file_format).click()
        download = download_info.value
        path = download.path()
        # RFC 6266: the browser saves the file under its Chinese name.
        assert (
            download.suggested_filename
            == f"吉惠通_分组统计_县（市、区）_吉安市_{today}至{today}.{file_format.lower()}"
        )
        if file_format == "CSV":
            body = Path(path).read_bytes().decode("utf-8-sig")
            assert body.startswith("县（市、区）,")
        else:
            book = load_workbook(io.BytesIO(Path(path).read_bytes()))
            assert book.sheetnames == ["分组统计", "说明"]
    assert not failed, failed
