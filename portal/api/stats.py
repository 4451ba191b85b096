"""Statistics for the finance offices; a county office sees only its own county."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import RAISE

from core.errors import InvalidInputError, PermissionDeniedError
from core.models import Role, User
from core.reference import CITY_CODE, REGIONS
from matching.stats import Window, summary
from portal.api import api_bp
from portal.api.schemas import StatsOut, StatsQuery
from portal.auth import api_user, token_auth

MAX_WINDOW_DAYS = 3660
# Dates the platform can have data for; also keeps local-day arithmetic far from datetime's limits.
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


def scoped_region(user: User, requested: str | None) -> str:
    """The region the user may see for this request. Raises PermissionDeniedError or InvalidInputError."""
    if requested and requested not in (*REGIONS, CITY_CODE):
        raise InvalidInputError({"region_code": ["invalid_choice"]})
    own = user.region_code or ""
    if own == CITY_CODE:
        return requested or CITY_CODE
    if requested in (None, "", own):
        return own
    raise PermissionDeniedError("outside own county")


@api_bp.get("/stats/summary")
@api_bp.auth_required(token_auth, roles=[Role.FINANCE.value])
@api_bp.input(StatsQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(StatsOut)
@api_bp.doc(summary="统计汇总（定义见 docs/metrics.md）", responses=[401, 403, 422])
def stats_summary(query: dict[str, Any]) -> dict[str, Any]:
    from portal.db import db

    first, last = query["from_"], query["to"]
    for name, value in (("from", first), ("to", last)):
        if not EARLIEST <= value <= LATEST:
            raise InvalidInputError({name: ["out_of_range"]})
    if last < first:
        raise InvalidInputError({"to": ["less_than_min"]})
    if (last - first).days > MAX_WINDOW_DAYS:
        raise InvalidInputError({"from": ["out_of_range"]})
    region = scoped_region(api_user(), query.get("region_code"))
    result = summary(db(), Window(first=first, last=last, region_code=region))
    result["from_"] = result.pop("from")
    return result
