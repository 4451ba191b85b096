"""Matching needs in batches writes exactly what matching them one after another writes.

The same world is built three times on the suite's database (emptied in between, identities
restarted): the needs matched and re-matched one per transaction by the per-need code as it was before
batches (kept here as the reference, built from the per-need services), then by `match_need` and
`rematch_need` (now batches of one), then in one batch each. Every row the matching writes (needs, leads, status events with their audit chain, notifications,
SMS, outbox jobs) is then compared column by column, timestamps aside, with a frozen clock so that the
hashes of the chain (which cover the events' times) are comparable too.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

import core.types
from core.audit import verify_chain
from core.db import Base
from core.models import StatusEvent
from matching.dispatch import (
    MatchContext,
    evaluate,
    load_match_context,
    match_need,
    match_needs,
    need_specs,
    push,
    put_requested_first,
)
from matching.models import Lead, NeedStatus
from matching.needs import submit_need
from matching.rematching import (
    REMATCH_STATUSES,
    product_probe,
    rematch_candidates,
    rematch_need,
    rematch_needs,
)
from matching.states import lock_need, need_event, set_need_status
from tests.conftest import IS_POSTGRES
from tests.factories import (
    BorrowerFactory,
    CreditScoreFactory,
    InstitutionFactory,
    ProductFactory,
    UserFactory,
    bind_factories,
)
from tests.matching.helpers import need_input

WRITTEN = ("needs", "leads", "status_events", "notifications", "outgoing_messages", "outbox_jobs")
FROZEN = dt.datetime(2026, 12, 1, 2, 30, tzinfo=dt.UTC)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every `utcnow()` the services call returns one moment."""
    real = core.types.utcnow
    for module in list(sys.modules.values()):
        if getattr(module, "utcnow", None) is real:
            monkeypatch.setattr(module, "utcnow", lambda: FROZEN)


def _bank(code: str, product: str, rate: str, *, officers: tuple[str | None, ...], **rules: Any) -> int:
    institution = InstitutionFactory(code=code, name=f"{product}银行")
    for phone in officers:
        UserFactory(officer=True, institution_id=institution.id, phone=phone)
    return ProductFactory(
        institution=institution, name=product, published=True, rate_min=Decimal(rate), **rules
    ).id


def _world(factory: sessionmaker[Session]) -> list[int]:
    """Five banks (officers with and without phones, none, an inactive one), borrowers scored with data,
    without data and not at all, with or without an applicant account; needs that match, one too
    large for any product, one for a requested product, one withdrawn. Returns the need ids."""
    with factory() as s:
        bind_factories(s)
        _bank("EQA", "甲贷", "3.50", officers=("13900000001", "13900000002", None))
        _bank("EQB", "乙贷", "3.60", officers=("13900000003",))
        requested = _bank("EQC", "丙贷", "3.70", officers=())
        _bank("EQD", "丁贷", "3.80", officers=("13900000004",), borrower_kinds=["farmer"])
        _bank("EQE", "戊贷", "3.40", officers=("13900000005",), min_score=700)
        UserFactory(officer=True, institution_id=None, active=False)
        scored, no_data, unscored = BorrowerFactory(), BorrowerFactory(), BorrowerFactory()
        farmer, silent = BorrowerFactory(farmer=True), BorrowerFactory()
        CreditScoreFactory(borrower_id=scored.id, score=760, grade="A")
        CreditScoreFactory(borrower_id=no_data.id, score=780, grade="A", no_data=True)
        users = {
            b.id: [UserFactory(borrower_id=b.id, phone=f"1380000000{i}").id for i in range(n)]
            for b, n in ((scored, 1), (no_data, 1), (unscored, 1), (farmer, 1), (silent, 0))
        }

        def submit(borrower: Any, amount: str = "500000", **kwargs: Any) -> int:
            actor = users[borrower.id][0] if users[borrower.id] else None
            return submit_need(
                s, borrower_id=borrower.id, data=need_input(amount), actor_id=actor, **kwargs
            ).id

        needs = [
            submit(scored),
            submit(no_data),
            submit(unscored, "60000000"),  # more than any product lends: unmatched
            submit(farmer),
            submit(silent),
            submit(scored, "300000", product_id=requested),
            submit(no_data, "200000"),
        ]
        s.flush()
        withdrawn = needs.pop()
        s.execute(text("UPDATE needs SET status = :s WHERE id = :id"), {"s": "withdrawn", "id": withdrawn})
        s.commit()
        return [*needs, withdrawn]


def _new_product(factory: sessionmaker[Session]) -> int:
    """A bank whose product lends enough for the large need: re-matching matches it and tops up others."""
    with factory() as s:
        bind_factories(s)
        product = _bank("EQF", "己贷", "3.00", officers=("13900000006",), max_amount=Decimal("100000000.00"))
        s.commit()
        return product


def _rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of the written tables, by id, without their timestamps."""
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    with engine.connect() as conn:
        return {
            name: [
                {
                    column.name: value
                    for column, value in zip(tables[name].columns, row, strict=True)
                    if not isinstance(value, dt.datetime)
                }
                for row in conn.execute(select(tables[name]).order_by(tables[name].c.id))
            ]
            for name in WRITTEN
        }


def _empty(engine: Engine) -> None:
    names = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
        else:
            for name in names:
                conn.execute(text(f'DELETE FROM "{name}"'))
            if conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first():
                conn.execute(text("DELETE FROM sqlite_sequence"))


def _match_as_before(s: Session, need_id: int, *, top_n: int, context: MatchContext) -> None:
    """`match_need` as it was before batches, from the per-need services: the reference."""
    need = lock_need(s, need_id)
    assert need is not None
    if need.status != NeedStatus.SUBMITTED:
        return
    specs = need_specs(s, need)[:2]
    result = put_requested_first(need, context, evaluate(s, need, context, limit=top_n, specs=specs), specs)
    need.dispatch_round = 1
    leads = push(s, need, context, result, round_no=1)
    set_need_status(
        s,
        need,
        NeedStatus.MATCHED if leads else NeedStatus.UNMATCHED,
        allowed_from=frozenset({NeedStatus.SUBMITTED}),
        actor_id=None,
        data={"leads": len(leads), "round": 1},
    )


def _rematch_as_before(
    s: Session, need_id: int, *, top_n: int, context: MatchContext, probe: Any, reason: str = "product"
) -> None:
    """`rematch_need` as it was before batches: the reference."""
    need = lock_need(s, need_id)
    if need is None or need.status not in REMATCH_STATUSES:
        return
    round_no = max(need.dispatch_round, 1)
    if need.open_to_all:
        room = max(context.institution_count, 1)
    else:
        in_round = s.scalar(
            select(func.count()).where(Lead.need_id == need.id, Lead.dispatch_round == round_no)
        )
        room = top_n - (in_round or 0)
    if room <= 0:
        return
    specs = need_specs(s, need)[:2]
    if probe is not None and not evaluate(s, need, probe, limit=0, specs=specs).eligible_count:
        return
    result = evaluate(s, need, context, limit=room, specs=specs)
    if not result.picks:
        return
    need.dispatch_round = round_no
    leads = push(s, need, context, result, round_no=round_no)
    if leads and need.status == NeedStatus.UNMATCHED:
        set_need_status(
            s,
            need,
            NeedStatus.MATCHED,
            allowed_from=frozenset({NeedStatus.UNMATCHED}),
            actor_id=None,
            data={"leads": len(leads), "round": round_no, "reason": reason},
        )
    elif leads:
        need_event(s, need, {"kind": "topped_up", "leads": len(leads), "reason": reason})


def _one_by_one(factory: sessionmaker[Session], *, as_before: bool) -> None:
    need_ids = _world(factory)
    # The catalogue and the institutions' records read once, as a batch reads them (a job reading them
    # again for each need would rank later needs on records that the earlier pushes changed).
    with factory() as s:
        context = load_match_context(s)
    for need_id in need_ids:  # one transaction each, as the single-need job
        with factory() as s:
            (_match_as_before if as_before else match_need)(s, need_id, top_n=3, context=context)
            s.commit()
    product_id = _new_product(factory)
    with factory() as s:
        candidates = rematch_candidates(s)
        context = load_match_context(s)
    probe = product_probe(context, product_id)
    for need_id in candidates:
        with factory() as s:
            (_rematch_as_before if as_before else rematch_need)(
                s, need_id, top_n=4, context=context, probe=probe
            )
            s.commit()


def _in_batches(factory: sessionmaker[Session]) -> None:
    need_ids = _world(factory)
    with factory() as s:
        matched = match_needs(s, need_ids, top_n=3)
        s.commit()
    assert sorted(matched) == sorted(need_ids[:-1])  # the withdrawn need is left alone
    product_id = _new_product(factory)
    with factory() as s:
        context = load_match_context(s)
        rematch_needs(
            s, rematch_candidates(s), top_n=4, context=context, probe=product_probe(context, product_id)
        )
        s.commit()


@pytest.mark.usefixtures("frozen_clock")
def test_a_batch_writes_the_rows_matching_one_need_after_another_writes(committed_db):
    engine, factory = committed_db
    _empty(engine)  # identities restarted: earlier tests' rolled-back rows used up sequence values
    _one_by_one(factory, as_before=True)
    expected = _rows(engine)
    _empty(engine)
    _one_by_one(factory, as_before=False)  # match_need and rematch_need: batches of one
    one_by_one = _rows(engine)
    _empty(engine)

    _in_batches(factory)
    written = _rows(engine)

    for table in WRITTEN:
        for rows in (one_by_one, written):
            assert len(rows[table]) == len(expected[table]), table
            for row, want in zip(rows[table], expected[table], strict=True):
                assert row == want, (table, {k: (v, want[k]) for k, v in row.items() if v != want[k]})
    # The world exercises what it is meant to: leads and SMS, both re-match outcomes, a skipped need.
    events = [(e["entity_type"], e["from_status"], e["to_status"]) for e in written["status_events"]]
    assert ("need", NeedStatus.SUBMITTED, NeedStatus.UNMATCHED) in events
    assert ("need", NeedStatus.UNMATCHED, NeedStatus.MATCHED) in events
    assert any((e["data"] or {}).get("kind") == "topped_up" for e in written["status_events"])
    assert len(written["leads"]) >= 10 and written["outgoing_messages"]
    assert {n["kind"] for n in written["notifications"]} == {"lead_status", "lead_pushed", "need_status"}
    with factory() as s:
        assert verify_chain(s).ok


@pytest.mark.slow
@pytest.mark.skipif(not IS_POSTGRES, reason="SQLite serialises writers; the race needs PostgreSQL")
def test_two_batches_racing_over_the_same_needs_match_each_need_once(committed_db):
    """Two transactions batch-match overlapping needs, listed in opposite orders: the locks are taken in
    id order (no deadlock), and a need the other batch matched first has left `submitted` and is
    skipped, so each need gets one round of leads and one status event."""
    _engine, factory = committed_db
    with factory() as s:
        bind_factories(s)
        for i, rate in enumerate(("3.50", "3.60", "3.70")):
            _bank(f"RC{i}", f"竞速贷{i}", rate, officers=("13900000009",))
        need_ids = []
        for _ in range(12):
            borrower = BorrowerFactory()
            need_ids.append(submit_need(s, borrower_id=borrower.id, data=need_input(), actor_id=None).id)
        s.commit()

    barrier = threading.Barrier(2)
    errors: list[Exception] = []
    matched: list[dict[int, Any]] = []

    def match(ids: list[int]) -> None:
        try:
            with factory() as s:
                barrier.wait()
                matched.append(match_needs(s, ids, top_n=3))
                s.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=match, args=(need_ids[:8],)),
        threading.Thread(target=match, args=(list(reversed(need_ids[4:])),)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(i for batch in matched for i in batch) == need_ids  # each need by one batch only
    with factory() as s:
        leads = s.execute(select(Lead.need_id, Lead.institution_id)).all()
        assert len(leads) == 36 and len(set(leads)) == 36
        moved = s.scalars(
            select(StatusEvent.entity_id).where(
                StatusEvent.entity_type == "need", StatusEvent.to_status == NeedStatus.MATCHED
            )
        ).all()
        assert sorted(moved) == need_ids
        assert verify_chain(s).ok
