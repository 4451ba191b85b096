"""The officer's inbox, page and API, served again while the database is unchanged (portal.caching):
never older than the last commit, never another officer's, never past a deadline it shows.

Over committed data on PostgreSQL: the state is named by PostgreSQL's snapshot, and a test transaction
that is rolled back at the end never commits, so the rest of the suite never reuses anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.accounts import database_snapshot, revoke_session
from core.models import User
from core.types import utcnow
from matching.dispatch import match_need
from matching.leads import claim_lead
from matching.models import Lead
from portal.app import create_app
from portal.caching import PEEK_ENGINE
from tests.conftest import IS_POSTGRES, make_settings
from tests.factories import PASSWORD, UserFactory, bind_factories
from tests.matching.helpers import applicant, bank, submit
from tests.portal.test_web_support import csrf_token, login, text

T = TypeVar("T")
pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="a database state is named by PostgreSQL's snapshot")


@dataclass
class Inbox:
    factory: sessionmaker[Session]
    app: Any
    lead_id: int
    officers: list[User]
    borrower_name: str


@pytest.fixture
def inbox(committed_db: Any) -> Iterator[Inbox]:
    _engine, factory = committed_db
    with factory() as s:
        bind_factories(s)
        _institution, _product, officers = bank(officers=2)
        borrower, user = applicant(name="缓存测试企业")
        need = submit(s, borrower.id, user.id)
        s.flush()
        [lead] = match_need(s, need.id, top_n=3)
        s.commit()
        world = Inbox(factory, None, lead.id, officers, borrower.name)
    app = create_app(make_settings(), session_factory=factory)
    app.config.update(WTF_CSRF_ENABLED=False)
    world.app = app
    yield world
    _dispose_peek_engine(app)


def _dispose_peek_engine(app: Any) -> None:
    engine = app.extensions.get(PEEK_ENGINE)
    if engine is not None:
        engine.dispose()


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every time a page or API body of the inbox is built rather than served again."""
    from portal.api import leads as api_leads
    from portal.web import officer

    calls: list[str] = []
    real_page, real_dicts = officer._inbox_page, api_leads.lead_dicts

    def page(*args: Any, **kwargs: Any) -> Any:
        calls.append("page")
        return real_page(*args, **kwargs)

    def dicts(*args: Any, **kwargs: Any) -> Any:
        calls.append("api")
        return real_dicts(*args, **kwargs)

    monkeypatch.setattr(officer, "_inbox_page", page)
    monkeypatch.setattr(api_leads, "lead_dicts", dicts)
    return calls


def _claim(world: Inbox, officer: User) -> None:
    """Another machine's claim: its own session, committed."""
    with world.factory() as s:
        claim_lead(s, world.lead_id, officer_id=officer.id, institution_id=officer.institution_id)
        s.commit()


def _reused(action: Callable[[], T], builds: list[str], attempts: int = 20) -> T:
    """`action()`, repeated until it builds nothing: everything it asks for is given again. The
    snapshot is the database server's, so a commit in another database on it (another test run, a
    bench) renews what is kept meanwhile; the next attempt finds it kept again. Fails after `attempts`.
    (One request builds at most once, so a request that must build is checked exactly, without this.)"""
    for _ in range(attempts):
        builds.clear()
        result = action()
        if not builds:
            return result
    pytest.fail(f"still building after {attempts} attempts (last: {builds})")


def _table(page: str) -> str:
    return page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def _signed_in(world: Inbox, officer: User) -> Any:
    client = world.app.test_client()
    login(client, officer.username, PASSWORD)
    # The first page after logging in creates the session's CSRF token, so it is not kept.
    assert client.get("/officer/leads").status_code == 200
    return client


def test_the_page_is_built_once_while_nothing_commits_then_shows_a_claim_at_once(inbox, builds):
    client = _signed_in(inbox, inbox.officers[0])
    builds.clear()
    first = text(client.get("/officer/leads"))
    assert builds == ["page"]
    pages = _reused(lambda: [text(client.get("/officer/leads")) for _ in range(2)], builds)
    assert first == pages[0] == pages[1]
    assert f"#{inbox.lead_id}" in _table(first) and "待认领" in _table(first)

    builds.clear()
    _claim(inbox, inbox.officers[1])
    after = _table(text(client.get("/officer/leads")))
    assert builds == ["page"]  # one request builds at most once: exact whatever else commits
    assert "已认领" in after and "待认领" not in after


def test_any_commit_builds_the_page_afresh(inbox, builds):
    client = _signed_in(inbox, inbox.officers[0])
    client.get("/officer/leads")
    _reused(lambda: client.get("/officer/leads"), builds)
    with inbox.factory() as s:  # a change the inbox does not show: still a new state
        s.add(UserFactory.build(username="unrelated_account"))
        s.commit()
    builds.clear()
    client.get("/officer/leads")
    assert builds == ["page"]


def test_a_deadline_the_page_shows_as_not_passed_ends_its_reuse(inbox, builds, monkeypatch):
    with inbox.factory() as s:
        due = s.scalar(select(Lead.sla_due_at).where(Lead.id == inbox.lead_id))
    assert due is not None and due > utcnow()
    client = _signed_in(inbox, inbox.officers[0])
    page = client.get("/officer/leads").get_data(as_text=True)
    assert 'class="overdue"' not in page
    assert _reused(lambda: client.get("/officer/leads").get_data(as_text=True), builds) == page

    later = due + dt.timedelta(seconds=1)
    from portal import caching
    from portal.web import officer

    monkeypatch.setattr(caching, "utcnow", lambda: later)
    monkeypatch.setattr(officer, "utcnow", lambda: later)
    builds.clear()
    overdue = client.get("/officer/leads").get_data(as_text=True)
    assert builds == ["page"]
    assert 'class="overdue"' in overdue


def test_a_message_waiting_to_be_shown_is_never_served_from_the_cache(inbox, builds):
    client = _signed_in(inbox, inbox.officers[0])
    client.get("/officer/leads")
    with client.session_transaction() as flask_session:
        flask_session["_flashes"] = [("success", "缓存测试消息")]
    builds.clear()
    assert "缓存测试消息" in text(client.get("/officer/leads"))
    assert builds == ["page"]
    assert "缓存测试消息" not in text(client.get("/officer/leads"))


def test_each_session_gets_its_own_csrf_token_and_the_kept_page_carries_it(inbox):
    csrf_app = create_app(make_settings(), session_factory=inbox.factory)  # CSRF on, as in production
    try:
        _two_devices(csrf_app, inbox.officers[0])
    finally:
        _dispose_peek_engine(csrf_app)


def _two_devices(csrf_app: Any, officer: User) -> None:
    tokens = []
    for _ in range(2):  # the same officer on two devices
        client = csrf_app.test_client()
        form = client.get("/login")
        response = client.post(
            "/login",
            data={"username": officer.username, "password": PASSWORD, "csrf_token": csrf_token(form)},
        )
        assert response.status_code == 302
        client.get("/officer/leads")
        kept = client.get("/officer/leads")
        assert csrf_token(kept) == csrf_token(client.get("/officer/leads"))
        tokens.append((client, csrf_token(kept)))
    (first, first_token), (second, second_token) = tokens
    with first.session_transaction() as s1, second.session_transaction() as s2:
        assert s1["csrf_token"] != s2["csrf_token"]
    # Each device's kept page logs it out; the other device's token does not.
    assert second.post("/logout", data={"csrf_token": first_token}).status_code == 400
    assert first.post("/logout", data={"csrf_token": first_token}).status_code == 302
    assert second.post("/logout", data={"csrf_token": second_token}).status_code == 302


def _api(world: Inbox, officer: User) -> tuple[Any, dict[str, str]]:
    client = world.app.test_client()
    response = client.post("/api/v1/auth/token", json={"username": officer.username, "password": PASSWORD})
    assert response.status_code == 200
    return client, {"Authorization": f"Bearer {response.get_json()['token']}"}


def test_the_api_list_is_built_once_per_state_and_per_officer(inbox, builds):
    (a, a_headers), (b, b_headers) = _api(inbox, inbox.officers[0]), _api(inbox, inbox.officers[1])
    builds.clear()
    built = a.get("/api/v1/leads", headers=a_headers)
    assert builds == ["api"]
    kept = _reused(lambda: [a.get("/api/v1/leads", headers=a_headers) for _ in range(2)], builds)
    assert built.get_json() == kept[0].get_json() == kept[1].get_json()
    assert built.get_json()["items"][0]["status"] == "pushed"
    assert built.headers["Cache-Control"] == kept[1].headers["Cache-Control"]

    builds.clear()
    _claim(inbox, inbox.officers[0])
    mine = a.get("/api/v1/leads", headers=a_headers).get_json()["items"][0]
    theirs = b.get("/api/v1/leads", headers=b_headers).get_json()["items"][0]
    assert builds == ["api", "api"]
    # The claimant sees who the borrower is; a colleague of the same bank, the anonymised profile.
    assert mine["status"] == theirs["status"] == "claimed"
    assert mine["borrower"]["name"] == inbox.borrower_name
    assert theirs["borrower"] is None
    again = _reused(lambda: b.get("/api/v1/leads", headers=b_headers).get_data(as_text=True), builds)
    assert inbox.borrower_name not in again


def test_a_query_is_kept_apart_from_another(inbox, builds):
    client, headers = _api(inbox, inbox.officers[0])

    def three() -> list[int]:
        paths = ("/api/v1/leads?status=claimed", "/api/v1/leads", "/api/v1/leads?status=claimed")
        return [client.get(path, headers=headers).get_json()["total"] for path in paths]

    builds.clear()
    assert three() == [0, 1, 0]
    assert builds == ["api", "api"]  # one per query; the third request is the first's again
    assert _reused(three, builds) == [0, 1, 0]


def test_a_revoked_token_is_refused_even_with_its_list_kept(inbox, builds):
    client, headers = _api(inbox, inbox.officers[0])
    assert client.get("/api/v1/leads", headers=headers).status_code == 200
    assert _reused(lambda: client.get("/api/v1/leads", headers=headers).status_code, builds) == 200
    with inbox.factory() as s:
        revoke_session(s, headers["Authorization"].removeprefix("Bearer "))
        s.commit()
    response = client.get("/api/v1/leads", headers=headers)
    assert response.status_code == 401 and "items" not in response.get_json()


def test_the_snapshot_names_a_state_only_while_this_transaction_has_not_written(inbox):
    with inbox.factory() as reader, inbox.factory() as writer:
        first = database_snapshot(reader)
        assert first is not None and database_snapshot(reader) == first
        reader.rollback()
        writer.add(UserFactory.build(username="snapshot_writer"))
        writer.flush()
        assert database_snapshot(writer) is None  # its own write is not in any name
        reader.rollback()
        writer.commit()
        assert database_snapshot(reader) not in (None, first)


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine runs meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


@pytest.mark.parametrize("surface", ["page", "api"])
def test_a_kept_answer_costs_one_statement(inbox, builds, statements, surface):
    if surface == "page":
        client, headers, path = _signed_in(inbox, inbox.officers[0]), {}, "/officer/leads"
    else:
        (client, headers), path = _api(inbox, inbox.officers[0]), "/api/v1/leads"
    first = client.get(path, headers=headers)

    def kept_answer() -> Any:
        statements.clear()
        return client.get(path, headers=headers)

    kept = _reused(kept_answer, builds)
    assert len(statements) == 1 and "pg_current_snapshot" in statements[0]
    assert kept.get_data() == first.get_data()
    assert kept.mimetype == first.mimetype
    assert kept.headers.get("Content-Security-Policy") == first.headers.get("Content-Security-Policy")
    assert kept.headers["Cache-Control"] == first.headers["Cache-Control"] == "no-store"  # personal data


def test_a_session_cookie_replayed_elsewhere_is_not_given_the_kept_page(inbox, builds):
    client = _signed_in(inbox, inbox.officers[0])
    assert client.get("/officer/leads").status_code == 200
    builds.clear()
    # Flask-Login's strong protection ends a session seen from another address or browser.
    elsewhere = client.get("/officer/leads", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert elsewhere.status_code == 302 and "/login" in elsewhere.headers["Location"]
    other_browser = inbox.app.test_client()
    other_browser.set_cookie("session", client.get_cookie("session").value)
    assert other_browser.get("/officer/leads", headers={"User-Agent": "curl/8"}).status_code == 302
    assert builds == []


def test_a_web_session_ended_elsewhere_is_not_given_the_kept_page(inbox, builds):
    client = _signed_in(inbox, inbox.officers[0])
    client.get("/officer/leads")
    with client.session_transaction() as flask_session:
        token = flask_session["_user_id"]
    with inbox.factory() as s:
        revoke_session(s, token)
        s.commit()
    response = client.get("/officer/leads")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_when_the_check_cannot_reach_the_database_the_view_answers(inbox, builds, monkeypatch):
    from portal import caching

    client, headers = _api(inbox, inbox.officers[0])
    first = client.get("/api/v1/leads", headers=headers).get_json()

    def unreachable(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(caching, "live_session_snapshot", unreachable)
    builds.clear()
    response = client.get("/api/v1/leads", headers=headers)
    assert response.status_code == 200 and response.get_json() == first
    assert builds == ["api"]
