"""The revisions that put the borrower's county, kind and industry on needs, leads and loans (83efecc28304)
and the first times a lead reached a step on leads and needs (1f3b5d7a9c2e) fill them from the rows and
events already there; the database then refuses a copy that differs from its borrower, keeps the times
as new events arrive, and the downgrade takes the columns away again without losing a row."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from core.db import make_engine
from portal.cli import alembic_config
from tests.migrations.scratch import insert_bank_and_product, scratch_database

pytestmark = pytest.mark.smoke

BEFORE = "7d2a9c4e1f86"
T0 = "2026-01-02 03:04:05"


def at(hour: int) -> str:
    return f"2026-01-02 {hour:02d}:00:00"


@pytest.fixture
def scratch_url():
    with scratch_database("statistics_columns") as url:
        yield url


def _rows(conn, sql: str) -> list[tuple]:
    return [tuple(row) for row in conn.execute(text(sql))]


def test_existing_rows_get_their_borrowers_attributes_and_first_times(scratch_url):
    config = alembic_config(scratch_url)
    command.upgrade(config, BEFORE)
    engine = make_engine(scratch_url)
    with engine.begin() as conn:
        insert_bank_and_product(conn, T0)
        for borrower_id, kind, region, code in (
            (1, "farmer", "360821", "A"),
            (2, "enterprise", "360802", "C39"),
        ):
            conn.execute(
                text(
                    "INSERT INTO borrowers (id, kind, name, region_code, industry_code, synthetic, created_at)"
                    " VALUES (:id, :kind, '主体', :region, :code, false, :t)"
                ),
                {"id": borrower_id, "kind": kind, "region": region, "code": code, "t": T0},
            )
        for need_id, borrower_id in ((10, 1), (11, 2)):
            conn.execute(
                text(
                    "INSERT INTO needs (id, borrower_id, amount, term_months, purpose, collateral,"
                    " declared_prior_loan, is_renewal, status, dispatch_round, open_to_all, submitted_at,"
                    " updated_at) VALUES (:id, :b, 50000, 12, '周转', 'credit', false, false, 'matched', 1, false,"
                    " :t, :t)"
                ),
                {"id": need_id, "b": borrower_id, "t": T0},
            )
        for lead_id, need_id, borrower_id in ((100, 10, 1), (101, 11, 2)):
            conn.execute(
                text(
                    "INSERT INTO leads (id, need_id, borrower_id, institution_id, product_id, status, dispatch_round,"
                    " rank, pushed_at, claimed_at, updated_at) VALUES (:id, :need, :b, 1, 1, 'disbursed', 1, 1,"
                    " :t, :t, :t)"
                ),
                {"id": lead_id, "need": need_id, "b": borrower_id, "t": T0},
            )
        conn.execute(
            text(
                "INSERT INTO loans (lead_id, need_id, borrower_id, institution_id, product_id, amount, rate,"
                " term_months, collateral, disbursed_on, first_loan_borrower, renewal_without_repayment,"
                " created_at) VALUES (100, 10, 1, 1, 1, 50000, 4.2, 12, 'credit', '2026-01-02', true, false, :t)"
            ),
            {"t": T0},
        )
        # Lead 100: contacted twice (the earlier counts), approved; lead 101: rejected when contacted.
        for entity_id, need_id, status, hour in (
            (100, 10, "contacted", 7), (100, 10, "contacted", 5), (100, 10, "approved", 9),
            (101, 11, "contacted", 6), (101, 11, "rejected", 8), (10, 10, "contacted", 1),
        ):  # fmt: skip
            conn.execute(
                text(
                    "INSERT INTO status_events (at, entity_type, entity_id, need_id, to_status)"
                    " VALUES (:at, :type, :id, :need, :status)"
                ),
                {"at": at(hour), "type": "lead" if entity_id >= 100 else "need", "id": entity_id,
                 "need": need_id, "status": status},
            )  # fmt: skip

    command.upgrade(config, "head")
    copies = (
        "SELECT borrower_id, region_code, borrower_kind, industry_code, industry_section FROM {} ORDER BY id"
    )
    with engine.connect() as conn:
        assert _rows(conn, copies.format("needs")) == [
            (1, "360821", "farmer", "A", "A"), (2, "360802", "enterprise", "C39", "C")
        ]  # fmt: skip
        assert _rows(conn, copies.format("leads")) == _rows(conn, copies.format("needs"))
        assert _rows(conn, copies.format("loans")) == [(1, "360821", "farmer", "A", "A")]
        leads = _rows(conn, "SELECT id, contacted_at, approved_at, decided_at FROM leads ORDER BY id")
        needs = _rows(conn, "SELECT id, contacted_at, approved_at FROM needs ORDER BY id")
    hours = [[None if v is None else int(str(v)[11:13]) for v in row[1:]] for row in leads + needs]
    assert hours == [[5, 9, 9], [6, None, 8], [5, 9], [6, None]]

    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE loans SET region_code = '360802'"))
    with engine.begin() as conn:  # a new event after the migration: the trigger keeps the time
        conn.execute(
            text(
                "INSERT INTO status_events (at, entity_type, entity_id, need_id, to_status)"
                " VALUES (:at, 'lead', 101, 11, 'contacted')"
            ),
            {"at": at(4)},
        )
    with engine.connect() as conn:
        assert [
            str(v)[11:13] for v in conn.execute(text("SELECT contacted_at FROM leads WHERE id = 101")).one()
        ] == ["04"]

    command.downgrade(config, BEFORE)
    for table in ("needs", "leads", "loans"):
        assert "region_code" not in {c["name"] for c in inspect(engine).get_columns(table)}
    with engine.connect() as conn:
        assert [conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in ("needs", "leads", "loans")] == [
            2, 2, 1
        ]  # fmt: skip
    engine.dispose()
