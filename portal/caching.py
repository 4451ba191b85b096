"""What every visitor of the 金融超市 sees alike, kept in each web process for a while.

The catalogue's version (products and institutions: how many, and the latest change) is part of every
key and is read from the database, one small query, at most once per `CATALOGUE_CACHE_SECONDS` per
process (default 1; 0 reads it on every request): a product published, edited or retired on any
machine shows everywhere within that time, with no invalidation to send between processes. Only pages
of anonymous visitors without a pending message are cached whole (a signed-in page names its user
and carries the user's CSRF token); the product list of the JSON API is cached as data.

What one signed-in user sees (the officer's inbox, page and API) is kept too, but reused only while
the database is in the very state it was built from (`core.accounts.database_snapshot`: PostgreSQL's
snapshot, which any commit anywhere changes) and before the time the page itself names (an SLA
deadline it shows as not yet passed). So it is never stale: a lead claimed, pushed or expired on any
machine changes the snapshot, and the next request builds the page afresh. The snapshot is the
whole server's: a commit in another database on it renews every kept page too (never wrong, only
slower). Where no snapshot can be named (SQLite, or a transaction that has already written) nothing is
reused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, request, session
from flask_babel import get_locale
from flask_caching import Cache
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from core.accounts import database_snapshot, live_session_snapshot
from core.db import make_engine
from core.types import utcnow
from portal.db import db, session_factory
from products.services import catalogue_version

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)
cache = Cache()
viewer_cache = Cache()
# Bounds what a stale entry can cost (an institution renamed) and the memory of one process.
TIMEOUT_SECONDS = 300
MAX_ENTRIES = 500
VERSION_KEY = "catalogue-version"
# One entry per user, page and query (a newer snapshot replaces it): a few pages per officer.
VIEWER_MAX_ENTRIES = 1000
PEEK_ENGINE = "jihuitong.peek_engine"
# As many as a web process has threads (scripts/run: 8), so that under load no check opens and closes
# a connection of its own (with 4, the page made 0.43 of the bench's floor instead of 0.54).
PEEK_POOL_SIZE = 8
_peek_lock = threading.Lock()


def init_cache(app: Flask) -> None:
    cache.init_app(
        app,
        config={
            "CACHE_TYPE": "SimpleCache",
            "CACHE_DEFAULT_TIMEOUT": TIMEOUT_SECONDS,
            "CACHE_THRESHOLD": MAX_ENTRIES,
        },
    )
    viewer_cache.init_app(
        app,
        config={
            "CACHE_TYPE": "SimpleCache",
            "CACHE_DEFAULT_TIMEOUT": TIMEOUT_SECONDS,
            "CACHE_THRESHOLD": VIEWER_MAX_ENTRIES,
        },
    )


def _version() -> str:
    seconds = current_app.extensions["jihuitong.settings"].catalogue_cache_seconds
    if seconds <= 0:
        return catalogue_version(db())
    version: str | None = cache.get(VERSION_KEY)
    if version is None:
        version = catalogue_version(db())
        cache.set(VERSION_KEY, version, timeout=seconds)
    return version


def catalogue_cached(kind: str, build: Callable[[], T]) -> T:
    """`build()` for this request's path and query, from the cache while the catalogue is unchanged."""
    key = f"{kind}:{get_locale()}:{_version()}:{request.full_path}"
    found: Any = cache.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    value = build()
    cache.set(key, value)
    return value


def kept_per_viewer(view: F) -> F:
    """Mark a GET view whose response it builds through `viewer_cached`: `serve_kept` may then answer
    the request before the view runs, with one round trip to the database."""
    view.kept_per_viewer = True  # type: ignore[attr-defined]
    return view


def _viewer() -> tuple[str, str, str] | None:
    """(key, token, token kind) of what this request's viewer sees here, or None when not signed in.

    The key holds the endpoint, query and locale; a digest of the viewer's token (the bearer token, or
    the server-side session named in the session cookie); and for pages, what Flask-Login's strong
    session protection and the CSRF token depend on (the session's identifier and CSRF token, the
    client's address and user agent), so that a response kept for one request is given again only
    to a request that would have been let in and answered alike.
    """
    if request.path.startswith("/api/"):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        parts = [token]
        kind = "api"
    else:
        token = session.get("_user_id") or ""
        if not token:
            return None
        parts = [token, session.get("csrf_token", ""), session.get("_id", "")]
        parts += [request.remote_addr or "", request.user_agent.string]
        kind = "web"
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    return f"{request.endpoint}:{get_locale()}:{digest}:{request.full_path}", token, kind


def viewer_cached(build: Callable[[], tuple[str, dt.datetime | None]], *, mimetype: str) -> Response:
    """The response `build()` makes for this viewer, kept while the database is in the state it was
    built from (see `serve_kept`).

    `build` returns the body and the time until which it may be shown (None: no such time), e.g. the
    first deadline the page shows as not yet passed. Nothing is kept where no state can be named
    (`core.accounts.database_snapshot`), for a request with a message waiting to be shown, or when
    building created the session's CSRF token (the page would carry a token the key does not name).
    """
    snapshot = database_snapshot(db())
    viewer = _viewer() if snapshot is not None and "_flashes" not in session else None
    body, until = build()
    if viewer is not None and _viewer() == viewer:
        viewer_cache.set(viewer[0], (snapshot, until, body, mimetype))
    return Response(body, mimetype=mimetype)


def serve_kept() -> Response | None:
    """Before a `kept_per_viewer` view: its kept response, if the viewer's token is still live and
    the database is in the very state the response was built from; else None and the view runs."""
    view = current_app.view_functions.get(request.endpoint or "")
    if request.method != "GET" or not getattr(view, "kept_per_viewer", False) or "_flashes" in session:
        return None
    viewer = _viewer()
    found: Any = viewer_cache.get(viewer[0]) if viewer else None
    if viewer is None or found is None:
        return None
    built_from, until, body, mimetype = found
    if until is not None and utcnow() >= until:
        return None
    engine = _peek_engine()
    if engine is None:
        return None
    try:
        with engine.connect() as connection:
            state = live_session_snapshot(connection, viewer[1], kind=viewer[2])
    except DBAPIError:
        log.warning("kept response not checked: database unavailable", exc_info=True)
        return None  # the view answers, and reports the failure as any request does
    if state is None or state != built_from:
        return None
    return Response(body, mimetype=mimetype)


def _peek_engine() -> Engine | None:
    """The connections `serve_kept` asks on, to the requests' database: autocommit (no BEGIN and
    ROLLBACK around its one statement) and without pre-ping (a dead connection fails the check, and
    the view answers). None when the requests' sessions are bound to one connection (tests)."""
    engine: Engine | None = current_app.extensions.get(PEEK_ENGINE)
    if engine is None:
        bind = session_factory().kw.get("bind")
        if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
            return None
        with _peek_lock:
            engine = current_app.extensions.get(PEEK_ENGINE)
            if engine is None:
                engine = make_engine(
                    bind.url.render_as_string(hide_password=False),
                    pool_pre_ping=False,
                    pool_size=PEEK_POOL_SIZE,
                    max_overflow=PEEK_POOL_SIZE,
                    isolation_level="AUTOCOMMIT",
                )
                current_app.extensions[PEEK_ENGINE] = engine
    return engine
