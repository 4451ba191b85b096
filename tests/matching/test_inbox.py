"""matching.inbox: what an officer may see of the leads pushed to their institution, paged in SQL, in a fixed
number of statements whatever the page size."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.types import local_today
from credit_profile.models import Borrower, CreditScore
from matching.dispatch import match_need
from matching.errors import LeadNotFoundError
from matching.inbox import InboxFilter, officer_lead, officer_leads
from matching.lead_views import PerformanceView, size_band
from matching.leads import claim_lead, list_leads, report_performance, transition_lead
from matching.loans import LoanInput, loan_performance
from matching.models import LeadStatus
from tests.matching.helpers import applicant, bank, submit

pytestmark = pytest.mark.smoke
NAME = "名称保密测试企业"


def score(session: Session, borrower_id: int, grade: str = "C", at: dt.datetime | None = None) -> None:
    """A stored score (what the rescoring job writes), without scoring anything."""
    session.add(
        CreditScore(
            borrower_id=borrower_id, score=600, grade=grade, reasons=[], sources={}, model_version="test",
            **({"computed_at": at} if at else {}),
        )
    )  # fmt: skip


def test_the_inbox_lists_what_list_leads_lists_in_its_order_with_the_need_borrower_and_product(session):
    institution, product, [officer] = bank()
    _other, _other_product, _ = bank()
    needs = []
    for i, kind in enumerate(["enterprise", "individual_business", "farmer", "enterprise", "enterprise"]):
        borrower, user = applicant(region_code=["360802", "360821", "360881"][i % 3], kind=kind)
        needs.append(submit(session, borrower.id, user.id, amount=str(100_000 * (i + 1))))
        session.flush()
        match_need(session, needs[-1].id, top_n=3)
    mine = list_leads(session, institution_id=institution.id, limit=100)[0]
    claim_lead(session, mine[1].id, officer_id=officer.id, institution_id=institution.id)
    session.flush()

    for status in (None, "pushed", "claimed", "rejected"):
        for limit, offset in ((100, 0), (2, 0), (2, 2), (2, 4)):
            leads, total = list_leads(
                session, institution_id=institution.id, status=status, limit=limit, offset=offset
            )
            page = officer_leads(
                session,
                institution_id=institution.id,
                officer_id=officer.id,
                filters=InboxFilter(status=status),
                page=offset // limit + 1,
                per_page=limit,
            )
            rows, inbox_total = page.items, page.total
            assert inbox_total == total
            assert [r.id for r in rows] == [lead.id for lead in leads]
            for row, lead in zip(rows, leads, strict=True):
                assert (row.status, row.sla_due_at) == (lead.status, lead.sla_due_at)
                assert (row.amount, row.term_months) == (lead.need.amount, lead.need.term_months)
                assert (row.profile.kind, row.profile.region_code) == (
                    session.get(Borrower, lead.borrower_id).kind,
                    session.get(Borrower, lead.borrower_id).region_code,
                )
                assert row.product.name == product.name
    first = officer_leads(session, institution_id=institution.id, officer_id=officer.id)
    assert first.total == 5 and first.pages == 1
    assert {r.status for r in first.items} == {"pushed", "claimed"}
    past_the_end = officer_leads(
        session, institution_id=institution.id, officer_id=officer.id, page=9, per_page=2
    )
    assert (past_the_end.items, past_the_end.total, past_the_end.pages) == ((), 5, 3)


@pytest.fixture
def world(session):
    """One need pushed to two banks; the first has two officers (a claimant and a colleague)."""
    institution, _product, officers = bank(officers=2)
    other, _other_product, [stranger] = bank()
    borrower, user = applicant(name=NAME, kind="enterprise", employees=42)
    score(session, borrower.id, "B", dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    score(session, borrower.id, "A", dt.datetime(2024, 6, 1, tzinfo=dt.UTC))
    need = submit(session, borrower.id, user.id)
    session.flush()
    leads = {lead.institution_id: lead for lead in match_need(session, need.id, top_n=3)}
    session.flush()
    return institution, officers, other, stranger, leads, borrower, user


def _shows_identity(view, borrower) -> bool:
    return any(part in repr(view) for part in (borrower.name, borrower.uscc))


def test_before_the_claim_every_officer_sees_the_anonymised_profile_only(session, world):
    institution, officers, _other, _stranger, leads, borrower, _user = world
    view = officer_lead(
        session, leads[institution.id].id, institution_id=institution.id, officer_id=officers[0].id
    )
    assert view.profile.kind == "enterprise" and view.profile.region_code == borrower.region_code
    assert view.profile.size_band == size_band(42) == "small"
    assert view.profile.score_band == "A"  # the latest score's grade
    assert (view.borrower, view.purpose, view.contact_phone, view.claimed_by) == (None, None, None, None)
    assert not view.disclosed
    assert borrower.uscc and not _shows_identity(view, borrower)


def test_after_the_claim_the_claimant_sees_who_the_borrower_is_and_a_colleague_does_not(session, world):
    institution, (claimant, colleague), _other, _stranger, leads, borrower, user = world
    lead_id = leads[institution.id].id
    claim_lead(session, lead_id, officer_id=claimant.id, institution_id=institution.id)
    session.flush()

    mine = officer_lead(session, lead_id, institution_id=institution.id, officer_id=claimant.id)
    assert mine.disclosed and mine.borrower is not None
    assert (mine.borrower.name, mine.borrower.uscc, mine.borrower.employees) == (NAME, borrower.uscc, 42)
    assert mine.purpose == "采购原材料" and mine.contact_phone == user.phone == "13800000001"
    assert mine.claimed_by == claimant.username

    theirs = officer_lead(session, lead_id, institution_id=institution.id, officer_id=colleague.id)
    assert theirs.status == LeadStatus.CLAIMED and theirs.claimed_by == claimant.username
    assert (theirs.borrower, theirs.purpose, theirs.contact_phone) == (None, None, None)
    assert not _shows_identity(theirs, borrower)
    assert theirs.profile == mine.profile

    page = officer_leads(session, institution_id=institution.id, officer_id=colleague.id)
    assert [v.borrower for v in page.items] == [None]
    page = officer_leads(session, institution_id=institution.id, officer_id=claimant.id)
    assert page.items[0].borrower == mine.borrower


def test_an_officer_of_another_bank_sees_only_their_own_banks_lead(session, world):
    institution, (claimant, _colleague), other, stranger, leads, _borrower, _user = world
    claim_lead(session, leads[institution.id].id, officer_id=claimant.id, institution_id=institution.id)
    session.flush()
    with pytest.raises(LeadNotFoundError):
        officer_lead(session, leads[institution.id].id, institution_id=other.id, officer_id=stranger.id)
    # The claimant's id does not open another bank's lead either: the institution is part of the query.
    with pytest.raises(LeadNotFoundError):
        officer_lead(session, leads[other.id].id, institution_id=institution.id, officer_id=claimant.id)
    page = officer_leads(session, institution_id=other.id, officer_id=stranger.id)
    assert [v.id for v in page.items] == [leads[other.id].id]
    assert page.items[0].borrower is None and page.items[0].status == LeadStatus.PUSHED


def _disburse(session, institution, claimant, lead_id):
    """The claimant takes the lead to a loan of 400,000 disbursed today."""
    claim_lead(session, lead_id, officer_id=claimant.id, institution_id=institution.id)
    for step in ("contacted", "approved"):
        transition_lead(session, lead_id, to=step, officer_id=claimant.id, institution_id=institution.id)
    loan = LoanInput(
        amount=Decimal("400000"),
        rate=Decimal("3.85"),
        term_months=12,
        collateral="credit",
        disbursed_on=local_today(),
        first_loan_borrower=True,
        renewal_without_repayment=False,
    )
    transition_lead(
        session, lead_id, to="disbursed", officer_id=claimant.id, institution_id=institution.id, loan=loan
    )
    session.flush()


def _report(session, institution, officer, lead_id, *, overdue_30=False, overdue_90=False):
    """The officer reports the loan's performance as of today."""
    report_performance(
        session,
        lead_id,
        officer_id=officer.id,
        institution_id=institution.id,
        as_of=local_today(),
        overdue_30=overdue_30,
        overdue_90=overdue_90,
    )


def test_a_disbursed_lead_shows_its_loan_and_every_report_with_its_reporter(session, world):
    institution, (claimant, colleague), _other, _stranger, leads, _borrower, _user = world
    lead_id = leads[institution.id].id
    _disburse(session, institution, claimant, lead_id)
    for officer in (claimant, colleague):
        _report(session, institution, officer, lead_id)
    session.flush()
    view = officer_lead(session, lead_id, institution_id=institution.id, officer_id=colleague.id)
    assert view.loan is not None and (view.loan.amount, view.loan.rate) == (
        Decimal("400000"),
        Decimal("3.85"),
    )
    assert [r.reported_by for r in view.loan.performance] == [claimant.username, colleague.username]
    assert {r.lead_id for r in view.loan.performance} == {lead_id}
    assert view.borrower is None  # the loan is the institution's; the identity is still the claimant's


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = session.get_bind().engine

    def listener(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


TABLES = ("leads", "needs", "borrowers", "products", "institutions", "users", "loans", "credit_scores")


def _tables(statement: str) -> set[str]:
    return {table for table in (*TABLES, "loan_performance") if re.search(rf"\b{table}\b", statement)}


def test_a_page_is_read_in_the_same_statements_whatever_its_size_and_paged_in_sql(session):
    institution, _product, [officer] = bank()
    for i in range(12):
        borrower, user = applicant(employees=i)
        score(session, borrower.id)
        need = submit(session, borrower.id, user.id, amount=str(100_000 + i))
        session.flush()
        match_need(session, need.id, top_n=3)
    session.flush()
    leads = list_leads(session, institution_id=institution.id, limit=100)[0]
    for lead in leads[:3]:
        claim_lead(session, lead.id, officer_id=officer.id, institution_id=institution.id)
    session.flush()

    counts = {}
    for per_page in (1, 5, 12):
        with statements(session) as seen:
            page = officer_leads(
                session, institution_id=institution.id, officer_id=officer.id, per_page=per_page
            )
        assert len(page.items) == per_page and page.total == 12
        counts[per_page] = len(seen)
        [statement] = seen  # leads with all they refer to one to one, counted, limited: one statement
        assert _tables(statement) == {*TABLES, "loan_performance"}  # the loans' reports in the same row
        # The page is cut by the statement itself (its own LIMIT and OFFSET, not a subquery's).
        assert re.search(r"leads\.updated_at DESC, leads\.id DESC\s+LIMIT \S+ OFFSET \S+$", statement)
        assert re.search(r"count\(\*\) OVER \(\)", statement)
    assert counts == {1: 1, 5: 1, 12: 1}


# --- the workbench: deadline order, filters, search (issue 14) -----------------------------------


def _inbox(session, institution, officer, **filters):
    page = officer_leads(
        session, institution_id=institution.id, officer_id=officer.id, filters=InboxFilter(**filters)
    )
    return [lead.id for lead in page.items]


def test_the_inbox_puts_the_earliest_deadline_first_then_leads_in_hand_then_finished_ones(session):
    from tests.factories import LeadFactory, ProductFactory

    institution, product, [officer] = bank()
    now = dt.datetime.now(dt.UTC)
    later = LeadFactory(product=product, sla_due_at=now + dt.timedelta(hours=5))
    overdue = LeadFactory(product=product, sla_due_at=now - dt.timedelta(hours=1))
    soon = LeadFactory(product=product, sla_due_at=now + dt.timedelta(hours=1))
    in_hand = LeadFactory(product=product, claimed=True, claimed_by=officer.id)
    done = LeadFactory(product=product, disbursed=True, claimed_by=officer.id)
    other_product = ProductFactory(institution=institution, published=True)
    LeadFactory(product=other_product, sla_due_at=now + dt.timedelta(hours=9))
    ids = _inbox(session, institution, officer)
    assert ids[:5] == [overdue.id, soon.id, later.id, ids[3], in_hand.id] and ids[-1] == done.id
    assert _inbox(session, institution, officer, mine=True) == [in_hand.id, done.id]
    assert _inbox(session, institution, officer, product_id=other_product.id) == [ids[3]]
    assert _inbox(session, institution, officer, status="disbursed") == [done.id]


def test_the_inbox_filters_by_county_and_amount(session):
    institution, _product, [officer] = bank()
    ids = {}
    for region, amount in (("360802", "100000"), ("360821", "500000"), ("360821", "2000000")):
        borrower, user = applicant(region_code=region)
        need = submit(session, borrower.id, user.id, amount=amount)
        match_need(session, need.id, top_n=3)
        ids[(region, amount)] = need.id
    session.flush()
    page = officer_leads(
        session,
        institution_id=institution.id,
        officer_id=officer.id,
        filters=InboxFilter(
            region_code="360821", amount_min=Decimal("500000"), amount_max=Decimal("1000000")
        ),
    )
    assert [lead.need_id for lead in page.items] == [ids[("360821", "500000")]]


def test_search_finds_only_the_officers_own_claimed_leads_by_name_phone_or_uscc_tail(session):
    institution, _product, [officer, colleague] = bank(officers=2)
    leads = {}
    for n, name in enumerate(("赣江种植合作社", "井冈山茶业有限公司")):
        borrower, user = applicant(name=name)
        user.phone = f"1390796{n:04d}"
        need = submit(session, borrower.id, user.id)
        [lead] = match_need(session, need.id, top_n=3)
        leads[name] = (lead, borrower)
    session.flush()
    mine, theirs = leads["赣江种植合作社"][0], leads["井冈山茶业有限公司"][0]
    # Before any claim, nothing is found by name: an anonymous lead is not identified by searching.
    assert _inbox(session, institution, officer, q="赣江") == []
    claim_lead(session, mine.id, officer_id=officer.id, institution_id=institution.id)
    claim_lead(session, theirs.id, officer_id=colleague.id, institution_id=institution.id)
    session.flush()
    assert _inbox(session, institution, officer, q="赣江") == [mine.id]
    assert _inbox(session, institution, officer, q="井冈山") == []
    assert _inbox(session, institution, officer, q="0000") == [mine.id]  # the phone's tail
    assert _inbox(session, institution, colleague, q="0001") == [theirs.id]
    uscc = leads["赣江种植合作社"][1].uscc
    assert uscc and _inbox(session, institution, officer, q=uscc[-6:].lower()) == [mine.id]
    assert _inbox(session, institution, officer, q="%") == []


def test_a_lead_page_carries_its_history_and_the_borrowers_declarations_for_its_holder(session):
    institution, _product, [officer, colleague] = bank(officers=2)
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    [lead] = match_need(session, need.id, top_n=3)
    claim_lead(session, lead.id, officer_id=officer.id, institution_id=institution.id)
    from matching.leads import add_note

    add_note(session, lead.id, officer_id=officer.id, institution_id=institution.id, text="约了周三")
    view = officer_lead(session, lead.id, institution_id=institution.id, officer_id=officer.id)
    assert [(e.kind, e.to_status, e.actor, e.note) for e in view.events][-1] == (
        "note",
        "claimed",
        officer.username,
        "约了周三",
    )
    assert view.declarations is not None and view.declarations.first_loan
    seen = officer_lead(session, lead.id, institution_id=institution.id, officer_id=colleague.id)
    assert seen.claimed_by_colleague and seen.declarations is None
    assert [e.note for e in seen.events] == [None] * len(view.events)


def test_a_search_past_the_last_page_still_counts_its_total(session):
    institution, _product, [officer] = bank()
    borrower, user = applicant(name="赣江种植合作社")
    need = submit(session, borrower.id, user.id)
    [lead] = match_need(session, need.id, top_n=3)
    claim_lead(session, lead.id, officer_id=officer.id, institution_id=institution.id)
    page = officer_leads(
        session,
        institution_id=institution.id,
        officer_id=officer.id,
        filters=InboxFilter(q="赣江", amount_min=Decimal("1")),
        page=3,
    )
    assert (page.items, page.total) == ((), 1)


def test_without_reports_the_page_reads_no_performance_report(session, world):
    institution, (claimant, _colleague), _other, _stranger, leads, _borrower, _user = world
    lead_id = leads[institution.id].id
    _disburse(session, institution, claimant, lead_id)
    _report(session, institution, claimant, lead_id)
    session.flush()
    kwargs = {"institution_id": institution.id, "officer_id": claimant.id}
    with statements(session) as seen:
        page = officer_leads(session, **kwargs, reports=False)
    [view] = [v for v in page.items if v.id == lead_id]
    assert view.loan is not None and view.loan.performance == ()
    assert [s for s in seen if "loan_performance" in s] == []
    [view] = [v for v in officer_leads(session, **kwargs).items if v.id == lead_id]
    assert view.loan is not None and len(view.loan.performance) == 1


def test_the_loans_reports_come_in_the_pages_statement_typed_as_their_columns_oldest_first(session, world):
    institution, (claimant, colleague), _other, _stranger, leads, _borrower, _user = world
    lead_id = leads[institution.id].id
    _disburse(session, institution, claimant, lead_id)
    for officer, overdue_30, overdue_90 in ((colleague, True, True), (claimant, True, False)):
        _report(session, institution, officer, lead_id, overdue_30=overdue_30, overdue_90=overdue_90)
    session.flush()
    [view] = [
        v
        for v in officer_leads(session, institution_id=institution.id, officer_id=claimant.id).items
        if v.loan
    ]
    session.expire_all()
    names = {claimant.id: claimant.username, colleague.id: colleague.username}
    written = [
        PerformanceView.of(r, lead_id=lead_id, reported_by=names[r.reported_by])
        for r in loan_performance(session, view.loan.performance[0].loan_id)
    ]
    assert view.loan is not None and len(written) == 2
    for report in (*view.loan.performance, *officer_lead(
        session, lead_id, institution_id=institution.id, officer_id=claimant.id
    ).loan.performance):  # fmt: skip
        assert type(report.as_of) is dt.date and type(report.overdue_30) is bool
        assert report.reported_at.utcoffset() == dt.timedelta(0)
    as_read = [(r, r.reported_at.isoformat()) for r in view.loan.performance]
    assert as_read == [(r, r.reported_at.astimezone(dt.UTC).isoformat()) for r in written]


def test_the_page_statement_kept_per_process_serves_every_officer_filter_value_and_page(session):
    """officer_leads keeps one statement per kind of filters and binds the officer, the institution,
    the filters' values and the page at execution: each page read with the statements kept from the
    calls before it is the page read with statements built afresh."""
    from matching import inbox

    first, _product, officers = bank(officers=2)
    second, _other_product, [stranger] = bank()
    for i in range(8):
        borrower, user = applicant(employees=i)
        need = submit(session, borrower.id, user.id, amount=str(100_000 + 10_000 * i))
        session.flush()
        match_need(session, need.id, top_n=3)
    session.flush()
    for institution, officer, count in (
        (first, officers[0], 3),
        (first, officers[1], 1),
        (second, stranger, 2),
    ):
        for lead in list_leads(session, institution_id=institution.id, limit=100)[0][:count]:
            if lead.status == LeadStatus.PUSHED:
                claim_lead(session, lead.id, officer_id=officer.id, institution_id=institution.id)
    session.flush()
    calls = [
        (first, officers[0], {}, 1, 5, True),
        (first, officers[1], {}, 1, 5, True),
        (second, stranger, {}, 1, 5, True),
        (first, officers[0], {}, 1, 5, False),
        (first, officers[0], {}, 2, 5, True),
        (first, officers[0], {"mine": True}, 1, 5, True),
        (first, officers[1], {"mine": True}, 1, 5, True),
        (first, officers[0], {"status": "claimed"}, 1, 20, True),
        (first, officers[0], {"status": "pushed"}, 1, 20, True),
        (second, stranger, {"status": "pushed"}, 1, 20, True),
        (first, officers[0], {"amount_min": Decimal("130000")}, 1, 20, True),
        (first, officers[0], {"amount_min": Decimal("160000")}, 1, 20, True),
        (first, officers[0], {"amount_min": Decimal("160000")}, 9, 2, True),
        (second, stranger, {"amount_min": Decimal("160000")}, 9, 2, True),
    ]

    def read(institution, officer, filters, page, per_page, reports):
        return officer_leads(
            session,
            institution_id=institution.id,
            officer_id=officer.id,
            filters=InboxFilter(**filters),
            page=page,
            per_page=per_page,
            reports=reports,
        )

    kept = [read(*call) for call in calls]
    afresh = []
    for call in calls:
        inbox._page_statement.cache_clear()
        afresh.append(read(*call))
    assert kept == afresh
    # Another officer, institution, page, or filter value reads another page.
    assert all(kept[a] != kept[b] for a, b in ((0, 1), (0, 2), (0, 4), (5, 6), (7, 8), (8, 9), (10, 11)))
    assert {page.total for page in kept} != {0} and any(page.items for page in kept[1:])
    assert inbox._page_statement.cache_info().currsize == 1  # the last call's kind
