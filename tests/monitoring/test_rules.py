"""Rules as data: the starting set applies until the admin's first change, which stores them all."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.errors import InvalidInputError
from monitoring.errors import RuleNotFoundError
from monitoring.models import MonitoringRule
from monitoring.rules import STARTING_RULES, check_rules, current_rules, update_rule

pytestmark = pytest.mark.smoke


def test_the_starting_set_applies_until_changed(session):
    check_rules(STARTING_RULES)
    assert current_rules(session) == STARTING_RULES


def test_a_change_stores_every_rule_and_only_changes_the_one_named(session):
    update_rule(
        session, "elec_drop", {"yellow": "-0.25", "persist_months": 2, "window_months": 3}, actor_id=None
    )

    rules = {rule.code: rule for rule in current_rules(session)}
    assert session.scalar(select(func.count()).select_from(MonitoringRule)) == len(STARTING_RULES)
    assert (rules["elec_drop"].yellow, rules["elec_drop"].red) == (-0.25, -0.5)
    assert (rules["elec_drop"].persist_months, rules["elec_drop"].window_months) == (2, 3)
    assert rules["tax_grade"] == next(r for r in STARTING_RULES if r.code == "tax_grade")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"yellow": "-0.6"}, "yellow"),  # beyond the red -0.5
        ({"red": "abc"}, "red"),
        ({"red": "-1"}, "red"),
        ({"persist_months": 3, "window_months": 2}, "persist_months"),
        ({"peer_pct_max": "1.5"}, "peer_pct_max"),
        ({"yellow": None, "red": None}, "red"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(session, values, field):
    with pytest.raises(InvalidInputError) as raised:
        update_rule(session, "elec_drop", values, actor_id=None)

    assert field in raised.value.fields
    assert current_rules(session) == STARTING_RULES


def test_an_unknown_rule_is_not_found(session):
    with pytest.raises(RuleNotFoundError):
        update_rule(session, "nope", {}, actor_id=None)
