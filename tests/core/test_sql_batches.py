"""Set-based writes (core.sql): many rows in one statement, written in their order, and many rows updated
each by its key, on the suite's database (PostgreSQL in CI, where they are one statement each)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, text

from core.models import StatusEvent
from core.sql import ordered_insert, update_by_key
from core.types import utcnow
from matching.models import Lead, Need
from tests.conftest import IS_POSTGRES
from tests.factories import LeadFactory, NeedFactory, ProductFactory


def _events(entity_ids: list[int]) -> list[dict[str, object]]:
    now = utcnow()
    return [
        {
            "entity_type": "lead",
            "entity_id": entity_id,
            "from_status": None,
            "to_status": "pushed",
            "actor_id": None,
            "need_id": None,
            "note": "备注" if entity_id % 2 else None,
            "data": {"round": entity_id, "机构": "吉安农商"} if entity_id % 3 else None,
            "at": now,
        }
        for entity_id in entity_ids
    ]


def test_rows_are_written_in_their_order_with_their_values(session) -> None:
    order = [907, 3, 55, 12, 1, 40, 8]
    rows = _events(order)
    stmt, params = ordered_insert(session, StatusEvent, rows)
    ids = sorted(
        session.scalars(stmt.returning(StatusEvent.id), params, execution_options={"render_nulls": True})
    )
    written = session.execute(
        select(StatusEvent.entity_id, StatusEvent.note, StatusEvent.data).where(StatusEvent.id.in_(ids))
        .order_by(StatusEvent.id)
    ).all()  # fmt: skip
    assert [w.entity_id for w in written] == order  # ids ascend in the order given
    assert [(w.note, w.data) for w in written] == [(r["note"], r["data"]) for r in rows]
    # A None in a JSON column is JSON null, as the ORM writes it (the audit chain hashes what is stored).
    stored = session.execute(
        text("SELECT data IS NULL FROM status_events WHERE entity_id = 3 AND id = ANY(:ids)")
        if IS_POSTGRES
        else text("SELECT data IS NULL FROM status_events WHERE entity_id = 3"),
        {"ids": ids} if IS_POSTGRES else {},
    ).scalar()
    assert stored is False or stored == 0


def test_rows_whose_key_is_taken_are_skipped(session) -> None:
    lead = LeadFactory()
    other = ProductFactory(published=True)
    session.flush()
    base = {c: getattr(lead, c) for c in ("borrower_id", "region_code", "borrower_kind", "industry_code")}
    now = utcnow()
    rows = [
        {**base, "need_id": lead.need_id, "institution_id": inst, "product_id": product, "status": "pushed",
         "dispatch_round": 1, "rank": rank, "explanation": {}, "pushed_at": now, "updated_at": now, "sla_due_at": now}
        for rank, (inst, product) in enumerate(
            [(lead.institution_id, lead.product_id), (other.institution_id, other.id)], start=1
        )
    ]  # fmt: skip
    stmt, params = ordered_insert(session, Lead, rows, skip_conflicts_on=("need_id", "institution_id"))
    written = session.scalars(stmt.returning(Lead), params).all()
    assert [(w.institution_id, w.rank) for w in written] == [(other.institution_id, 2)]


def test_rows_are_updated_each_by_its_key(session) -> None:
    needs = [NeedFactory(amount=Decimal("100000")) for _ in range(4)]
    session.flush()
    changes = [(n.id, i + 2, {"eligible_count": i, "说明": f"第{i}个"}) for i, n in enumerate(needs)]
    done = update_by_key(session, Need.__table__, "id", ("dispatch_round", "match_summary"), changes)
    assert done is IS_POSTGRES  # one statement on PostgreSQL; elsewhere the caller lets the ORM write
    if done:
        session.expire_all()
        got = session.execute(
            select(Need.id, Need.dispatch_round, Need.match_summary).where(Need.id.in_([n.id for n in needs]))
        ).all()
        assert sorted(got) == sorted(changes)
    assert update_by_key(session, Need.__table__, "id", ("dispatch_round",), [(needs[0].id, 9)]) is False
