"""Schemas of the monthly reports."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import DateTime, Integer, List, Nested, String
from apiflask.validators import Length

from core.i18n import N_
from portal.api.schemas.base import In


class MonthlyReportIn(In):
    month = String(required=True, validate=Length(min=7, max=7, error=N_("月份格式应为 YYYY-MM")))
    region_code = String(validate=Length(max=6), allow_none=True)


class ReportOut(Schema):
    id = Integer()
    kind = String()
    month = String()
    region_code = String()
    status = String()
    progress = Integer()
    created_at = DateTime()
    started_at = DateTime(allow_none=True)
    finished_at = DateTime(allow_none=True)
    error = String(allow_none=True)
    filename = String(allow_none=True)
    download_url = String(allow_none=True)


class ReportItem(ReportOut):
    """ReportOut as a list item."""


class ReportList(Schema):
    items = List(Nested(ReportItem))
