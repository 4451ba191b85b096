"""Jinja filters and globals: money, Shanghai time, masked identifiers, reference-data labels."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Flask
from flask_babel import gettext as _

from core.identifiers import mask_identifier, mask_phone
from core.types import to_shanghai
from portal.labels import LABELS, label


def yuan(value: Decimal | int | None) -> str:
    if value is None:
        return "—"
    amount = Decimal(value)
    if amount >= 10000 and amount % 100 == 0:
        return _("%(n)s万元", n=f"{amount / 10000:,.2f}".rstrip("0").rstrip("."))
    return _("%(n)s元", n=f"{amount:,.2f}")


def percent(value: Decimal | str | None) -> str:
    """A share (0.3333) as a percentage (33.33%)."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)) * 100:.2f}%"


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    return to_shanghai(value).strftime(fmt)


def register(app: Flask) -> None:
    app.jinja_env.filters.update(
        yuan=yuan,
        percent=percent,
        local_time=local_time,
        mask=mask_identifier,
        mask_phone=mask_phone,
        label=label,
    )
    app.jinja_env.globals.update(LABELS=LABELS, label=label)
