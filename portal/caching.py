"""What every visitor of the 金融超市 sees alike, kept in each web process for a while.

The catalogue's version (products and institutions: how many, and the latest change) is read from the
database on every request, one small query, and is part of every key: a product published, edited or
retired on any machine is shown at once, with no invalidation to send between processes. Only pages
of anonymous visitors without a pending message are cached whole (a signed-in page names its user
and carries the user's CSRF token); the product list of the JSON API is cached as data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, request
from flask_babel import get_locale
from flask_caching import Cache

from portal.db import db
from products.services import catalogue_version

T = TypeVar("T")
cache = Cache()
# Bounds what a stale entry can cost (an institution renamed) and the memory of one process.
TIMEOUT_SECONDS = 300
MAX_ENTRIES = 500


def init_cache(app: Flask) -> None:
    cache.init_app(
        app,
        config={
            "CACHE_TYPE": "SimpleCache",
            "CACHE_DEFAULT_TIMEOUT": TIMEOUT_SECONDS,
            "CACHE_THRESHOLD": MAX_ENTRIES,
        },
    )


def catalogue_cached(kind: str, build: Callable[[], T]) -> T:
    """`build()` for this request's path and query, from the cache while the catalogue is unchanged."""
    key = f"{kind}:{get_locale()}:{catalogue_version(db())}:{request.full_path}"
    found: Any = cache.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    value = build()
    cache.set(key, value)
    return value
