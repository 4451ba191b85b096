"""Schemas of the finance offices' alerts."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Integer, List, Nested, String
from apiflask.validators import Length

from portal.api.schemas.base import PageOut, PageQuery, money


class AlertQuery(PageQuery):
    region_code = String(validate=Length(max=6))


class AlertNeedOut(Schema):
    id = Integer()
    status = String()
    amount = money()
    term_months = Integer()
    dispatch_round = Integer()
    open_to_all = Boolean()
    borrower = String()
    borrower_kind = String()


class AlertOut(Schema):
    id = Integer()
    kind = String()
    text = String()
    region_code = String()
    created_at = DateTime()
    need = Nested(AlertNeedOut)


class AlertPage(PageOut):
    items = List(Nested(AlertOut))
