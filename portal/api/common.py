"""Helpers shared by the API modules: paging, settings, presenters of rows as response dicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from flask import current_app

from core.masking import Personal, mask
from core.settings import Settings
from credit_profile.models import Borrower
from portal.presenters import page_body as page_body

T = TypeVar("T")


def settings() -> Settings:
    value: Settings = current_app.extensions["jihuitong.settings"]
    return value


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
