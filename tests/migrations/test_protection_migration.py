"""The encryption and audit-chain revision transforms existing rows, and its downgrade restores them."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from core import crypto
from core.audit import verify_chain
from core.db import make_engine
from portal.cli import alembic_config
from tests.migrations.scratch import scratch_database

pytestmark = pytest.mark.smoke

BEFORE, REVISION = "30e4e2a206ed", "429d8bcffa1d"
USCC, ID_NUMBER, PHONE = "91360802MA35ABCD0P", "360821198001010013", "13907961111"


@pytest.fixture
def scratch_url():
    with scratch_database("protection") as url:
        yield url


def test_existing_rows_are_encrypted_indexed_and_sealed(scratch_url):
    config = alembic_config(scratch_url)
    command.upgrade(config, BEFORE)
    engine = make_engine(scratch_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO borrowers (id, kind, name, uscc, id_number, region_code, industry_code, synthetic,"
                " created_at) VALUES (1, 'enterprise', '老企业', :u, NULL, '360802', 'C', false, :t),"
                " (2, 'farmer', '老农户', NULL, :i, '360821', 'A', false, :t)"
            ),
            {"u": USCC, "i": ID_NUMBER, "t": "2026-01-02 03:04:05.123456"},
        )
        conn.execute(
            text(
                "INSERT INTO users (id, username, password_hash, role, phone, borrower_id, active, created_at)"
                " VALUES (1, 'old_user', 'x', 'applicant', :p, 1, true, :t)"
            ),
            {"p": PHONE, "t": "2026-01-02 03:04:05"},
        )
        for i, status in enumerate(["submitted", "matched", "in_progress"], start=1):
            conn.execute(
                text(
                    "INSERT INTO status_events (id, at, entity_type, entity_id, need_id, to_status, note, data)"
                    " VALUES (:id, :at, 'need', 7, 7, :s, '迁移前', :d)"
                ),
                {
                    "id": i,
                    "at": f"2026-01-0{i} 08:00:00.000001",
                    "s": status,
                    "d": '{"round": 1, "leads": 2}',
                },
            )

    command.upgrade(config, REVISION)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT uscc, id_number, uscc_index, id_number_index FROM borrowers ORDER BY id")
        )
        (u, _none, u_index, _n2), (_none2, i, _n3, i_index) = rows.all()
        phone = conn.execute(text("SELECT phone FROM users")).scalar_one()
    keys = crypto.current()
    assert USCC not in u and keys.decrypt(u) == USCC and u_index == keys.blind_index(USCC)
    assert ID_NUMBER not in i and keys.decrypt(i) == ID_NUMBER and i_index == keys.blind_index(ID_NUMBER)
    assert PHONE not in phone and keys.decrypt(phone) == PHONE
    with Session(engine) as session:
        report = verify_chain(session)  # the application verifies what the migration sealed
        assert report.ok, report.problems
        assert report.rows == 3

    command.downgrade(config, BEFORE)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT uscc FROM borrowers WHERE id = 1")).scalar_one() == USCC
        assert conn.execute(text("SELECT id_number FROM borrowers WHERE id = 2")).scalar_one() == ID_NUMBER
        assert conn.execute(text("SELECT phone FROM users")).scalar_one() == PHONE
    engine.dispose()
