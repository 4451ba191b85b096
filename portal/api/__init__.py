"""The JSON API v1 (docs/api.md): endpoints declared with the schemas that also build the OpenAPI document."""

from __future__ import annotations

from apiflask import APIBlueprint

api_bp = APIBlueprint("api", __name__, url_prefix="/api/v1")

from portal.api import (  # noqa: E402, F401
    accounts,
    admin,
    alerts,
    calendars,
    credit,
    guarantees,
    leads,
    monitoring,
    needs,
    notifications,
    products,
    reference,
    reports,
    scorecards,
    stats,
)
