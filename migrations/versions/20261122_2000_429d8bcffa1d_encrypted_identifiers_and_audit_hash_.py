"""Encrypted identifiers and contacts (with blind indexes) and the audit trail's hash chain.

Existing rows are transformed: USCCs, resident ID numbers and phone numbers are encrypted with the
first DATA_KEY (core.crypto; the key is needed only when there are rows), their blind indexes computed,
and existing status events sealed into the chain in id order. Downgrading decrypts them again.
On PostgreSQL a trigger makes status_events append-only (no DELETE, no UPDATE of a sealed row).

The chain hash is copied here, frozen, rather than imported, so that this revision keeps producing what
core.audit verifies even if the application's hashing changes later (tests check they agree).

Revision ID: 429d8bcffa1d
Revises: 8c33d228a455
Create Date: 2026-11-22 20:00:21.186146

"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision: str = "429d8bcffa1d"
down_revision: Union[str, Sequence[str], None] = "8c33d228a455"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

GENESIS_HASH = "0" * 64
HASHED_COLUMNS = (
    "id", "at", "actor_id", "entity_type", "entity_id", "need_id", "from_status", "to_status", "note", "data",
)  # fmt: skip

borrowers = sa.table(
    "borrowers",
    sa.column("id", sa.Integer()),
    sa.column("uscc", sa.Text()),
    sa.column("id_number", sa.Text()),
    sa.column("uscc_index", sa.String(64)),
    sa.column("id_number_index", sa.String(64)),
)
users = sa.table("users", sa.column("id", sa.Integer()), sa.column("phone", sa.Text()))
status_events = sa.table(
    "status_events",
    sa.column("id", sa.Integer()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor_id", sa.Integer()),
    sa.column("entity_type", sa.String(32)),
    sa.column("entity_id", sa.Integer()),
    sa.column("need_id", sa.Integer()),
    sa.column("from_status", sa.String(32)),
    sa.column("to_status", sa.String(32)),
    sa.column("note", sa.Text()),
    sa.column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    sa.column("chain_seq", sa.Integer()),
    sa.column("prev_hash", sa.String(64)),
    sa.column("hash", sa.String(64)),
)

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION status_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'status_events is append-only: rows cannot be deleted';
    END IF;
    IF OLD.hash IS NOT NULL THEN
        RAISE EXCEPTION 'status_events is append-only: sealed rows cannot be changed';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER status_events_append_only BEFORE UPDATE OR DELETE ON status_events
FOR EACH ROW EXECUTE FUNCTION status_events_append_only()
"""


def _keys() -> Any:
    from core import crypto

    try:
        return crypto.current()
    except crypto.DataKeyError:
        from core.settings import Settings

        return crypto.configure(Settings.from_env().data_keys)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # SQLite keeps UTC without an offset
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return value


def _event_hash(row: Any, chain_seq: int, prev_hash: str) -> str:
    content = {name: _plain(row[name]) for name in HASHED_COLUMNS}
    content["chain_seq"] = chain_seq
    content["prev_hash"] = prev_hash
    payload = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _encrypt_rows() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(borrowers.c.id, borrowers.c.uscc, borrowers.c.id_number)).all()
    phones = conn.execute(sa.select(users.c.id, users.c.phone).where(users.c.phone.is_not(None))).all()
    if not rows and not phones:
        return
    keys = _keys()
    for id_, uscc, id_number in rows:
        conn.execute(
            borrowers.update()
            .where(borrowers.c.id == id_)
            .values(
                uscc=keys.encrypt(uscc) if uscc else None,
                id_number=keys.encrypt(id_number) if id_number else None,
                uscc_index=keys.blind_index(uscc) if uscc else None,
                id_number_index=keys.blind_index(id_number) if id_number else None,
            )
        )
    for id_, phone in phones:
        conn.execute(users.update().where(users.c.id == id_).values(phone=keys.encrypt(phone)))


def _decrypt_rows() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(borrowers.c.id, borrowers.c.uscc, borrowers.c.id_number)).all()
    phones = conn.execute(sa.select(users.c.id, users.c.phone).where(users.c.phone.is_not(None))).all()
    if not rows and not phones:
        return
    keys = _keys()
    for id_, uscc, id_number in rows:
        conn.execute(
            borrowers.update()
            .where(borrowers.c.id == id_)
            .values(
                uscc=keys.decrypt(uscc) if uscc else None,
                id_number=keys.decrypt(id_number) if id_number else None,
            )
        )
    for id_, phone in phones:
        conn.execute(users.update().where(users.c.id == id_).values(phone=keys.decrypt(phone)))


def _seal_existing_events() -> None:
    conn = op.get_bind()
    prev = GENESIS_HASH
    rows = conn.execute(sa.select(status_events).order_by(status_events.c.id)).mappings().all()
    for seq, row in enumerate(rows, start=1):
        digest = _event_hash(row, seq, prev)
        conn.execute(
            status_events.update()
            .where(status_events.c.id == row["id"])
            .values(chain_seq=seq, prev_hash=prev, hash=digest)
        )
        prev = digest


def upgrade() -> None:
    with op.batch_alter_table("borrowers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uscc_index", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("id_number_index", sa.String(length=64), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_borrowers_id_number"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_borrowers_uscc"), type_="unique")
        batch_op.alter_column(
            "uscc", existing_type=sa.VARCHAR(length=18), type_=sa.Text(), existing_nullable=True
        )
        batch_op.alter_column(
            "id_number", existing_type=sa.VARCHAR(length=18), type_=sa.Text(), existing_nullable=True
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "phone", existing_type=sa.VARCHAR(length=32), type_=sa.Text(), existing_nullable=True
        )
    _encrypt_rows()
    with op.batch_alter_table("borrowers", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_borrowers_id_number_index"), ["id_number_index"])
        batch_op.create_unique_constraint(batch_op.f("uq_borrowers_uscc_index"), ["uscc_index"])

    with op.batch_alter_table("status_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _seal_existing_events()
    with op.batch_alter_table("status_events", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_status_events_chain_seq"), ["chain_seq"])
        batch_op.create_unique_constraint(batch_op.f("uq_status_events_hash"), ["hash"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER status_events_append_only ON status_events")
        op.execute("DROP FUNCTION status_events_append_only()")
    with op.batch_alter_table("status_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_status_events_hash"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_status_events_chain_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("chain_seq")

    with op.batch_alter_table("borrowers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_borrowers_uscc_index"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_borrowers_id_number_index"), type_="unique")
    _decrypt_rows()
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "phone", existing_type=sa.Text(), type_=sa.VARCHAR(length=32), existing_nullable=True
        )
    with op.batch_alter_table("borrowers", schema=None) as batch_op:
        batch_op.alter_column(
            "id_number", existing_type=sa.Text(), type_=sa.VARCHAR(length=18), existing_nullable=True
        )
        batch_op.alter_column(
            "uscc", existing_type=sa.Text(), type_=sa.VARCHAR(length=18), existing_nullable=True
        )
        batch_op.create_unique_constraint(batch_op.f("uq_borrowers_uscc"), ["uscc"])
        batch_op.create_unique_constraint(batch_op.f("uq_borrowers_id_number"), ["id_number"])
        batch_op.drop_column("id_number_index")
        batch_op.drop_column("uscc_index")
