"""Security headers, cookie flags, rate limits on the credential and provider endpoints, the rq serializer."""

from __future__ import annotations

import json
import zlib

import pytest
from flask import session as flask_session
from redis import Redis
from rq.serializers import JSONSerializer

from core.outbox import add_job
from portal.app import create_app
from portal.worker import queue, relay_outbox
from tests.conftest import make_settings
from tests.factories import PASSWORD, UserFactory
from tests.portal.api_helpers import register_body

pytestmark = pytest.mark.smoke

API_PATHS = ["/api/v1/reference/regions", "/api/v1/openapi.json", "/api/v1/products", "/api/v1/me"]


@pytest.mark.parametrize("path", API_PATHS)
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert directives["default-src"] == "default-src 'self'"
    assert directives["object-src"] == "object-src 'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_hsts_only_behind_tls(app):
    plain = app.test_client().get("/api/v1/reference/regions")
    assert "Strict-Transport-Security" not in plain.headers
    secure = app.test_client().get("/api/v1/reference/regions", base_url="https://jihuitong.example")
    hsts = secure.headers["Strict-Transport-Security"]
    assert "max-age=31536000" in hsts and "includeSubDomains" in hsts


def test_error_responses_carry_the_headers_too(client):
    response = client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def _cookie_app(secure: bool, session_factory):
    app = create_app(make_settings(secure_cookies=secure), session_factory=session_factory)

    @app.get("/_test/cookie")
    def set_cookie() -> str:
        flask_session["probe"] = "1"
        return "ok"

    return app


@pytest.mark.parametrize("secure", [True, False])
def test_session_cookie_flags(session_factory, session, secure):
    app = _cookie_app(secure, session_factory)
    response = app.test_client().get("/_test/cookie", base_url="https://jihuitong.example")
    cookie = response.headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert "httponly" in attributes
    assert "samesite" in attributes and "SameSite=Lax" in cookie
    assert ("secure" in attributes) is secure
    assert app.config["REMEMBER_COOKIE_SECURE"] is secure
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True


def test_secure_cookies_setting_is_read_from_the_environment():
    from core.settings import Settings

    assert Settings.from_env({"SECURE_COOKIES": "1", "DATA_KEY": _data_key()}).secure_cookies is True
    assert Settings.from_env({"DATA_KEY": _data_key()}).secure_cookies is False


def _data_key() -> str:
    from tests.conftest import TEST_DATA_KEY

    return TEST_DATA_KEY


def _assert_rate_limited(response):
    assert response.status_code == 429, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["message"]
    assert int(response.headers["Retry-After"]) > 0


@pytest.fixture
def limited_app(session_factory, session):
    return create_app(
        make_settings(login_rate_limit="3 per minute", api_rate_limit="4 per minute"),
        session_factory=session_factory,
    )


def test_token_endpoint_burst_gets_429(limited_app, session):
    UserFactory(username="burst_user")
    session.flush()
    client = limited_app.test_client()
    codes = [
        client.post(
            "/api/v1/auth/token", json={"username": "burst_user", "password": "wrong-guess"}
        ).status_code
        for _ in range(3)
    ]
    assert codes == [401, 401, 401]
    # Even the right password is refused once the window is used up: the limit is on attempts.
    response = client.post("/api/v1/auth/token", json={"username": "burst_user", "password": PASSWORD})
    _assert_rate_limited(response)


def test_register_burst_gets_429(limited_app):
    client = limited_app.test_client()
    codes = [
        client.post("/api/v1/register", json=register_body(f"burst{i}", 900 + i)).status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 201]
    _assert_rate_limited(client.post("/api/v1/register", json=register_body("burst9", 909)))


def test_provider_api_burst_gets_429(limited_app):
    client = limited_app.test_client()
    body = {"records": [{"uscc": "x", "period": "2026-01"}]}
    codes = [client.post("/api/v1/data/tax/records", json=body).status_code for _ in range(4)]
    assert codes == [401] * 4
    _assert_rate_limited(client.post("/api/v1/data/tax/records", json=body))


def test_limits_are_per_client_address(limited_app):
    client = limited_app.test_client()
    body = {"username": "nobody", "password": "x"}
    for _ in range(3):
        client.post("/api/v1/auth/token", json=body, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    _assert_rate_limited(
        client.post("/api/v1/auth/token", json=body, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    )
    other = client.post("/api/v1/auth/token", json=body, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert other.status_code == 401


def test_rq_queue_uses_the_json_serializer(redis_url, committed_db):
    _engine, factory = committed_db
    settings = make_settings(redis_url=redis_url)
    q = queue(settings)
    assert q is not None and q.serializer is JSONSerializer
    with factory() as s:
        job = add_job(s, "match_need", "serializer-probe", need_id=424242)
        s.commit()
        assert job is not None
        job_id = job.id
    assert relay_outbox(factory, settings) == 1
    raw = Redis.from_url(redis_url).hget(f"rq:job:outbox-{job_id}", "data")
    assert raw is not None
    decoded = json.loads(zlib.decompress(raw))  # JSON, not pickle: a pickle would not parse
    assert decoded[0] == "portal.worker.execute_outbox_job"
    assert decoded[2] == [job_id]
    assert not raw.startswith(b"\x80")


def test_worker_is_built_with_the_json_serializer(redis_url, committed_db, monkeypatch):
    import rq

    _engine, factory = committed_db
    seen = {}

    def fake_work(self, **kwargs):
        seen["serializer"] = self.serializer
        seen["kwargs"] = kwargs
        return True

    monkeypatch.setattr(rq.Worker, "work", fake_work)
    from portal.worker import run_worker

    run_worker(factory, make_settings(redis_url=redis_url), burst=True)
    assert seen["serializer"] is JSONSerializer
    assert seen["kwargs"]["with_scheduler"] is True


def test_readme_documents_production_secrets():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "REDIS_URL=redis://:password@" in readme  # Redis with a password in production
    assert "DATA_KEY" in readme and "rotate-data-key" in readme and "audit verify" in readme


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/products/2147483648"),
        ("patch", "/api/v1/products/87178291201"),
        ("post", "/api/v1/leads/99999999999999/claim"),
        ("get", "/api/v1/needs/2147483648"),
    ],
)
def test_ids_beyond_the_database_range_are_404(client, method, path):
    response = getattr(client, method)(path, json={}, headers={"Authorization": "Bearer x"})
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "not_found"


def test_unknown_query_parameters_are_refused(client):
    response = client.get("/api/v1/products?per-page=5")
    assert response.status_code == 422
    assert "per-page" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("query", ["institution=%00x", "tag=a%01b", "region_code=%00"])
def test_control_characters_in_query_parameters_are_refused(client, query):
    # A NUL once reached PostgreSQL, which refused it: a 503 for what is bad input.
    response = client.get(f"/api/v1/products?{query}")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "validation_error"


def _proxied_app(session_factory, trusted_proxies: int, **overrides):
    app = create_app(
        make_settings(trusted_proxies=trusted_proxies, **overrides), session_factory=session_factory
    )

    @app.get("/_test/cookie")
    def set_cookie() -> str:
        flask_session["probe"] = "1"
        return "ok"

    return app


FORWARDED_TLS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


def test_hsts_behind_a_trusted_proxy_terminating_tls(session_factory, session):
    app = _proxied_app(session_factory, 1, secure_cookies=True)
    # nginx speaks plain HTTP to gunicorn and says in X-Forwarded-Proto that the client used TLS.
    response = app.test_client().get("/_test/cookie", headers=FORWARDED_TLS)
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
    cookie = response.headers["Set-Cookie"]
    assert "secure" in {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    plain = app.test_client().get("/_test/cookie", headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in plain.headers


def test_forwarded_headers_are_ignored_without_a_trusted_proxy(session_factory, session):
    app = _proxied_app(session_factory, 0)
    response = app.test_client().get("/_test/cookie", headers=FORWARDED_TLS)
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


def test_trusted_proxies_setting_is_read_from_the_environment():
    from core.settings import Settings

    assert Settings.from_env({"DATA_KEY": _data_key()}).trusted_proxies == 0
    assert Settings.from_env({"TRUSTED_PROXIES": "2", "DATA_KEY": _data_key()}).trusted_proxies == 2
    for bad in ("-1", "one"):
        with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
            Settings.from_env({"TRUSTED_PROXIES": bad, "DATA_KEY": _data_key()})


def _token_attempts(client, forwarded_for: str, proxy: str = "10.0.0.1"):
    return client.post(
        "/api/v1/auth/token",
        json={"username": "nobody", "password": "x"},
        headers={"X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": proxy},
    )


def test_rate_limit_keys_on_the_forwarded_client_behind_a_trusted_proxy(session_factory, session):
    app = _proxied_app(session_factory, 1, login_rate_limit="3 per minute")
    client = app.test_client()
    for _ in range(3):
        assert _token_attempts(client, "198.51.100.1").status_code == 401
    _assert_rate_limited(_token_attempts(client, "198.51.100.1"))
    # Another client behind the same proxy has its own window.
    assert _token_attempts(client, "198.51.100.2").status_code == 401
    # Only the address the proxy appended is believed: a value the client put in front changes nothing.
    _assert_rate_limited(_token_attempts(client, "192.0.2.99, 198.51.100.1"))


def test_rate_limit_ignores_a_forged_forwarded_for_without_a_trusted_proxy(session_factory, session):
    app = _proxied_app(session_factory, 0, login_rate_limit="3 per minute")
    client = app.test_client()
    for i in range(3):
        assert _token_attempts(client, f"198.51.100.{i}").status_code == 401
    # A new X-Forwarded-For on every attempt does not open a new window: the key is the peer address.
    _assert_rate_limited(_token_attempts(client, "198.51.100.200"))
