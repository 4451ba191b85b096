"""Monitoring rules as data: the documented starting set, the admin's edits, validation.

The rules live in `monitoring_rules`; until an administrator saves the first change, the starting set
below applies (`current_rules`). No public source gives banks' own numeric thresholds, so these are a
starting point to calibrate with the measured precision and recall (quality.py), not a standard:

| code | signal | yellow | red | persistence |
|---|---|---|---|---|
| elec_drop | electricity, 3-month sum vs the same 3 months last year | <= -30 % | <= -50 % | 1 of 1 |
| elec_stop | electricity, month vs the trailing 12-month mean | — | <= -90 % (stoppage) | 1 of 1 |
| elec_bills | electricity bills overdue in the last 6 months | >= 1 | >= 2 | 1 of 1 |
| tax_grade | 纳税信用级别 (A 0, B/M 1, C 2, D 3) | >= C | D | 1 of 1 |
| tax_arrears | 欠税 record in the month | — | any | 1 of 1 |
| tax_sales | VAT sales, 3-month sum vs the same 3 months last year | <= -25 % | <= -40 % | 1 of 1 |
| inflow_drop | bank inflow, month vs the trailing 6-month average | <= -40 % | <= -60 % | 2 of 3 |
| balance_short | month-end balance / next instalment | < 1.5 | < 1.0 | 1 of 1 |
| elec_and_inflow | combination: elec_drop and inflow_drop both at least yellow | — | red | — |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.types import utcnow
from monitoring.errors import RuleNotFoundError
from monitoring.models import MonitoringRule
from monitoring.signals import SIGNALS

DIRECTIONS = ("below", "above")
MAX_WINDOW_MONTHS = 12
MAX_THRESHOLD = Decimal("100000")
# Every threshold is a change (> -100 %), a count, a grade or a ratio of amounts: never -1 or below.
MIN_THRESHOLD = Decimal("-1")


@dataclass(frozen=True)
class Rule:
    code: str
    signal: str | None
    direction: str = "below"
    yellow: float | None = None
    red: float | None = None
    persist_months: int = 1
    window_months: int = 1
    peer_pct_max: float | None = None
    requires: tuple[str, ...] = field(default_factory=tuple)
    enabled: bool = True


STARTING_RULES: tuple[Rule, ...] = (
    Rule("elec_drop", "elec_3m_yoy", yellow=-0.30, red=-0.50),
    Rule("elec_stop", "elec_vs_12m", red=-0.90),
    Rule("elec_bills", "bills_overdue_6m", direction="above", yellow=1, red=2),
    Rule("tax_grade", "tax_grade", direction="above", yellow=2, red=3),
    Rule("tax_arrears", "tax_arrears", direction="above", red=1),
    Rule("tax_sales", "sales_3m_yoy", yellow=-0.25, red=-0.40),
    Rule("inflow_drop", "inflow_vs_6m", yellow=-0.40, red=-0.60, persist_months=2, window_months=3),
    Rule("balance_short", "balance_cover", yellow=1.5, red=0.999),
    Rule("elec_and_inflow", None, requires=("elec_drop", "inflow_drop")),
)
RULE_CODES = tuple(rule.code for rule in STARTING_RULES)


def _as_rule(row: MonitoringRule) -> Rule:
    return Rule(
        code=row.code,
        signal=row.signal,
        direction=row.direction,
        yellow=None if row.yellow is None else float(row.yellow),
        red=None if row.red is None else float(row.red),
        persist_months=row.persist_months,
        window_months=row.window_months,
        peer_pct_max=None if row.peer_pct_max is None else float(row.peer_pct_max),
        requires=tuple(row.requires or ()),
        enabled=row.enabled,
    )


def current_rules(session: Session) -> tuple[Rule, ...]:
    """The rules in force: the stored ones, or the starting set while none is stored."""
    rows = session.scalars(select(MonitoringRule).order_by(MonitoringRule.id)).all()
    if not rows:
        return STARTING_RULES
    return tuple(_as_rule(row) for row in rows)


def _decimal(value: object, name: str, errors: dict[str, list[str]]) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors[name] = ["invalid_number"]
        return None
    if not number.is_finite() or number > MAX_THRESHOLD or number <= MIN_THRESHOLD:
        errors[name] = ["out_of_range"]
        return None
    return number.quantize(Decimal("0.0001"))


def validate_rule(rule: Rule, values: Mapping[str, Any]) -> Rule:
    """The rule with the admin's new thresholds, persistence, peer limit and switch applied.

    Raises InvalidInputError (field -> codes) for a bad number, a yellow threshold beyond the red one,
    a persistence longer than its window, or a threshold rule with neither threshold.
    """
    errors: dict[str, list[str]] = {}
    yellow = _decimal(values.get("yellow"), "yellow", errors)
    red = _decimal(values.get("red"), "red", errors)
    peer = _decimal(values.get("peer_pct_max"), "peer_pct_max", errors)
    if peer is not None and not Decimal(0) <= peer <= Decimal(1):
        errors["peer_pct_max"] = ["out_of_range"]
    persist, window = values.get("persist_months", 1), values.get("window_months", 1)
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= MAX_WINDOW_MONTHS:
        errors["window_months"] = ["out_of_range"]
    elif not isinstance(persist, int) or isinstance(persist, bool) or not 1 <= persist <= window:
        errors["persist_months"] = ["out_of_range"]
    if rule.signal is not None and not errors:
        if yellow is None and red is None:
            errors["red"] = ["required"]
        elif yellow is not None and red is not None:
            beyond = red > yellow if rule.direction == "below" else red < yellow
            if beyond:
                errors["yellow"] = ["beyond_red"]
    if errors:
        raise InvalidInputError(errors)
    return replace(
        rule,
        yellow=None if yellow is None else float(yellow),
        red=None if red is None else float(red),
        peer_pct_max=None if peer is None else float(peer),
        persist_months=int(persist),
        window_months=int(window),
        enabled=bool(values.get("enabled", True)),
    )


def update_rule(session: Session, code: str, values: Mapping[str, Any], *, actor_id: int | None) -> Rule:
    """Change one rule's thresholds, persistence, peer limit or switch (what `values` names; the rest
    stays). The first change stores the
    whole starting set, so that from then on every rule is data. Raises RuleNotFoundError,
    InvalidInputError (nothing changes)."""
    rules = {rule.code: rule for rule in current_rules(session)}
    if code not in rules:
        raise RuleNotFoundError(code)
    editable = ("yellow", "red", "persist_months", "window_months", "peer_pct_max", "enabled")
    merged = {name: getattr(rules[code], name) for name in editable}
    merged.update({name: value for name, value in values.items() if name in editable})
    changed = validate_rule(rules[code], merged)
    if not session.scalar(select(MonitoringRule.id).limit(1)):
        for rule in STARTING_RULES:
            session.add(_row(rule))
        session.flush()
    row = session.scalar(select(MonitoringRule).where(MonitoringRule.code == code))
    assert row is not None
    for name in ("yellow", "red", "peer_pct_max"):
        value = getattr(changed, name)
        setattr(row, name, None if value is None else Decimal(str(value)))
    row.persist_months = changed.persist_months
    row.window_months = changed.window_months
    row.enabled = changed.enabled
    row.updated_at = utcnow()
    row.updated_by = actor_id
    session.flush()
    return changed


def _row(rule: Rule) -> MonitoringRule:
    return MonitoringRule(
        code=rule.code,
        signal=rule.signal,
        direction=rule.direction,
        yellow=None if rule.yellow is None else Decimal(str(rule.yellow)),
        red=None if rule.red is None else Decimal(str(rule.red)),
        persist_months=rule.persist_months,
        window_months=rule.window_months,
        peer_pct_max=None if rule.peer_pct_max is None else Decimal(str(rule.peer_pct_max)),
        requires=list(rule.requires),
        enabled=rule.enabled,
    )


def check_rules(rules: Sequence[Rule]) -> None:
    """Programming guard: every threshold rule names a known signal, every combination known rules."""
    codes = {rule.code for rule in rules}
    for rule in rules:
        assert rule.signal is None or rule.signal in SIGNALS, rule.signal
        assert all(code in codes for code in rule.requires), rule.requires
