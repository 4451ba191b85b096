"""What a finance office may see, shared by the statistics pages and the JSON API: the region its
scope allows, the window checks, and the export files (docs/metrics.md#window, #exports)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import Response
from flask_babel import gettext
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, PermissionDeniedError
from core.models import User
from core.reference import CITY_CODE, REGIONS
from stats import breakdowns, drilldowns
from stats.exports import build_table, to_csv, to_xlsx
from stats.reports import XLSX_TYPE
from stats.windows import Window

MAX_WINDOW_DAYS = 3660
# Dates the platform can have data for; also keeps local-day arithmetic far from datetime's limits.
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2099, 12, 31)
EXPORT_FORMATS = ("csv", "xlsx")


def scoped_region(user: User, requested: str | None) -> str:
    """The region the user may see for this request. Raises PermissionDeniedError or InvalidInputError."""
    if requested and requested not in (*REGIONS, CITY_CODE):
        raise InvalidInputError({"region_code": ["invalid_choice"]})
    own = user.region_code or ""
    if own not in (*REGIONS, CITY_CODE):
        raise PermissionDeniedError("finance account without a region")
    if own == CITY_CODE:
        return requested or CITY_CODE
    if requested in (None, "", own):
        return own
    raise PermissionDeniedError("outside own county")


def stats_window(user: User, first: dt.date, last: dt.date, requested_region: str | None) -> Window:
    """The user's window. Raises InvalidInputError (order, length) or PermissionDeniedError (scope)."""
    for name, value in (("from", first), ("to", last)):
        if not EARLIEST <= value <= LATEST:
            raise InvalidInputError({name: ["out_of_range"]})
    if last < first:
        raise InvalidInputError({"to": ["less_than_min"]})
    if (last - first).days > MAX_WINDOW_DAYS:
        raise InvalidInputError({"from": ["out_of_range"]})
    return Window(first=first, last=last, region_code=scoped_region(user, requested_region))


def check_group(window: Window, by: str | None, key: str | None) -> None:
    """A drill-down key must come with its dimension, and a county key must lie in the window's scope.
    Raises InvalidInputError or PermissionDeniedError."""
    if (by is None) != (key is None):
        raise InvalidInputError({"key" if by else "by": ["required"]})
    if by is not None and by not in breakdowns.DIMENSIONS:
        raise InvalidInputError({"by": ["invalid_choice"]})
    if by == "county" and key is not None:
        if key not in REGIONS:
            raise InvalidInputError({"key": ["invalid_choice"]})
        if window.county is not None and key != window.county:
            raise PermissionDeniedError("outside own county")


@dataclass(frozen=True)
class ExportFile:
    body: bytes
    mimetype: str
    filename: str


def export_file(
    session: Session,
    window: Window,
    table: str,
    file_format: str,
    *,
    by: str | None = None,
    figure: str | None = None,
    key: str | None = None,
) -> ExportFile:
    """One statistics table as CSV or XLSX, Chinese headers, window and filters written in the file.
    Raises InvalidInputError (missing or unknown table, dimension, figure) or PermissionDeniedError."""
    if table == "breakdown" and by is None:
        raise InvalidInputError({"by": ["required"]})
    if table == "drilldown":
        if figure not in drilldowns.DRILLDOWN_FIGURES:
            raise InvalidInputError({"figure": ["required" if figure is None else "invalid_choice"]})
        check_group(window, by, key)
    try:
        built = build_table(session, table, window, by=by, figure=figure, key=key, translate=gettext)
    except breakdowns.NotAttributableError as exc:
        raise InvalidInputError({"by": ["invalid_choice"]}) from exc
    except ValueError as exc:
        raise InvalidInputError({"table": ["invalid_choice"]}) from exc
    stem = f"jihuitong-{table}{'-' + by if by and table == 'breakdown' else ''}-{window.first}-{window.last}"
    stem += f"-{window.county or CITY_CODE}"
    if file_format == "csv":
        return ExportFile(to_csv(built), "text/csv; charset=utf-8", f"{stem}.csv")
    return ExportFile(to_xlsx([built], translate=gettext), XLSX_TYPE, f"{stem}.xlsx")


def attachment(filename: str, mimetype: str, body: bytes | str) -> Response:
    """A file to download (an export or a report), page and API alike."""
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
