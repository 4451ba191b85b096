"""Schemas of notifications."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Integer, List, Nested, String

from portal.api.schemas.base import PageOut, PageQuery


class NotificationQuery(PageQuery):
    unread = Boolean(load_default=False)


class NotificationOut(Schema):
    id = Integer()
    kind = String()
    text = String()
    need_id = Integer(allow_none=True)
    lead_id = Integer(allow_none=True)
    created_at = DateTime()
    read_at = DateTime(allow_none=True)
    read = Boolean()


class NotificationItem(NotificationOut):
    """NotificationOut as a list item."""


class NotificationPage(PageOut):
    items = List(Nested(NotificationItem))
    unread = Integer()
