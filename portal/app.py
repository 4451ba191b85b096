"""The application factory: configuration, extensions, error handling, security headers, blueprints."""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any

import click
from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import Response, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from core import runtime
from core.db import make_engine, make_session_factory
from core.errors import (
    AuthenticationError,
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    TooManyAttemptsError,
)
from core.i18n import N_
from core.settings import Settings
from core.types import utcnow
from portal import filters
from portal.db import close_session, db, end_transaction
from portal.extensions import babel, csrf, limiter, login_manager
from portal.messages import STATUS_CODES, error_message, field_messages

log = logging.getLogger(__name__)

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
MAX_REQUEST_BYTES = 1024 * 1024
MAX_ID = 2**31 - 1


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in routes: a non-negative id within the database's integer range.

    A larger id cannot exist; without the bound PostgreSQL refuses the query (integer out of range)
    and the caller would get a 503 for what is simply a 404. The bound is in the regex, not only in
    `max`: Werkzeug reports a method mismatch on a sibling rule (405) before it validates a value.
    """

    regex = (
        r"(?:\d{1,9}|1\d{9}|20\d{8}|21[0-3]\d{7}|214[0-6]\d{6}|2147[0-3]\d{5}|21474[0-7]\d{4}"
        r"|214748[0-2]\d{3}|2147483[0-5]\d{2}|21474836[0-3]\d|214748364[0-7])"
    )

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def create_app(
    settings: Settings | None = None, session_factory: sessionmaker[Session] | None = None
) -> APIFlask:
    """Build the portal. Tests pass a session factory bound to their own connection."""
    settings = settings or Settings.from_env()
    app = APIFlask(
        "portal",
        title=N_("吉惠通 JSON API"),
        version="1.0.0",
        spec_path="/api/v1/openapi.json",
        docs_path=None,
        json_errors=False,
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        BABEL_DEFAULT_LOCALE="zh_CN",
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_I18N_ENABLED=True,
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_ENABLED=True,
        # Redis down must not take logins with it: limits fall back to per-process memory meanwhile.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        VALIDATION_ERROR_SCHEMA=ERROR_SCHEMA,
        HTTP_ERROR_SCHEMA=ERROR_SCHEMA,
        AUTO_404_RESPONSE=True,
        TESTING=settings.testing,
        INFO={"description": N_("吉惠通普惠金融一站式服务平台 API v1，契约见 docs/api.md。")},
        SECURITY_SCHEMES={"BearerAuth": {"type": "http", "scheme": "bearer"}},
    )
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings.database_url))
    if settings.trusted_proxies > 0:
        # Behind TLS-terminating proxies: the client's address (rate limits), scheme (HSTS, Secure
        # cookies, external URLs) and host come from their X-Forwarded-* headers. Only as many hops
        # as configured are believed; with none configured a client could forge them.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    app.schema_name_resolver = _schema_name
    app.url_map.converters["int"] = DatabaseIdConverter
    app.extensions["jihuitong.session_factory"] = session_factory
    app.extensions["jihuitong.settings"] = settings
    # Jobs run in-process when REDIS_URL is unset; they need the same sessions as the requests.
    runtime.bind(session_factory, settings)

    babel.init_app(app, default_locale="zh_CN", default_timezone=settings.timezone)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "account.login"
    login_manager.login_message = _l("请先登录")
    login_manager.session_protection = "strong"
    limiter.init_app(app)

    filters.register(app)
    _register_errors(app)
    app.spec_processor(declare_error_responses)
    _register_security_headers(app)
    app.teardown_appcontext(close_session)

    from portal import json_guard
    from portal.api import api_bp
    from portal.web import register_web

    json_guard.install(app)

    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    register_web(app)
    if settings.bench_floor_routes:
        from portal.floors import register_floors

        register_floors(app)

    from portal.cli import register_cli

    register_cli(app)
    # Post-loan monitoring names red warnings only on loans under a public scheme; which loans those
    # are is the guarantees package's knowledge, which monitoring may not import.
    from guarantees.schemes import loan_schemes, product_scheme_notes
    from matching.dispatch import register_product_scheme_lookup
    from monitoring.figures import register_public_scheme_lookup

    register_public_scheme_lookup(loan_schemes)
    # Likewise the match explanations name the public schemes behind a product (matching may not import
    # guarantees either).
    register_product_scheme_lookup(product_scheme_notes)
    # And a cover approved before the loan becomes active as the officer records the disbursement.
    from guarantees.covers import activate_cover_of_loan
    from matching.leads import register_disbursement_follower

    register_disbursement_follower(activate_cover_of_loan)
    if not settings.redis_url and not settings.testing and not _in_cli_command():
        from portal.worker import start_embedded_worker

        app.extensions["jihuitong.worker"] = start_embedded_worker(session_factory, settings)
    # Last, so that it runs first of the after_request hooks: the commit decides the response (an error
    # response replaces the page when the commit fails), and the others then apply to that response.
    app.after_request(end_transaction)
    return app


def _in_cli_command() -> bool:
    """True while a `flask` command other than `run` builds the app.

    Without Redis the app starts its worker thread as it is built, for gunicorn and `flask run`; a CLI
    command (migrations, seeding) builds the app too but must not run jobs against a database it is
    still changing: what it writes waits for the next start of the web process, which drains it.
    """
    context = click.get_current_context(silent=True)
    return context is not None and context.info_name != "run"


def _schema_name(schema: Any) -> str:
    cls = schema if isinstance(schema, type) else schema.__class__
    name: str = cls.__name__
    if not isinstance(schema, type) and schema.partial:
        name += "Update"
    return name


def api_error(
    code: str, status: int, fields: dict[str, list[str]] | None = None
) -> tuple[dict[str, Any], int]:
    body: dict[str, Any] = {"error": {"code": code, "message": error_message(code)}}
    if fields:
        body["error"]["fields"] = fields
    return body, status


def _flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = str(key) if not prefix else f"{prefix}.{key}"
            if key == "_schema":
                name = prefix or "_schema"
            for field, messages in _flatten(value, name).items():
                result.setdefault(field, []).extend(messages)
    elif isinstance(errors, list):
        for item in errors:
            if isinstance(item, (dict, list)):
                for field, messages in _flatten(item, prefix).items():
                    result.setdefault(field, []).extend(messages)
            else:
                result.setdefault(prefix or "_schema", []).append(str(item))
    else:
        result.setdefault(prefix or "_schema", []).append(str(errors))
    return result


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _register_errors(app: APIFlask) -> None:
    @app.error_processor
    def http_error(error: HTTPError) -> Any:
        status = error.status_code
        code = error.extra_data.get("code") or STATUS_CODES.get(status, "bad_request")
        fields: dict[str, list[str]] = {}
        if isinstance(error.detail, dict) and error.detail:
            for location, errors in error.detail.items():
                fields.update(
                    _flatten(errors, "" if location in ("json", "query", "form", "files") else location)
                )
            if status == 400 and fields:
                code = "invalid_json"
        body, status = api_error(code, status, fields)
        return body, status, error.headers

    from portal.auth import token_auth

    token_auth.error_processor(http_error)

    @app.errorhandler(HTTPException)
    def werkzeug_error(error: HTTPException) -> Any:
        status = error.code or 500
        if isinstance(error, CSRFError):
            message = _("页面已过期或来源不明，请刷新页面后重试")
        else:
            message = error_message(STATUS_CODES.get(status, "bad_request"))
        headers = {
            k: v for k, v in error.get_headers() if k.lower() not in ("content-type", "content-length")
        }
        if is_api_request():
            body, status = api_error(STATUS_CODES.get(status, "bad_request"), status)
            return body, status, headers
        return render_template("error.html", status=status, message=message), status, headers

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Any:
        status, fields = 400, None
        if isinstance(error, NotFoundError):
            status = 404
        elif isinstance(error, PermissionDeniedError):
            status = 403
        elif isinstance(error, ConflictError):
            status = 409
        elif isinstance(error, AuthenticationError):
            status = 401
        elif isinstance(error, InvalidInputError):
            status, fields = 422, field_messages(error.fields)
        headers = {}
        if isinstance(error, TooManyAttemptsError):
            status, headers = 429, retry_after(error)
        code = error.code if error.code in _known_codes() else STATUS_CODES.get(status, "bad_request")
        if is_api_request():
            body, status = api_error(code, status, fields)
            return body, status, headers
        return render_template("error.html", status=status, message=error_message(code)), status, headers

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_unavailable(error: Exception) -> Any:
        log.error("database error: %s", error)
        db().rollback()
        if is_api_request():
            return api_error("service_unavailable", 503)
        return render_template("error.html", status=503, message=error_message("service_unavailable")), 503

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if is_api_request():
            return api_error("internal_error", 500)
        return render_template("error.html", status=500, message=error_message("internal_error")), 500


def retry_after(error: TooManyAttemptsError) -> dict[str, str]:
    """The Retry-After header (seconds) of a refusal that ends at a known time."""
    until = error.until
    if not isinstance(until, dt.datetime):
        return {}
    return {"Retry-After": str(max(1, math.ceil((until - utcnow()).total_seconds())))}


ERROR_RESPONSES = {
    "400": N_("请求格式不正确（不是合法的 JSON）"),
    "401": N_("未提供或提供了无效的访问令牌"),
    "403": N_("已认证但无权执行此操作"),
    "404": N_("资源不存在或对调用方不可见"),
    "413": N_("请求体超过 1 MiB"),
    "422": N_("提交的内容未通过校验"),
    "503": N_("服务暂时不可用（数据库不可达）"),
}


def declare_error_responses(spec: dict[str, Any]) -> dict[str, Any]:
    """Declare, on every API operation, each error response the error handlers can give it.

    All errors share the error schema; which codes apply follows from the operation's shape: a body
    can be malformed (400), too large (413) or invalid (422), a query invalid (422), a path id unknown
    (404), a secured call unauthenticated (401) or of the wrong role (403), and anything that touches
    the database can find it unreachable (503). Codes an operation declares itself (409, 429) stay.
    """
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}}
    for path, operations in spec.get("paths", {}).items():
        if not path.startswith("/api/v1/") or path == "/api/v1/openapi.json":
            continue
        for method, operation in operations.items():
            locations = {p.get("in") for p in operation.get("parameters", [])}
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("schema", {}).get("type") == "integer":
                    parameter["schema"].update(minimum=0, maximum=MAX_ID)
            codes = {"503"}
            if method in ("post", "put", "patch", "delete"):
                codes.add("400")  # a body that is not JSON, or outside portal.json_guard's limits
            if operation.get("requestBody"):
                codes |= {"400", "413", "422"}
            if "query" in locations:
                codes.add("422")
            if "path" in locations:
                codes.add("404")
            if operation.get("security"):
                codes |= {"401", "403"}
            responses = operation.setdefault("responses", {})
            for code in sorted(codes):
                responses.setdefault(code, {"description": ERROR_RESPONSES[code], "content": error})
    return spec


def _known_codes() -> set[str]:
    from portal.messages import ERROR_MESSAGES

    return set(ERROR_MESSAGES)


def _register_security_headers(app: APIFlask) -> None:
    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if getattr(g, "no_store", False) or request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
