"""HTML pages: one blueprint per kind of user."""

from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    from portal.web import public

    app.register_blueprint(public.bp)
