"""Data-use receipts on the audit chain.

Every use of authorised data (a ConsentUse row: a read, an ingested or imported record, a refusal) is
receipted: when the transaction that recorded uses commits, one status event (`entity_type`
`consent_uses`) carries their count, first and last id and a SHA-256 digest over their content, and is
sealed into the hash chain with everything else. One event per transaction, not per use, so a
provider's batch of 1,000 records adds one row to the chain. `verify_use_receipts` recomputes each
digest: a use edited or deleted after the fact no longer matches its receipt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from core.audit import ChainProblem
from core.events import record_event
from core.models import StatusEvent
from credit_profile.models import ConsentUse

PENDING_USES = "jihuitong.pending_uses"
RECEIPT_ENTITY = "consent_uses"
_FIELDS = (
    "id", "consent_id", "borrower_id", "source", "at", "actor_id", "institution_id", "provider_id",
    "action", "allowed", "detail",
)  # fmt: skip


def note_uses(session: Session, uses: Iterable[ConsentUse]) -> None:
    """Remember uses added in this transaction, to be receipted when it commits."""
    session.info.setdefault(PENDING_USES, []).extend(uses)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return value


def uses_digest(rows: Iterable[Any]) -> str:
    """SHA-256 over the uses' content in id order, as canonical JSON."""
    content = sorted(([_plain(getattr(row, name)) for name in _FIELDS] for row in rows), key=lambda r: r[0])
    payload = json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


@event.listens_for(Session, "before_commit", insert=True)
def _receipt_on_commit(session: Session) -> None:
    # Inserted first among the before_commit listeners: the receipt is sealed by core.audit's.
    if session.in_nested_transaction() or not session.info.get(PENDING_USES):
        return
    session.flush()
    uses = [u for u in session.info.pop(PENDING_USES) if inspect(u).persistent]
    if not uses:
        return
    ids = sorted(u.id for u in uses)
    record_event(
        session,
        entity_type=RECEIPT_ENTITY,
        entity_id=ids[0],
        to_status="recorded",
        data={"count": len(ids), "ids": ids, "digest": uses_digest(uses)},
    )
    session.flush()


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop(PENDING_USES, None)


def verify_use_receipts(session: Session) -> list[ChainProblem]:
    """Every receipt's uses as stored now, against its digest (`receipt_mismatch` when they differ)."""
    problems = []
    receipts = session.scalars(select(StatusEvent).where(StatusEvent.entity_type == RECEIPT_ENTITY))
    for receipt in receipts:
        data = receipt.data or {}
        ids = [int(i) for i in data.get("ids", [])]
        rows = session.scalars(select(ConsentUse).where(ConsentUse.id.in_(ids))).all() if ids else []
        if len(rows) != len(ids) or uses_digest(rows) != data.get("digest"):
            problems.append(
                ChainProblem(
                    "receipt_mismatch", receipt.chain_seq, receipt.id, "data uses differ from receipt"
                )
            )
    return problems
