"""What every visitor of the 金融超市 sees alike, kept in each web process for a while.

The catalogue's version (products and institutions: how many, and the latest change) is part of every
key and is read from the database, one small query, at most once per `CATALOGUE_CACHE_SECONDS` per
process (default 1; 0 reads it on every request): a product published, edited or retired on any
machine shows everywhere within that time, with no invalidation to send between processes. Only pages
of anonymous visitors without a pending message are cached whole (a signed-in page names its user
and carries the user's CSRF token); the product list of the JSON API is cached as data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from flask_babel import get_locale
from flask_caching import Cache

from portal.db import db
from products.services import catalogue_version

T = TypeVar("T")
cache = Cache()
# Bounds what a stale entry can cost (an institution renamed) and the memory of one process.
TIMEOUT_SECONDS = 300
MAX_ENTRIES = 500
VERSION_KEY = "catalogue-version"


def init_cache(app: Flask) -> None:
    cache.init_app(
        app,
        config={
            "CACHE_TYPE": "SimpleCache",
            "CACHE_DEFAULT_TIMEOUT": TIMEOUT_SECONDS,
            "CACHE_THRESHOLD": MAX_ENTRIES,
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
