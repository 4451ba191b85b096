"""Ranking inputs: an institution's approval share per grade band, and what it does to the order."""

from __future__ import annotations

import pytest

from matching.dispatch import MIN_DECIDED_LEADS, approval_rates, institution_stats, match_need
from matching.models import LeadStatus
from tests.factories import LeadFactory
from tests.matching.helpers import applicant, bank, submit


def test_approval_rates_count_approved_and_disbursed_against_rejected_per_band():
    rows = [
        (1, "approved", "A"),
        (1, "disbursed", "A"),
        (1, "rejected", "A"),
        (1, "rejected", "A"),
        (1, "closed", "A"),  # not a decision
        (1, "disbursed", None),  # no band recorded
        (1, "rejected", "B"),
        (2, "disbursed", "A"),
    ]
    assert approval_rates(rows, min_decided=1) == {1: {"A": 0.5, "B": 0.0}, 2: {"A": 1.0}}
    assert approval_rates(rows, min_decided=4) == {1: {"A": 0.5}}


def _history(session, institution, product, statuses, band="none"):
    """Decided leads of this institution on needs of a borrower of their own."""
    borrower, user = applicant()
    for status in statuses:
        need = submit(session, borrower.id, user.id)
        LeadFactory(need=need, product=product, status=status, explanation={"score_band": band})


@pytest.mark.parametrize("decided", [MIN_DECIDED_LEADS, MIN_DECIDED_LEADS - 1])
def test_an_institution_that_approves_borrowers_like_this_one_ranks_first(session, decided):
    cheap, cheap_product, _ = bank("3.50")
    approving, approving_product, _ = bank("3.60")
    _history(session, cheap, cheap_product, [LeadStatus.REJECTED] * decided)
    _history(
        session, approving, approving_product, [LeadStatus.DISBURSED] * (decided - 1) + [LeadStatus.APPROVED]
    )

    stats = institution_stats(session)
    borrower, user = applicant()  # no score yet: band "none"
    need = submit(session, borrower.id, user.id)
    first = match_need(session, need.id, top_n=1)[0]

    if decided >= MIN_DECIDED_LEADS:
        assert stats[cheap.id].approval_rate_by_band == {"none": 0.0}
        assert stats[approving.id].approval_rate_by_band == {"none": 1.0}
        assert first.institution_id == approving.id
        assert first.explanation["approval_history"] == 1.0
    else:  # too few decisions: the prior stands and the cheaper product wins
        assert stats[cheap.id].approval_rate_by_band == {}
        assert first.institution_id == cheap.id
        assert first.explanation["approval_history"] == 0.5
