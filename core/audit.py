"""The audit trail's hash chain: status events are sealed when their transaction commits, and verified.

Sealing gives each new row the next `chain_seq`, the previous row's hash as `prev_hash`, and `hash` =
SHA-256 over its content and `prev_hash`. Writers are serialised only for that last step, so the lock
is held for microseconds and never while the transaction waits for another row: on PostgreSQL a
transaction-scoped advisory lock, on SQLite the database write lock the transaction already holds.
Two transactions therefore never seal against the same predecessor, and the unique `chain_seq` and
`hash` columns would refuse a fork if they tried. PostgreSQL additionally refuses UPDATE of a sealed
row and any DELETE (trigger from the migration); `verify_chain` finds what was changed behind its back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, event, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from core.models import StatusEvent

GENESIS_HASH = "0" * 64
# pg_advisory_xact_lock key that serialises sealing ("jihuitong audit" folded into a bigint).
AUDIT_LOCK_KEY = 0x6A68_7400_A0D1
PENDING = "jihuitong.audit_pending"
HASHED_COLUMNS = (
    "id",
    "at",
    "actor_id",
    "entity_type",
    "entity_id",
    "need_id",
    "from_status",
    "to_status",
    "note",
    "data",
)
_table: Table = StatusEvent.__table__  # type: ignore[assignment]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return value


def event_hash(row: Mapping[str, Any] | RowMapping, *, chain_seq: int, prev_hash: str) -> str:
    """SHA-256 (hex) of the row's content, its position and its predecessor's hash, as canonical JSON."""
    content = {name: _plain(row[name]) for name in HASHED_COLUMNS}
    content["chain_seq"] = chain_seq
    content["prev_hash"] = prev_hash
    payload = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def mark_pending(session: Session) -> None:
    """Note that this session wrote status events, so its commit must seal them."""
    session.info[PENDING] = True


_SEAL = (
    update(_table)
    .where(_table.c.id == bindparam("event_id"))
    .values(chain_seq=bindparam("seq"), prev_hash=bindparam("prev"), hash=bindparam("digest"))
)


def seal_pending_events(session: Session) -> int:
    """Chain every unsealed status event visible to this transaction; returns how many were sealed."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    pending = session.execute(select(_table).where(_table.c.hash.is_(None)).order_by(_table.c.id)).mappings()
    rows = list(pending)
    if not rows:
        return 0
    last = session.execute(
        select(_table.c.chain_seq, _table.c.hash)
        .where(_table.c.hash.is_not(None))
        .order_by(_table.c.chain_seq.desc())
        .limit(1)
    ).first()
    seq, prev = (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)
    seals = []
    for row in rows:
        seq += 1
        digest = event_hash(row, chain_seq=seq, prev_hash=prev)
        seals.append({"event_id": row["id"], "seq": seq, "prev": prev, "digest": digest})
        prev = digest
    # One statement executed for every row (executemany: pipelined by psycopg), not one round trip each.
    session.execute(_SEAL, seals)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, StatusEvent):
            session.expire(obj, ["chain_seq", "prev_hash", "hash"])
    return len(rows)


@event.listens_for(Session, "before_commit")
def _seal_on_commit(session: Session) -> None:
    # A savepoint release is not the end of the transaction: seal only on the outermost commit, last,
    # so the lock is taken after every row lock the transaction needs and held only until commit.
    if not session.info.get(PENDING) or session.in_nested_transaction():
        return
    session.flush()
    seal_pending_events(session)
    session.info.pop(PENDING, None)


@dataclass(frozen=True)
class ChainProblem:
    """One inconsistency: `kind` is `unsealed`, `missing`, `broken_link`, `edited`, or against an
    anchor (core.anchors) `truncated` (the anchored row is gone: the newest rows were deleted) or
    `anchor_mismatch` (the row at an anchored position has another hash: the chain was rewritten)."""

    kind: str
    chain_seq: int | None
    event_id: int | None
    detail: str


@dataclass(frozen=True)
class ChainReport:
    rows: int
    head_seq: int
    head_hash: str
    problems: list[ChainProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


def _sealed_rows(session: Session) -> Iterator[RowMapping]:
    result = session.execute(
        select(_table).where(_table.c.hash.is_not(None)).order_by(_table.c.chain_seq),
        execution_options={"yield_per": 1000},
    )
    yield from result.mappings()


def verify_chain(session: Session, *, anchors: Mapping[int, str] | None = None) -> ChainReport:
    """Recompute the whole chain. Every row must be sealed, numbered 1..N without gaps, linked to its
    predecessor and hash to its stored hash; a deleted row shows as `missing`, an edited one as `edited`
    (or a `broken_link` after it). Deleting the newest rows is only visible against a recorded head:
    pass `anchors` (chain_seq -> hash, core.anchors.read_anchors) to check them.
    """
    anchors = anchors or {}
    unsealed = session.scalars(select(_table.c.id).where(_table.c.hash.is_(None)).order_by(_table.c.id))
    problems = [
        ChainProblem("unsealed", None, event_id, "row written without going through the audit service")
        for event_id in unsealed
    ]
    expected_seq, prev, rows = 1, GENESIS_HASH, 0
    for row in _sealed_rows(session):
        rows += 1
        seq = int(row["chain_seq"])
        if seq != expected_seq:
            problems.append(
                ChainProblem("missing", expected_seq, None, f"rows {expected_seq}..{seq - 1} are gone")
            )
        if row["prev_hash"] != prev:
            problems.append(ChainProblem("broken_link", seq, row["id"], "prev_hash does not match"))
        if event_hash(row, chain_seq=seq, prev_hash=row["prev_hash"]) != row["hash"]:
            problems.append(ChainProblem("edited", seq, row["id"], "content does not match its hash"))
        if seq in anchors and anchors[seq] != row["hash"]:
            problems.append(ChainProblem("anchor_mismatch", seq, row["id"], "hash differs from its anchor"))
        expected_seq, prev = seq + 1, row["hash"]
    head = expected_seq - 1
    if anchors and max(anchors) > head:
        problems.append(
            ChainProblem(
                "truncated", max(anchors), None, f"rows after #{head} up to #{max(anchors)} are gone"
            )
        )
    return ChainReport(rows=rows, head_seq=head, head_hash=prev, problems=problems)
