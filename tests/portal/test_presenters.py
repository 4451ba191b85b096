"""Presenters run no queries: an applicant's needs and the uses of their data are read by the domain's
read models (matching.needs.need_views, matching.recipients.consent_use_views), then only shaped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from core.events import record_event
from credit_profile.consents import record_use
from matching.needs import list_needs, need_views
from matching.recipients import consent_use_views
from portal.presenters import need_dict, use_dict
from products.models import Institution
from tests.factories import BorrowerFactory, ConsentFactory, InstitutionFactory, LeadFactory, NeedFactory


@contextmanager
def statements(session) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_need_and_its_leads_are_shown_without_a_query(session):
    borrower = BorrowerFactory()
    need = NeedFactory(borrower=borrower, matched=True)
    first, second = LeadFactory(need=need), LeadFactory(need=need, claimed=True)
    record_event(session, entity_type="need", entity_id=need.id, need_id=need.id, to_status="matched")
    session.flush()
    session.expire_all()  # what a presenter would otherwise load lazily is not in the session

    rows, total = list_needs(session, borrower_id=borrower.id, page=1, per_page=10)
    (view,) = need_views(session, rows, with_events=True)
    with statements(session) as seen:
        shown = need_dict(view)

    assert seen == []
    assert total == 1 and [lead["id"] for lead in shown["leads"]] == [first.id, second.id]
    assert shown["leads"][1]["institution"]["name"] == session.get(Institution, second.institution_id).name
    assert [e["status"] for e in shown["events"]] == ["matched"]


def test_the_uses_of_the_data_are_shown_without_a_query(session):
    borrower = BorrowerFactory()
    consent = ConsentFactory(borrower_id=borrower.id)
    bank = InstitutionFactory()
    session.flush()
    record_use(
        session,
        borrower_id=borrower.id,
        action="institution_read",
        consent_id=consent.id,
        institution_id=bank.id,
    )
    session.expire_all()

    (view,) = consent_use_views(session, borrower.id)
    with statements(session) as seen:
        shown = use_dict(view)

    assert seen == []
    assert shown["institution"] == bank.name and shown["action"] == "institution_read"
