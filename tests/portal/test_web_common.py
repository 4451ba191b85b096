"""portal.web.common: the header's unread count, loaded with the user (one statement) unless the request
wrote since."""

from __future__ import annotations

from flask_login import login_user

from core.notifications import notify
from portal.auth import Principal
from portal.db import db
from portal.web.common import inject_globals
from tests.factories import UserFactory
from tests.portal.test_web_support import login


def test_the_header_counts_unread_notifications_with_the_users_load(app, client, session):
    user = UserFactory(officer=True)
    notify(session, [user.id], kind="lead_closed", lead_id=1)
    notify(session, [user.id], kind="lead_closed", lead_id=2)
    session.flush()
    login(client, user.username)

    page = client.get("/notifications").get_data(as_text=True)

    assert '<span class="count" aria-label="2 条未读">2</span>' in page


def test_a_request_that_wrote_counts_again(app, session):
    user = UserFactory(officer=True)
    session.flush()
    with app.test_request_context():
        principal = Principal(user, "token", unread=7)  # as loaded, before the request wrote
        assert _unread_shown(principal) == 7  # nothing written since: the loaded count, no query
        notify(db(), [user.id], kind="lead_closed", lead_id=1)  # the request writes (not yet flushed)
        assert _unread_shown(principal) == 1


def _unread_shown(principal: Principal) -> int:
    login_user(principal)
    count: int = inject_globals()["unread_notifications"]
    return count
