"""Signals against the borrower's own baseline and its peers, and rule levels with persistence and
combinations (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from monitoring.rules import STARTING_RULES, Rule
from monitoring.signals import Panel, compute_signals, evaluate, peer_percentiles, worst

pytestmark = pytest.mark.smoke


def _panel(loans: int = 6, months: int = 24) -> Panel:
    panel = Panel.empty(loans, months)
    panel.kwh[:] = 1000.0
    panel.sales[:] = 50000.0
    panel.inflow[:] = 60000.0
    panel.balance[:] = 30000.0
    panel.grade[:] = 0.0
    panel.arrears[:] = 0.0
    panel.instalment[:] = 10000.0
    return panel


def test_the_three_month_sum_is_compared_with_the_same_months_last_year():
    panel = _panel()
    panel.kwh[0, -3:] = 200.0
    panel.kwh[1, 9:12] = 500.0  # last year's same months were low: this year is up
    signals = compute_signals(panel)

    assert signals.value["elec_3m_yoy"][0, -1] == pytest.approx(-0.8)
    assert signals.baseline["elec_3m_yoy"][0, -1] == 3000.0
    assert signals.value["elec_3m_yoy"][1, -1] == pytest.approx(1.0)
    assert np.isnan(signals.value["elec_3m_yoy"][0, 13])  # no full year of history yet


def test_a_missing_month_leaves_the_signal_unknown_rather_than_low():
    panel = _panel()
    panel.kwh[0, -2] = np.nan

    assert np.isnan(compute_signals(panel).value["elec_3m_yoy"][0, -1])


def test_peer_percentile_ranks_within_the_group_and_month():
    value = np.array([[-0.8], [0.0], [0.1], [0.2], [0.3], [-0.9]])
    group = np.array([0, 0, 0, 0, 0, 1])

    pct, size = peer_percentiles(value, group)

    assert pct[:5, 0].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert np.isnan(pct[5, 0])  # a group of one has no peers
    assert size[0, 0] == 5


def test_levels_follow_the_thresholds():
    panel = _panel()
    panel.kwh[0, -3:] = 200.0  # -80 %: red
    panel.kwh[1, -3:] = 650.0  # -35 %: yellow
    levels = evaluate(STARTING_RULES, compute_signals(panel))

    assert levels["elec_drop"][:3, -1].tolist() == [2, 1, 0]


def test_persistence_needs_the_condition_in_enough_months_of_the_window():
    panel = _panel()
    panel.inflow[0, -1] = 20000.0  # one month down: not yet
    panel.inflow[1, -2:] = 20000.0  # two of the last three: yes
    levels = evaluate(STARTING_RULES, compute_signals(panel))

    assert levels["inflow_drop"][:2, -1].tolist() == [0, 2]


def test_a_combination_is_red_when_every_part_fires():
    panel = _panel()
    panel.kwh[0, -3:] = 650.0  # electricity yellow
    panel.inflow[0, -2:] = 33000.0  # inflow yellow (-45 %) two months running
    panel.kwh[1, -3:] = 650.0  # electricity alone
    levels = evaluate(STARTING_RULES, compute_signals(panel))

    assert levels["elec_drop"][0, -1] == 1 and levels["inflow_drop"][0, -1] == 1
    assert levels["elec_and_inflow"][:2, -1].tolist() == [2, 0]
    assert worst(levels)[:2, -1].tolist() == [2, 1]


def test_a_drop_the_whole_trade_shares_is_not_the_borrowers_when_peers_are_required():
    panel = _panel()
    panel.kwh[:, -3:] = 200.0  # every peer down 80 %
    rule = Rule("elec_drop", "elec_3m_yoy", yellow=-0.3, red=-0.5, peer_pct_max=0.2)

    levels = evaluate([rule], compute_signals(panel))

    # ties share the lowest rank (0): all at the bottom, so still fired; one up makes the rest differ
    assert levels["elec_drop"][:, -1].tolist() == [2] * 6
    panel.kwh[:3, -3:] = 1000.0
    levels = evaluate([rule], compute_signals(panel))
    assert levels["elec_drop"][:, -1].tolist() == [0, 0, 0, 2, 2, 2]


def test_disabled_rules_give_nothing():
    panel = _panel()
    panel.kwh[0, -3:] = 200.0
    rules = [Rule("elec_drop", "elec_3m_yoy", yellow=-0.3, red=-0.5, enabled=False)]

    assert evaluate(rules, compute_signals(panel)) == {}
