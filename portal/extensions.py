"""Flask extensions, created unbound and initialised in the app factory."""

from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf import CSRFProtect


def _client_address() -> str:
    return request.remote_addr or "unknown"


babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=_client_address, default_limits=[], headers_enabled=True)
