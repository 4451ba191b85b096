"""Real browser, account pages: password change, reset by SMS code, the notification centre, the admin's
user list with a disabled user, and the provider list after a rotation; each screenshotted at phone
(390 px) and desktop (1366 px) widths into test-artifacts/ (fixtures from tests/portal/test_browser.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.accounts import create_user
from core.models import User
from core.notifications import notify
from credit_profile.ingestion import create_provider
from tests.factories import bind_factories
from tests.portal.api_helpers import PASSWORD
from tests.portal.test_browser import (
    SCROLLING_TABLES,
    browser_page,
    live_server,
    login,
    logout,
    shot,
    texted_code,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser_page", "live_server"]


def test_account_pages_in_a_browser(browser_page, committed_db):
    page, base, width, failed = browser_page
    _engine, factory = committed_db
    with factory() as session:
        bind_factories(session)
        officer = session.scalar(select(User.id).where(User.username == "officer_b"))
        phone = "13907968801" if width == "phone" else "13907968802"
        create_user(
            session,
            username=f"forgetful_{width}",
            password=PASSWORD,
            role="finance",
            region_code="360800",
            phone=phone,
        )
        create_user(session, username=f"root_{width}", password=PASSWORD, role="admin")
        leaver = create_user(
            session, username=f"leaver_{width}", password=PASSWORD, role="finance", region_code="360802"
        )
        leaver.active = False
        notify(
            session,
            [officer],
            kind="lead_pushed",
            lead_id=1,
            data={"amount": "500000.00", "product": "吉农快贷"},
        )
        notify(session, [officer], kind="lead_closed", lead_id=2)
        create_provider(session, name=f"国网吉安供电公司（{width}）", source="electricity")
        session.commit()

    login(page, base, "officer_b")
    page.goto(f"{base}/notifications")
    assert "新线索待认领：50万元融资需求（吉农快贷）" in page.content()
    assert page.locator(".notice-bell .count").inner_text() == "2"
    shot(page, "notifications", width)

    page.goto(f"{base}/account/password")
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", "password")
    page.fill("#new_password_again", "password")
    page.get_by_role("button", name="保存新密码").click()
    page.wait_for_load_state()
    assert "常见" in page.content()
    shot(page, "password-change", width)
    failed.clear()  # the refused weak password is the 422 this step is about
    logout(page)

    page.goto(f"{base}/password/forgot")
    page.fill("#phone", phone)
    page.get_by_role("button", name="发送验证码").click()
    page.wait_for_load_state()
    assert page.url.endswith("/password/reset")
    page.fill("#code", texted_code(committed_db, f"forgetful_{width}"))
    page.fill("#new_password", "Ganjiang-river-77")
    page.fill("#new_password_again", "Ganjiang-river-77")
    shot(page, "password-reset", width)
    page.get_by_role("button", name="设置新密码").click()
    page.wait_for_load_state()
    assert page.url.endswith("/login") and "密码已重置" in page.content()

    login(page, base, f"root_{width}")
    page.goto(f"{base}/admin/users?active=0")
    assert f"leaver_{width}" in page.content() and "已停用" in page.content()
    shot(page, "admin-users-disabled", width)
    # The admin whose officer just left may be on a phone: every user's 管理 button in view, no swiping.
    assert page.evaluate(SCROLLING_TABLES) == 0, width
    assert page.get_by_role("link", name="管理").first.is_visible()

    page.goto(f"{base}/admin/providers")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="轮换密钥").first.click()
    page.wait_for_load_state()
    assert "旧密钥已立即失效" in page.content()
    shot(page, "providers-rotated", width)
    # Every admin list reads on a phone without swiping: a card per row (table.stack).
    for path in (
        "/admin/providers",
        "/admin/institutions",
        "/admin/audit",
        "/admin/imports",
        "/admin/calendar",
    ):
        page.goto(f"{base}{path}")
        assert page.evaluate(SCROLLING_TABLES) == 0, (path, width)
        shot(page, "admin" + path.replace("/admin", "").replace("/", "-"), width)
    assert failed == [], failed
