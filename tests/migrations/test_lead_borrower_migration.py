"""The revision that puts the borrower on leads fills it from each lead's need, the database then refuses
a lead whose borrower is not its need's, and the downgrade takes the column away again."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from core.db import make_engine
from portal.cli import alembic_config
from tests.migrations.scratch import insert_bank_and_product, scratch_database

pytestmark = pytest.mark.smoke

BEFORE, REVISION = "2f4115975448", "5b7e1c9d3a60"
NOW = "2026-01-02 03:04:05"


@pytest.fixture
def scratch_url():
    with scratch_database("lead_borrower") as url:
        yield url


def _lead(conn, lead_id: int, need_id: int, borrower_id: int | None = None) -> None:
    columns = "id, need_id, institution_id, product_id, status, dispatch_round, rank, pushed_at, updated_at"
    values = ":id, :need, 1, 1, 'pushed', 1, 1, :t, :t"
    if borrower_id is not None:
        columns, values = columns + ", borrower_id", values + ", :borrower"
    conn.execute(
        text(f"INSERT INTO leads ({columns}) VALUES ({values})"),
        {"id": lead_id, "need": need_id, "borrower": borrower_id, "t": NOW},
    )


def test_existing_leads_get_their_needs_borrower(scratch_url):
    config = alembic_config(scratch_url)
    command.upgrade(config, BEFORE)
    engine = make_engine(scratch_url)
    with engine.begin() as conn:
        insert_bank_and_product(conn, NOW)
        for borrower_id in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO borrowers (id, kind, name, region_code, industry_code, synthetic, created_at)"
                    " VALUES (:id, 'farmer', '农户', '360821', 'A', false, :t)"
                ),
                {"id": borrower_id, "t": NOW},
            )
        for need_id, borrower_id in ((10, 2), (11, 1), (12, 2), (13, 1), (14, 2)):
            conn.execute(
                text(
                    "INSERT INTO needs (id, borrower_id, amount, term_months, purpose, collateral,"
                    " declared_prior_loan, is_renewal, status, dispatch_round, open_to_all, submitted_at,"
                    " updated_at) VALUES (:id, :b, 50000, 12, '周转', 'credit', false, false, 'matched', 1, false,"
                    " :t, :t)"
                ),
                {"id": need_id, "b": borrower_id, "t": NOW},
            )
        for lead_id, need_id in ((100, 10), (101, 11), (102, 12), (103, 13)):
            _lead(conn, lead_id, need_id)

    command.upgrade(config, REVISION)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, borrower_id FROM leads ORDER BY id")).all()
    assert [tuple(row) for row in rows] == [(100, 2), (101, 1), (102, 2), (103, 1)]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _lead(conn, 104, 14, borrower_id=1)  # need 14 is borrower 2's
    with engine.begin() as conn:
        _lead(conn, 104, 14, borrower_id=2)

    command.downgrade(config, BEFORE)
    assert "borrower_id" not in {c["name"] for c in inspect(engine).get_columns("leads")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM leads")).scalar_one() == 5
    engine.dispose()
