"""The load balancer's probes: /healthz never touches the database, /readyz does."""

from __future__ import annotations

import pytest

from core.db import make_engine, make_session_factory
from portal.app import create_app
from tests.conftest import make_settings

pytestmark = pytest.mark.smoke


@pytest.fixture
def app_without_database(tmp_path):
    # A database file in a directory that does not exist: every connection attempt fails.
    url = f"sqlite:///{tmp_path / 'missing' / 'none.db'}"
    engine = make_engine(url)
    yield create_app(make_settings(database_url=url), session_factory=make_session_factory(engine))
    engine.dispose()


def test_healthz_answers_ok_with_the_security_headers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "ok"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_answers_ok_while_the_database_does(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok"


def test_healthz_is_up_and_readyz_down_while_the_database_is_unreachable(app_without_database, caplog):
    client = app_without_database.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_data(as_text=True) == "服务暂时不可用，请稍后再试"
    assert "readiness probe" in caplog.text
