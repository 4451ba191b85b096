"""Every revision migrates up and down, and the models agree with the migrations (`alembic check`)."""

from __future__ import annotations

import os

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from core.db import make_engine
from portal.cli import alembic_config
from tests.conftest import _TMP, DATABASE_URL, IS_POSTGRES

pytestmark = pytest.mark.smoke


@pytest.fixture
def scratch_url():
    """A database of its own, so stepping down does not touch the shared test schema."""
    if IS_POSTGRES:
        base, _name = DATABASE_URL.rsplit("/", 1)
        admin = make_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS jihuitong_migrations_{os.getpid()} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE jihuitong_migrations_{os.getpid()}"))
        yield base + f"/jihuitong_migrations_{os.getpid()}"
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS jihuitong_migrations_{os.getpid()} WITH (FORCE)"))
        admin.dispose()
    else:
        path = _TMP / "migrations.db"
        path.unlink(missing_ok=True)
        yield f"sqlite:///{path}"


def test_each_revision_up_and_down_then_check(scratch_url):
    config = alembic_config(scratch_url)
    revisions = list(reversed(list(ScriptDirectory.from_config(config).walk_revisions())))
    assert revisions, "no migrations found"
    for revision in revisions:
        command.upgrade(config, revision.revision)
        command.downgrade(config, revision.down_revision or "base")
        command.upgrade(config, revision.revision)
    command.check(config)
    engine = make_engine(scratch_url)
    assert "needs" in inspect(engine).get_table_names()
    engine.dispose()
    command.downgrade(config, "base")
    engine = make_engine(scratch_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_revision_files_have_dated_names():
    config = alembic_config(DATABASE_URL)
    for revision in ScriptDirectory.from_config(config).walk_revisions():
        name = revision.path.rsplit("/", 1)[-1]
        assert name[:8].isdigit() and name[8] == "_", name
