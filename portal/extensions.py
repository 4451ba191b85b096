"""Flask extensions, created unbound and initialised in the app factory."""

from __future__ import annotations

from typing import Any

from flask import g, has_app_context, request
from flask_babel import Babel, Domain
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf import CSRFProtect


def _client_address() -> str:
    return request.remote_addr or "unknown"


class RequestDomain(Domain):
    """Flask-Babel's default domain, with the catalogue looked up once per request (app context) rather
    than on every `gettext`: Flask-Babel resolves the context, the locale and its cache key each time,
    which costs more than the translation, and a page asks for some two hundred strings (its labels,
    choices and lazy strings). The locale never changes within a request here (no `force_locale`)."""

    def get_translations(self) -> Any:
        if not has_app_context():
            return super().get_translations()
        found = g.get("babel_translations")
        if found is None:
            found = g.babel_translations = super().get_translations()
        return found


babel = Babel()
# The domain Flask-Babel uses for `gettext` and `lazy_gettext` (Babel.domain_instance, a cached property).
babel.domain_instance = RequestDomain()
csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=_client_address, default_limits=[], headers_enabled=True)
