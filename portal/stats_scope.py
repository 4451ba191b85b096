"""What a finance office may see, shared by the statistics pages and the JSON API: the region its
scope allows, the window checks, and the export files (docs/metrics.md#window, #exports)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import quote

from flask import Response
from flask_babel import gettext
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, PermissionDeniedError
from core.models import User
from core.reference import CITY_CODE, REGIONS
from portal.labels import label
from stats import breakdowns, drilldowns
from stats.exports import DIMENSION_LABELS, FIGURE_LABELS, build_table, region_name, to_csv, to_xlsx
from stats.guarantee_tables import BY_LABELS, GUARANTEE_BY
from stats.reports import XLSX_TYPE
from stats.windows import Window

MAX_WINDOW_DAYS = 3660
# Dates the platform can have data for; also keeps local-day arithmetic far from datetime's limits.
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2099, 12, 31)
EXPORT_FORMATS = ("csv", "xlsx")
GROUPED_GUARANTEE_TABLES = ("guarantees", "bridges")
GUARANTEE_ONLY_BY = frozenset(GUARANTEE_BY) - frozenset(breakdowns.DIMENSIONS)


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
    sort: str | None = None,
    descending: bool = False,
    query: str | None = None,
) -> ExportFile:
    """One statistics table as CSV or XLSX, Chinese headers (the XLSX with the window, filters and
    definitions on a sheet of their own), named in Chinese; a drill-down as shown (sorted, filtered); the
    guarantee and bridge tables by county, bank, guarantor or scheme, bounded to a county office's
    county (the scheme-wide tables, scheme_limits and cap_monitor, are the city's).
    Raises InvalidInputError (missing or unknown table, dimension, figure, sort) or PermissionDeniedError."""
    if table == "breakdown" and by is None:
        raise InvalidInputError({"by": ["required"]})
    if table in GROUPED_GUARANTEE_TABLES and by is not None and by not in GUARANTEE_BY:
        raise InvalidInputError({"by": ["invalid_choice"]})
    if table not in GROUPED_GUARANTEE_TABLES and by in GUARANTEE_ONLY_BY:
        raise InvalidInputError({"by": ["invalid_choice"]})
    if table == "drilldown":
        if figure not in drilldowns.DRILLDOWN_FIGURES:
            raise InvalidInputError({"figure": ["required" if figure is None else "invalid_choice"]})
        check_group(window, by, key)
    if sort is not None and sort not in drilldowns.SORTS:
        raise InvalidInputError({"sort": ["invalid_choice"]})
    try:
        built = build_table(
            session, table, window, by=by, figure=figure, key=key, translate=gettext, label=label,
            sort=sort, descending=descending, query=query,
        )  # fmt: skip
    except breakdowns.NotAttributableError as exc:
        raise InvalidInputError({"by": ["invalid_choice"]}) from exc
    except ValueError as exc:
        raise InvalidInputError({"table": ["invalid_choice"]}) from exc
    parts = [gettext("吉惠通"), built.title]
    if table in ("breakdown", *GROUPED_GUARANTEE_TABLES) and by:
        parts.append(gettext({**DIMENSION_LABELS, **BY_LABELS}[by]))
    if table == "drilldown" and figure:
        parts.append(gettext(FIGURE_LABELS.get(figure, figure)).split("（")[0])
    parts.append(gettext(region_name(window.county or CITY_CODE)))
    parts.append(gettext("%(a)s至%(b)s", a=window.first, b=window.last))
    stem = "_".join(parts)
    if file_format == "csv":
        return ExportFile(to_csv(built), "text/csv; charset=utf-8", f"{stem}.csv")
    return ExportFile(to_xlsx([built], translate=gettext), XLSX_TYPE, f"{stem}.xlsx")


def attachment(filename: str, mimetype: str, body: bytes | str) -> Response:
    """A file to download (an export or a report), page and API alike. The name travels as RFC 6266's
    `filename*` (UTF-8, percent-encoded) with an ASCII `filename` for clients that ignore it."""
    stem, _dot, extension = filename.rpartition(".")
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-") or "jihuitong"
    disposition = (
        f"attachment; filename=\"{fallback}.{extension}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": disposition})
