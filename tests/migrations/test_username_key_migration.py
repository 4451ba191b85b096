"""The revision that keys usernames fills `username_key` for existing accounts, refuses with a message
in Chinese and English when two existing names collide once normalised, and the index then refuses a
second spelling of a taken name."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from core.db import make_engine
from portal.cli import alembic_config
from tests.migrations.scratch import scratch_database

pytestmark = pytest.mark.smoke

BEFORE, REVISION = "c41e7a2b9d15", "5b7d9e1f3a24"
NOW = "2026-01-02 03:04:05"


@pytest.fixture
def scratch_url():
    with scratch_database("username_key") as url:
        yield url


def _user(conn, user_id: int, username: str) -> None:
    """A row with every NOT NULL column of `users` given a plain value (the schema as of BEFORE)."""
    columns = {c["name"]: c for c in inspect(conn).get_columns("users")}
    values: dict[str, object] = {"id": user_id, "username": username}
    for name, column in columns.items():
        if name in values or column["nullable"] or column.get("default") is not None:
            continue
        kind = str(column["type"]).upper()
        if "BOOL" in kind:
            values[name] = False
        elif "INT" in kind:
            values[name] = 0
        elif "TIME" in kind or "DATE" in kind:
            values[name] = NOW
        else:
            values[name] = "x"
    names = ", ".join(values)
    params = ", ".join(f":{n}" for n in values)
    conn.execute(text(f"INSERT INTO users ({names}) VALUES ({params})"), values)


def test_existing_usernames_are_keyed_and_the_key_is_unique(scratch_url):
    config = alembic_config(scratch_url)
    command.upgrade(config, BEFORE)
    engine = make_engine(scratch_url)
    with engine.begin() as conn:
        _user(conn, 1, "Alice")
        _user(conn, 2, "bob_1")
    command.upgrade(config, REVISION)
    with engine.begin() as conn:
        keys = dict(conn.execute(text("SELECT username, username_key FROM users")).all())
    assert keys == {"Alice": "alice", "bob_1": "bob_1"}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE users SET username_key = 'alice' WHERE id = 2"))
    command.downgrade(config, BEFORE)
    with engine.connect() as conn:
        assert "username_key" not in {c["name"] for c in inspect(conn).get_columns("users")}
    engine.dispose()


def test_colliding_usernames_stop_the_upgrade_loudly(scratch_url):
    config = alembic_config(scratch_url)
    command.upgrade(config, BEFORE)
    engine = make_engine(scratch_url)
    with engine.begin() as conn:
        _user(conn, 1, "admin")
        _user(conn, 2, "ＡＤＭＩＮ")  # full-width, stored before usernames were normalised
    # The upgrade on a connection of ours, closed here even though the upgrade raises.
    with pytest.raises(RuntimeError) as failure, engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, REVISION)
    message = str(failure.value)
    assert "用户名规范化" in message and "Usernames collide" in message
    assert "'admin'" in message and "'ＡＤＭＩＮ'" in message
    engine.dispose()
