"""Helpers for credit_profile tests: months relative to today and stored records."""

from __future__ import annotations

from decimal import Decimal

from credit_profile.borrowers import today_local
from credit_profile.features import period_index, period_label
from credit_profile.models import DataRecord


def month(back: int = 1) -> str:
    """The month ``back`` months before the current one (Asia/Shanghai)."""
    today = today_local()
    return period_label(period_index(f"{today:%Y-%m}") - back)


def store(session, borrower_id: int, source: str, periods, consent_id: int | None, **values) -> None:
    defaults = {
        "electricity": {"kwh": Decimal("1000.00"), "bill_amount": Decimal("680.00")},
        "tax": {
            "sales": Decimal("50000.00"),
            "tax_paid": Decimal("1500.00"),
            "credit_rating": "A",
            "arrears": False,
        },
        "bank_flow": {
            "inflow": Decimal("60000.00"),
            "outflow": Decimal("50000.00"),
            "end_balance": Decimal("20000.00"),
        },
    }[source]
    for period in periods:
        session.add(
            DataRecord(
                borrower_id=borrower_id,
                source=source,
                period=period,
                consent_id=consent_id,
                **{**defaults, **values},
            )
        )
    session.flush()
