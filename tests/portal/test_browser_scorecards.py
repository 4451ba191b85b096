"""Real browser, the administrator's scorecard versions (/admin/scorecards): the comparison table read on
a phone without sideways scrolling, and a worse version activated with its reason. Screenshots at 390
and 1366 px into test-artifacts/ (see tests/portal/test_browser.py for the harness)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.accounts import create_user
from credit_profile.scorecards import register_scorecard
from portal.app import create_app
from tests.conftest import make_settings
from tests.credit_profile.helpers import trained_artefact
from tests.factories import bind_factories
from tests.portal.api_helpers import PASSWORD
from tests.portal.test_browser import (
    SCROLLING_TABLES,
    VIEWPORTS,
    browser_tab,
    login,
    require_chromium,
    serving,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def versions(committed_db) -> Iterator[str]:
    """An administrator and two trained versions beside the expert card, one below its quality gate."""
    require_chromium()
    _engine, factory = committed_db
    app = create_app(make_settings(), session_factory=factory)
    with factory() as session:
        bind_factories(session)
        create_user(session, username="admin_s", password=PASSWORD, role="admin")
        register_scorecard(session, trained_artefact("county-2026q3", 0.78), note="首个统计版本")
        register_scorecard(session, trained_artefact("county-2026q4", 0.70))
        session.commit()
    with serving(app) as base:
        yield base


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_the_admin_compares_versions_and_activates_one(versions, width):
    base = versions
    with browser_tab(width) as (page, failed):
        login(page, base, "admin_s")
        page.goto(f"{base}/admin/scorecards")
        assert "county-2026q3" in page.inner_text("table")
        assert page.evaluate(SCROLLING_TABLES) == 0, width

        # The better version goes through without a reason; the worse one then needs one.
        page.select_option("#version", "county-2026q3")
        page.get_by_role("button", name="启用").click()
        page.wait_for_load_state()
        assert "启用须填理由" in page.inner_text("table")
        shot(page, "admin-scorecards", width)
        assert page.evaluate(SCROLLING_TABLES) == 0, width

        page.select_option("#version", "county-2026q4")
        page.get_by_role("button", name="启用").click()
        page.wait_for_load_state()
        assert "启用须填写理由" in page.content()
        # The refused form is answered 422 on purpose (and the browser logs it): nothing else may fail.
        assert [f for f in failed if "422" not in f] == []
        failed.clear()
        shot(page, "admin-scorecards-reason", width)
        page.fill("#reason", "试行县域新模型，三个月后复核")
        page.get_by_role("button", name="启用").click()
        page.wait_for_load_state()
        shot(page, "admin-scorecards-activated", width)
    assert not failed, failed
