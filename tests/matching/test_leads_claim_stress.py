"""20 officers claim the same lead at once, 100 times over: exactly one wins every round.

Runs at the service level on committed data, each thread with its own session and connection, on the
suite's database (PostgreSQL in CI) and on an SQLite file database in WAL mode.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from core.audit import verify_chain
from core.db import make_engine
from core.models import StatusEvent
from matching.errors import AlreadyClaimedError
from matching.leads import claim_lead
from matching.models import Lead, LeadStatus, Need, NeedStatus
from tests.conftest import _TMP, reset_schema
from tests.counts import report
from tests.factories import (
    BorrowerFactory,
    InstitutionFactory,
    LeadFactory,
    ProductFactory,
    UserFactory,
    bind_factories,
)

pytestmark = pytest.mark.slow

THREADS = 20
ROUNDS = 100


@pytest.fixture
def sqlite_wal_db():
    path = _TMP / "claims-wal.db"
    path.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    reset_schema(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    yield engine, sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture(params=["suite_database", "sqlite_wal"])
def claim_db(request):
    if request.param == "suite_database":
        engine, _factory = request.getfixturevalue("committed_db")
        # A pool as large as the crowd, so that every thread really holds its own connection at once.
        engine = make_engine(str(engine.url.render_as_string(hide_password=False)), pool_size=THREADS + 2)
    else:
        engine, _factory = request.getfixturevalue("sqlite_wal_db")
    yield engine, sessionmaker(bind=engine, expire_on_commit=False)
    if request.param == "suite_database":
        engine.dispose()


def _world(factory: sessionmaker[Session], rounds: int) -> tuple[int, list[int], list[int]]:
    """A bank with THREADS officers and `rounds` needs, each pushed to it as one lead."""
    with factory() as s:
        bind_factories(s)
        bank = InstitutionFactory(code="STRESS", name="压力测试银行")
        product = ProductFactory(institution=bank, name="压力贷", published=True)
        borrower = BorrowerFactory(name="压力测试企业")
        officers = [
            UserFactory(username=f"stress_officer{i}", officer=True, institution_id=bank.id)
            for i in range(THREADS)
        ]
        lead_ids = [LeadFactory(product=product, need__borrower=borrower).id for _ in range(rounds)]
        s.commit()
        return bank.id, [o.id for o in officers], lead_ids


def test_twenty_threads_hundred_rounds_one_winner_each(claim_db):
    engine, factory = claim_db
    bank_id, officer_ids, lead_ids = _world(factory, ROUNDS)
    barrier = threading.Barrier(THREADS)
    outcomes: dict[int, list[tuple[int, str]]] = {lead_id: [] for lead_id in lead_ids}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def officer(officer_id: int) -> None:
        for lead_id in lead_ids:
            try:
                barrier.wait(timeout=60)
            except threading.BrokenBarrierError:
                return
            with factory() as s:
                try:
                    claim_lead(s, lead_id, officer_id=officer_id, institution_id=bank_id)
                    s.commit()
                    result = "won"
                except AlreadyClaimedError:
                    s.rollback()
                    result = "lost"
                except BaseException as exc:
                    s.rollback()
                    with lock:
                        errors.append(exc)
                    barrier.abort()
                    return
            with lock:
                outcomes[lead_id].append((officer_id, result))

    threads = [threading.Thread(target=officer, args=(oid,)) for oid in officer_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]

    rounds_run = sum(1 for results in outcomes.values() if len(results) == THREADS)
    winners = Counter(sum(1 for _oid, r in results if r == "won") for results in outcomes.values())
    report("claim stress", f"{engine.dialect.name} rounds run ({THREADS} threads each)", rounds_run)
    assert rounds_run == ROUNDS
    assert winners == {1: ROUNDS}, winners

    with factory() as s:
        for lead_id, results in outcomes.items():
            (winner,) = [oid for oid, r in results if r == "won"]
            lead = s.get(Lead, lead_id)
            assert lead is not None
            assert (lead.status, lead.claimed_by) == (LeadStatus.CLAIMED, winner)
            need = s.get(Need, lead.need_id)
            assert need is not None and need.status == NeedStatus.IN_PROGRESS
        claimed_events = s.scalar(
            select(func.count()).where(StatusEvent.entity_type == "lead", StatusEvent.to_status == "claimed")
        )
        in_progress_events = s.scalar(
            select(func.count()).where(
                StatusEvent.entity_type == "need", StatusEvent.to_status == "in_progress"
            )
        )
        assert (claimed_events, in_progress_events) == (ROUNDS, ROUNDS)
        # Every winner wrote two audit rows at the same moment as 19 losers raced: one unforked chain.
        chain = verify_chain(s)
        assert chain.ok, chain.problems[:5]
        assert chain.rows == 2 * ROUNDS
        if engine.dialect.name == "sqlite":
            assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
