"""The admin page of the working calendar: statuses, the November warning, loading an arrangement."""

from __future__ import annotations

import datetime as dt

from core.calendars import CalendarSource, CalendarStatus, year_calendar
from core.types import local_today
from tests.factories import UserFactory
from tests.portal.test_web_support import login, text


def test_admin_loads_the_arrangement_from_the_page(client, session):
    login(client, UserFactory(admin=True).username)
    page = client.get("/admin/calendar")
    assert page.status_code == 200
    assert "工作日历" in text(page)
    next_year = local_today().year + 1
    response = client.post(
        "/admin/calendar",
        data={
            "year": str(next_year),
            "holidays": f"{next_year}-10-01~{next_year}-10-07\n{next_year}-1-1",
            "workdays": f"{next_year}-09-26，{next_year}-10-09",
        },
    )
    assert response.status_code == 302, text(response)[:2000]
    view = year_calendar(session, next_year)
    assert view.status == CalendarStatus.OFFICIAL
    days = {d.date: d.working for d in view.days}
    assert not days[dt.date(next_year, 10, 7)] and not days[dt.date(next_year, 1, 1)]
    assert days[dt.date(next_year, 9, 26)] and days[dt.date(next_year, 10, 9)]
    assert "正式安排" in text(client.get("/admin/calendar"))


def test_a_bad_date_is_explained_and_changes_nothing(client, session):
    login(client, UserFactory(admin=True).username)
    year = local_today().year + 1
    response = client.post("/admin/calendar", data={"year": str(year), "holidays": "10月1日", "workdays": ""})
    assert response.status_code == 422
    assert "无法识别" in text(response)
    other = client.post(
        "/admin/calendar", data={"year": str(year), "holidays": f"{year - 1}-10-01", "workdays": ""}
    )
    assert other.status_code == 422
    assert "日期不属于所选年份" in text(other)
    assert year_calendar(session, year).source != CalendarSource.ADMIN


def test_the_page_warns_from_november_while_next_year_is_provisional(client, session, monkeypatch):
    import portal.web.calendars as page

    login(client, UserFactory(admin=True).username)
    monkeypatch.setattr(page, "local_today", lambda: dt.date(2026, 11, 2))
    assert "仍是按法定节假日规则推算的暂定安排" in text(client.get("/admin/calendar"))
    monkeypatch.setattr(page, "local_today", lambda: dt.date(2026, 10, 2))
    assert "仍是按法定节假日规则推算的暂定安排" not in text(client.get("/admin/calendar"))
