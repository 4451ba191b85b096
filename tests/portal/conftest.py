"""Fixtures shared by the statistics tests of the API and the pages."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory
from tests.stats.test_stats_properties import _loan_need, insert, make_world


@pytest.fixture
def data(session, world):
    # world (tests.matching): borrowers 0, 1 in 360802; 2, 3 in 360803; 4, 5 in 360881.
    world["borrowers"][2].name = '=HYPERLINK("http://evil")青原测试公司'
    insert(session, world, [_loan_need(0, "300000.00"), _loan_need(1, "200000.00"), _loan_need(2, "500000.00"),
                            _loan_need(3, "80000.00"), _loan_need(4, "90000.00", days=3)])  # fmt: skip
    UserFactory(username="city", finance=True, region_code="360800")
    UserFactory(username="jizhou", finance=True, region_code="360802")
    UserFactory(username="officer", officer=True, institution_id=world["banks"][0].id)
    session.flush()
    return world


@pytest.fixture
def world(session):
    return make_world(session)
