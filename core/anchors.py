"""Anchors of the audit chain: its head written periodically outside the chain.

Deleting the newest status events leaves a chain that is shorter but consistent, which `verify_chain`
cannot tell from a chain that never grew. So the head (`chain_seq`, `hash`) is appended, whenever it
has moved, to a JSON-lines file (AUDIT_ANCHOR_FILE, default `instance/audit-anchors.jsonl`; keep it,
or ship it, where the database's users cannot write) and to the log (logger `jihuitong.audit`, which
goes wherever the operator's log collection sends it). `verify_chain(..., anchors=read_anchors(path))`
then requires every anchored row to exist with its anchored hash.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import StatusEvent

log = logging.getLogger("jihuitong.audit")
DEFAULT_ANCHOR_FILE = "instance/audit-anchors.jsonl"


@dataclass(frozen=True)
class Anchor:
    chain_seq: int
    hash: str
    at: dt.datetime


def anchor_file() -> Path:
    return Path(os.environ.get("AUDIT_ANCHOR_FILE") or DEFAULT_ANCHOR_FILE)


def read_anchors(path: Path) -> dict[int, str]:
    """chain_seq -> hash of every anchor in the file ({} when there is none). Malformed lines are
    skipped: a damaged file weakens the check, it cannot make a tampered chain pass."""
    anchors: dict[int, str] = {}
    if not path.exists():
        return anchors
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            anchors[int(entry["chain_seq"])] = str(entry["hash"])
        except (ValueError, KeyError, TypeError):
            continue
    return anchors


def anchor_head(session: Session, path: Path) -> Anchor | None:
    """Append the chain's current head to `path` and the log, unless it is already the last anchor.
    Returns the new anchor, or None (empty chain, or the head has not moved)."""
    head = session.execute(
        select(StatusEvent.chain_seq, StatusEvent.hash)
        .where(StatusEvent.hash.is_not(None))
        .order_by(StatusEvent.chain_seq.desc())
        .limit(1)
    ).first()
    if head is None or head[0] is None or head[1] is None:
        return None
    anchors = read_anchors(path)
    if anchors and max(anchors) == head[0] and anchors[head[0]] == head[1]:
        return None
    anchor = Anchor(int(head[0]), str(head[1]), dt.datetime.now(dt.UTC))
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"chain_seq": anchor.chain_seq, "hash": anchor.hash, "at": anchor.at.isoformat()}
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps(entry) + "\n")
        file.flush()
        os.fsync(file.fileno())
    log.info("audit chain head #%s %s", anchor.chain_seq, anchor.hash)
    return anchor
