"""push() writes set-based: one INSERT per table for all of a need's picks, whatever their number; and
matching a batch of needs sends the same statements whatever the number of needs in the batch."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from core.models import Notification, OutboxJob, OutgoingMessage, StatusEvent
from matching.dispatch import evaluate, load_match_context, match_needs, push
from matching.models import Lead
from matching.notices import officers
from matching.rematching import rematch_needs
from tests.matching.helpers import applicant, bank, submit

WRITTEN = ("leads", "status_events", "notifications", "outgoing_messages", "outbox_jobs")


@contextmanager
def _listening(session: Session, count: Callable[..., None]) -> Iterator[None]:
    """`count` called before every statement the session's engine sends, while the block runs."""
    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", count)


@contextmanager
def inserts(session: Session) -> Iterator[Counter[str]]:
    """Statements that insert into each table, counted as the driver is called (a statement sent
    with executemany counts once per row, as the database runs it once per row)."""
    counts: Counter[str] = Counter()

    def count(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool
    ) -> None:
        match = re.match(r'\s*INSERT INTO "?(\w+)"?', statement)
        if match:
            per_row = (
                executemany
                and isinstance(parameters, list)
                and isinstance(parameters[0], dict | tuple | list)
            )
            counts[match[1]] += len(parameters) if per_row else 1

    with _listening(session, count):
        yield counts


@contextmanager
def statements(session: Session) -> Iterator[Counter[str]]:
    """Statements sent to the database, by verb and first table named (an executemany counts once:
    psycopg pipelines it)."""
    counts: Counter[str] = Counter()

    def count(
        _conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, _executemany: bool
    ) -> None:
        table = re.search(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)', statement)
        counts[f"{statement.split(None, 1)[0].upper()} {table[1] if table else ''}"] += 1

    with _listening(session, count):
        yield counts


# Matching a batch: lock the needs; read their borrowers, scores and leads so far; write the rounds and
# explanations (one UPDATE executed for every need), the leads, all events, one read of the people to
# tell, their notifications, SMS and delivery jobs, the needs' statuses (one UPDATE per pair of
# statuses: here every need goes from submitted to matched).
BATCH_STATEMENTS = {
    "SELECT needs": 1,
    "SELECT borrowers": 1,
    "SELECT credit_scores": 1,
    "SELECT leads": 1,
    "UPDATE needs": 2,
    "INSERT leads": 1,
    "INSERT status_events": 1,
    "SELECT users": 1,
    "INSERT notifications": 1,
    "INSERT outgoing_messages": 1,
    "INSERT outbox_jobs": 1,
}
# Re-matching a batch: the same, less the status UPDATE when no need changes status (all topped up).
REMATCH_STATEMENTS = {**BATCH_STATEMENTS, "UPDATE needs": 1}


def test_a_batch_of_needs_is_matched_and_rematched_with_as_many_statements_whatever_its_size(session):
    for rate in ("3.50", "3.60", "3.70"):
        bank(rate, officers=2)
    small = [submit(session, *(p.id for p in applicant())) for _ in range(2)]
    large = [submit(session, *(p.id for p in applicant())) for _ in range(6)]
    session.flush()
    context = load_match_context(session)
    counted = []
    for batch in (small, large):
        with statements(session) as counts:
            matched = match_needs(session, [n.id for n in batch], top_n=2, context=context)
            session.flush()
        assert [len(matched[n.id]) for n in batch] == [2] * len(batch)
        counted.append(dict(counts))
    bank("3.20", officers=1)
    context = load_match_context(session)
    for batch in (small, large):
        with statements(session) as counts:
            created = rematch_needs(session, [n.id for n in batch], top_n=3, context=context)
            session.flush()
        assert len(created) == len(batch)
        counted.append(dict(counts))

    assert counted == [BATCH_STATEMENTS, BATCH_STATEMENTS, REMATCH_STATEMENTS, REMATCH_STATEMENTS]


def test_push_writes_each_table_in_one_statement_for_all_picks(session):
    for rate in ("3.50", "3.60", "3.70", "3.80"):
        bank(rate, officers=2)
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    need.dispatch_round = 1
    context = load_match_context(session)
    result = evaluate(session, need, context, limit=4)
    session.flush()
    before = {
        model: session.scalar(select(func.count()).select_from(model))
        for model in (StatusEvent, Notification, OutgoingMessage, OutboxJob)
    }

    with inserts(session) as counts:
        leads = push(session, need, context, result, round_no=1)

    assert len(leads) == 4
    assert {table: counts[table] for table in WRITTEN} == dict.fromkeys(WRITTEN, 1)
    after = {model: session.scalar(select(func.count()).select_from(model)) for model in before}
    written = {model.__name__: after[model] - before[model] for model in before}
    # Per lead: its event, the applicant's and two officers' notifications, two SMS and their jobs.
    assert written == {"StatusEvent": 4, "Notification": 12, "OutgoingMessage": 8, "OutboxJob": 8}
    assert session.scalar(select(func.count()).where(Lead.need_id == need.id)) == 4


def test_each_pushed_lead_gets_its_own_event_notifications_and_messages_in_pick_order(session):
    for rate in ("3.50", "3.60", "3.70"):
        bank(rate, officers=2)
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    need.dispatch_round = 1
    context = load_match_context(session)
    result = evaluate(session, need, context, limit=3)

    leads = push(session, need, context, result, round_no=1)

    assert [lead.institution_id for lead in leads] == [pick.institution_id for pick in result.picks]
    events = session.scalars(
        select(StatusEvent).where(StatusEvent.entity_type == "lead").order_by(StatusEvent.id)
    ).all()
    # Event ids ascend in pick order: the commit chains them in that order.
    assert [e.entity_id for e in events] == [lead.id for lead in leads]
    for lead, pushed in zip(leads, events, strict=True):
        product = context.products[lead.product_id]
        assert pushed.data == {
            "institution": product.institution_name,
            "product": product.spec.name,
            "round": 1,
        }
        told = session.scalars(select(Notification).where(Notification.lead_id == lead.id)).all()
        assert {(n.kind, n.event_id) for n in told} == {
            ("lead_status", pushed.id),
            ("lead_pushed", pushed.id),
        }
        assert sorted(n.user_id for n in told if n.kind == "lead_pushed") == sorted(
            u.id for u in officers(session, lead.institution_id)
        )
        sms = session.scalars(
            select(OutgoingMessage).where(OutgoingMessage.dedup_key.startswith(f"lead_pushed:{lead.id}:"))
        ).all()
        assert len(sms) == 2 and all(product.spec.name in m.body for m in sms)
        jobs = session.scalars(select(OutboxJob.payload).where(OutboxJob.name == "deliver_message")).all()
        assert all({"message_id": m.id} in jobs for m in sms)
