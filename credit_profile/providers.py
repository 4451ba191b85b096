"""Data providers as the administrator manages them: listed with their last use, deactivated (their
signatures are refused from then on), and rotated (a new secret; the old one stops at once). Every
change is recorded in the audit trail. Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.events import record_event
from core.types import utcnow
from credit_profile.models import DataProvider


class ProviderNotFoundError(NotFoundError):
    code = "provider_not_found"


@dataclass(frozen=True, slots=True)
class ProviderView:
    id: int
    name: str
    source: str
    key: str
    active: bool
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    rotated_at: dt.datetime | None


def list_providers(session: Session, *, page: int = 1, per_page: int = 50) -> tuple[list[ProviderView], int]:
    """Every provider, newest first, paged in SQL; never their secrets."""
    total = session.scalar(select(func.count()).select_from(DataProvider)) or 0
    rows = session.execute(
        select(
            DataProvider.id,
            DataProvider.name,
            DataProvider.source,
            DataProvider.key,
            DataProvider.active,
            DataProvider.created_at,
            DataProvider.last_used_at,
            DataProvider.rotated_at,
        )
        .order_by(DataProvider.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return [ProviderView(*row) for row in rows], total


def _get(session: Session, provider_id: int) -> DataProvider:
    provider = session.get(DataProvider, provider_id)
    if provider is None:
        raise ProviderNotFoundError(str(provider_id))
    return provider


def deactivate_provider(session: Session, provider_id: int, *, actor_id: int) -> DataProvider:
    """Refuse the provider's signatures from now on (idempotent). Raises ProviderNotFoundError."""
    provider = _get(session, provider_id)
    if provider.active:
        provider.active = False
        session.flush()
        record_event(
            session, entity_type="provider", entity_id=provider.id, to_status="deactivated", actor_id=actor_id
        )
    return provider


def rotate_provider(session: Session, provider_id: int, *, actor_id: int) -> tuple[DataProvider, str]:
    """A new secret for the provider (returned once); the old secret stops at once, the key stays.
    Raises ProviderNotFoundError."""
    provider = _get(session, provider_id)
    secret = secrets.token_hex(32)
    provider.secret = secret
    provider.rotated_at = utcnow()
    session.flush()
    record_event(
        session, entity_type="provider", entity_id=provider.id, to_status="rotated", actor_id=actor_id
    )
    return provider, secret
