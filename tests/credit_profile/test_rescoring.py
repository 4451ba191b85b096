"""Whatever changes the data a score may use queues the borrower's rescoring, inside the service that
changes it: granting, revoking and expiring a consent, provider pushes and table imports."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.models import OutboxJob
from core.types import local_today
from credit_profile.consents import expire_consents, grant_consent, revoke_consent
from credit_profile.ingestion import create_provider, import_records, ingest_records
from credit_profile.rescoring import RESCORE_JOB
from credit_profile.tables import TableRow
from tests.credit_profile.helpers import month
from tests.factories import BorrowerFactory, ConsentFactory


def rescorings(session) -> list[tuple[int, str]]:
    """(borrower id, reason) of every queued rescoring, in the order they were written."""
    rows = session.scalars(select(OutboxJob).where(OutboxJob.name == RESCORE_JOB).order_by(OutboxJob.id))
    return [(row.payload["borrower_id"], row.dedup_key.split(":")[2]) for row in rows]


def test_granting_and_revoking_a_consent_queue_the_rescoring(session):
    borrower = BorrowerFactory()
    consent = grant_consent(
        session,
        borrower_id=borrower.id,
        sources=["electricity"],
        purpose="贷款申请",
        expires_on=local_today() + dt.timedelta(days=30),
        actor_id=None,
    )
    assert rescorings(session) == [(borrower.id, f"consent-{consent.id}-granted")]

    revoke_consent(session, consent, actor_id=None)
    assert rescorings(session)[1:] == [(borrower.id, f"consent-{consent.id}-revoked")]


def test_an_expiring_consent_queues_the_rescoring(session):
    borrower = BorrowerFactory()
    consent = ConsentFactory(borrower_id=borrower.id, expires_on=local_today() - dt.timedelta(days=1))
    session.flush()

    expire_consents(session)

    assert rescorings(session) == [(borrower.id, f"consent-{consent.id}-expired")]


def test_a_provider_push_queues_the_rescoring_of_each_borrower_with_accepted_data(session):
    covered, uncovered = BorrowerFactory(), BorrowerFactory()
    ConsentFactory(borrower_id=covered.id, sources=["electricity"])
    session.flush()
    provider, _secret = create_provider(session, name="国网吉安供电公司", source="electricity")
    record = {"kwh": "1000", "bill_amount": "680", "period": month(1)}

    result = ingest_records(
        session, provider, [{**record, "uscc": covered.uscc}, {**record, "uscc": uncovered.uscc}]
    )

    assert result.accepted == 1
    assert rescorings(session) == [(covered.id, f"data-{provider.id}")]


def test_an_imported_table_queues_the_rescoring_of_its_borrowers(session):
    borrower = BorrowerFactory()
    ConsentFactory(borrower_id=borrower.id, sources=["electricity"])
    session.flush()
    row = TableRow(
        number=2, values={"uscc": borrower.uscc, "period": month(1), "kwh": "1000", "bill_amount": "680"}
    )

    import_records(session, "electricity", [row])

    assert rescorings(session) == [(borrower.id, "import")]
