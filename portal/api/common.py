"""Helpers shared by the API modules: paging, settings, presenters of rows as response dicts."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from flask import Response, current_app

from core.masking import Personal, mask
from core.settings import Settings
from credit_profile.models import Borrower
from portal.presenters import page_body as page_body

T = TypeVar("T")


def settings() -> Settings:
    value: Settings = current_app.extensions["jihuitong.settings"]
    return value


def _schema_value(value: object) -> str:
    """What an output schema makes of the values JSON lacks: money and rates as decimal strings
    (`money_out`: "1500000.00"), dates and times in ISO 8601 (marshmallow's Date and DateTime)."""
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):  # datetime included
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumped(body: dict[str, Any]) -> Response:
    """A response body already in its output schema's shape (a presenter's dict), encoded as the schema
    would dump it, without the schema's pass over every field: a list view's output schema walks some
    thousand fields a page, which cost as much as the page's statement. The view's `@output` schema
    still documents it (apiflask passes a Response through); tests compare the two encodings."""
    text = json.dumps(body, default=_schema_value, ensure_ascii=False, separators=(",", ":"))
    return Response(text, mimetype="application/json")


def paged(items: Sequence[T], page: int, per_page: int) -> tuple[Sequence[T], int]:
    start = (page - 1) * per_page
    return items[start : start + per_page], len(items)


def borrower_dict(borrower: Borrower, *, masked: bool) -> dict[str, Any]:
    """The borrower as the API shows it; identifiers masked unless the viewer is entitled to them."""
    return {
        "id": borrower.id,
        "kind": borrower.kind,
        "name": borrower.name,
        "uscc": mask(Personal.USCC, borrower.uscc) if masked else borrower.uscc,
        "id_number": mask(Personal.ID_NUMBER, borrower.id_number) if masked else borrower.id_number,
        "region_code": borrower.region_code,
        "industry_code": borrower.industry_code,
        "established_on": borrower.established_on,
        "employees": borrower.employees,
    }
