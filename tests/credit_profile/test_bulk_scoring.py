"""The bulk (vectorised) re-scoring stores what scoring one borrower at a time stores."""

from __future__ import annotations

from decimal import Decimal

import pytest

from credit_profile.bulk_scoring import rescore_many
from credit_profile.consents import revoke_consent
from credit_profile.scorecards import activate_scorecard, register_scorecard
from credit_profile.scoring import score_now
from tests.credit_profile.helpers import grant, month, store, trained_artefact
from tests.factories import BorrowerFactory

pytestmark = pytest.mark.smoke


def _borrowers(session) -> list[int]:
    full, tax_only, revoked, windowed, nothing, odd = (BorrowerFactory() for _ in range(6))
    consent = grant(session, full)
    for source in ("electricity", "tax", "bank_flow"):
        store(session, full.id, source, [month(b) for b in range(1, 25)], consent.id)
    # Months with their own values: trends, zero months, arrears, a weak rating and a low balance.
    for back, kwh in ((1, "0"), (2, "120"), (3, "900")):
        store(session, odd.id, "electricity", [month(back)], None, kwh=Decimal(kwh))
    consent = grant(session, odd)
    store(session, odd.id, "electricity", [month(b) for b in range(4, 20)], consent.id)
    store(
        session, odd.id, "tax", [month(b) for b in range(1, 14)], consent.id, credit_rating="C", arrears=True
    )
    store(
        session, odd.id, "bank_flow", [month(b) for b in range(1, 9)], consent.id, end_balance=Decimal("-50")
    )
    consent = grant(session, tax_only, sources=["tax"])
    for source in ("electricity", "tax"):
        store(session, tax_only.id, source, [month(b) for b in range(1, 13)], consent.id)
    consent = grant(session, revoked)
    store(session, revoked.id, "tax", [month(b) for b in range(1, 13)], consent.id)
    revoke_consent(session, consent, actor_id=None)
    consent = grant(session, windowed, period_from=month(6), period_to=month(2))
    store(session, windowed.id, "bank_flow", [month(b) for b in range(1, 13)], consent.id)
    session.flush()
    return [full.id, tax_only.id, revoked.id, windowed.id, nothing.id, odd.id]


@pytest.mark.parametrize("card", ["expert", "trained"])
def test_bulk_rescoring_stores_what_one_by_one_scoring_stores(session, card):
    if card == "trained":
        register_scorecard(session, trained_artefact("bulk-v1", 0.8, offset=640.0))
        activate_scorecard(session, "bulk-v1", actor_id=None)
    ids = _borrowers(session)
    one_by_one = {bid: score_now(session, bid) for bid in ids}
    bulk = {row.borrower_id: row for row in rescore_many(session, ids)}
    assert sorted(bulk) == sorted(ids)
    for bid in ids:
        a, b = one_by_one[bid], bulk[bid]
        assert (b.score, b.grade, b.model_version) == (a.score, a.grade, a.model_version), bid
        assert b.reasons == a.reasons and b.sources == a.sources, bid
        assert b.id is not None  # stored
    assert len({one_by_one[bid].score for bid in ids}) > 2  # the borrowers differ
