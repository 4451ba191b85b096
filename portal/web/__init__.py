"""HTML pages: one blueprint per kind of user, all calling the same services as the JSON API."""

from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    from portal.labels import web_label
    from portal.web import (
        account,
        admin,
        applicant,
        calendars,
        finance,
        guarantees,
        manage,
        monitoring,
        officer,
        public,
    )
    from portal.web.common import inject_globals, no_store_private

    for module in (
        public,
        account,
        applicant,
        officer,
        manage,
        finance,
        admin,
        guarantees,
        monitoring,
        calendars,
    ):
        app.register_blueprint(module.bp)
    from portal.web import bridges, schemes, scorecards

    for extra in (scorecards, bridges, schemes):
        app.register_blueprint(extra.bp)
    app.context_processor(inject_globals)
    # Blueprint-level before_request hooks trip APIFlask's OpenAPI generation, so this is app-level.
    app.before_request(no_store_private)
    app.jinja_env.filters["web_label"] = web_label
