"""What an officer may see of a borrower before claiming: bands, never names, codes or contacts."""

from __future__ import annotations

from typing import Any

from core.reference import industry_section
from credit_profile.models import Borrower, CreditScore


def size_band(employees: int | None) -> str | None:
    if employees is None:
        return None
    if employees < 10:
        return "micro"
    if employees < 100:
        return "small"
    return "medium"


def anonymised_profile(borrower: Borrower, score: CreditScore | None) -> dict[str, Any]:
    return {
        "kind": borrower.kind,
        "region_code": borrower.region_code,
        "industry_section": industry_section(borrower.industry_code),
        "size_band": size_band(borrower.employees),
        "score_band": score.grade if score else None,
    }
