"""Early warnings: opened by the monitoring job with evidence in Chinese, routed to the claiming officer
with an acknowledgement deadline on the working-hours clock, escalated to the institution when it
passes, actioned and closed with an outcome; the borrower gets a nudge that offers help.

States: open -> acknowledged -> actioned -> closed{resolved | escalated_to_default | false_positive}.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.calendars import working_calendar
from core.errors import InvalidInputError
from core.events import record_event
from core.i18n import N_
from core.notifications import notify
from core.types import utcnow
from credit_profile.consents import record_use
from credit_profile.features import period_index
from credit_profile.models import Borrower
from matching.models import Lead, Loan
from matching.notices import applicant_users, officers
from matching.workhours import add_working_hours
from monitoring.errors import WarningNotFoundError, WarningStateError
from monitoring.models import (
    EarlyWarning,
    Level,
    MonitoringSignal,
    WarningAction,
    WarningOutcome,
    WarningStatus,
)
from monitoring.panels import LoadedPanel, MonitoredLoan, load_panel, monitored, peer_loans
from monitoring.rules import Rule, current_rules
from monitoring.signals import YELLOW, Signals, compute_signals, evaluate

# Two working days to acknowledge (the SLA clock's 8-hour days).
ACK_WORKING_HOURS = 16.0
MAX_NOTE = 500
LEVEL_NAMES = {1: Level.YELLOW, 2: Level.RED}
ACTIONS = tuple(a.value for a in WarningAction)
OUTCOMES = tuple(o.value for o in WarningOutcome)

# Evidence, one sentence per firing rule, in the reader's language (stored as written: evidence is a
# record of what the officer was shown).
TEXTS = {
    "elec_drop": N_("近3个月用电量 {current} 千瓦时，去年同期 {baseline} 千瓦时，同比{change}"),
    "elec_stop": N_(
        "当月用电量 {current} 千瓦时，近12个月月均 {baseline} 千瓦时，较月均{change}（接近停产）"
    ),
    "elec_bills": N_("近6个月电费逾期 {current} 次"),
    "tax_grade": N_("纳税信用级别降至 {grade}（去年同期 {baseline_grade}）"),
    "tax_arrears": N_("当月有欠税记录"),
    "tax_sales": N_("近3个月开票销售额 {current} 元，去年同期 {baseline} 元，同比{change}"),
    "inflow_drop": N_("当月银行流入 {current} 元，前6个月月均 {baseline} 元，较月均{change}"),
    "balance_short": N_("月末余额 {current} 元，下期应还约 {baseline} 元（余额/应还 = {ratio}）"),
    "elec_and_inflow": N_("用电量下降与银行流入下降同时出现"),
}
PEER_TEXT = N_("；在同县同行业 {count} 户中处于第 {pct} 百分位")
NUDGE_TEXT = N_(
    "我们注意到您近期的经营数据有所波动。如需续贷、转贷周转或担保支持，可在“融资需求”中提交申请，"
    "或联系您的客户经理，我们会尽力帮助您渡过难关。"
)
OFFICER_TEXT = N_("贷后预警（{level}）：{borrower}，贷款#{loan}，请于{due}前确认")
ESCALATED_TEXT = N_("贷后预警#{warning}超过确认时限未确认，已升级至本机构处理")
GRADE_NAMES = {0.0: "A", 1.0: "B/M", 2.0: "C", 3.0: "D"}
LEVEL_TEXT = {Level.YELLOW: N_("黄色"), Level.RED: N_("红色")}


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value.is_integer() else f"{value:,.2f}"


def _change(value: float) -> str:
    return f"下降 {-value * 100:.1f}%" if value < 0 else f"上升 {value * 100:.1f}%"


def evidence_item(rule: Rule, level: int, signals: Signals, row: int, col: int) -> dict[str, object]:
    """One firing rule's evidence: the numbers, the baseline, the peer position, and the sentence."""
    item: dict[str, object] = {"rule": rule.code, "level": LEVEL_NAMES[level].value, "signal": rule.signal}
    values: dict[str, str] = {}
    if rule.signal is not None:
        value = float(signals.value[rule.signal][row, col])
        current = float(signals.current[rule.signal][row, col])
        baseline = float(signals.baseline[rule.signal][row, col])
        item.update(
            value=None if math.isnan(value) else round(value, 4),
            current=None if math.isnan(current) else round(current, 2),
            baseline=None if math.isnan(baseline) else round(baseline, 2),
        )
        values = {
            "current": "—" if math.isnan(current) else _fmt(current),
            "baseline": "—" if math.isnan(baseline) else _fmt(baseline),
            "change": "" if math.isnan(value) else _change(value),
            "ratio": "—" if math.isnan(value) else f"{value:.2f}",
            "grade": GRADE_NAMES.get(current, "—"),
            "baseline_grade": GRADE_NAMES.get(baseline, "—"),
        }
    text = TEXTS[rule.code].format(**values) if rule.code in TEXTS else rule.code
    if rule.signal in signals.peer_pct:
        pct = float(signals.peer_pct[rule.signal][row, col])
        if not math.isnan(pct):
            count = int(signals.peer_count[rule.signal][row, col])
            item.update(peer_pct=round(pct, 4), peer_count=count)
            text += PEER_TEXT.format(count=count, pct=round(pct * 100))
    item["text"] = text
    return item


@dataclass(frozen=True)
class Finding:
    loan_id: int
    period: str
    level: int
    evidence: list[dict[str, object]]


def findings(
    loaded: LoadedPanel, signals: Signals, rules: Sequence[Rule], loan_ids: set[int]
) -> list[Finding]:
    """For each of these loans, what the rules say about its latest consented month after disbursement."""
    levels = evaluate(rules, signals)
    by_code = {rule.code: rule for rule in rules}
    first = period_index(loaded.first_period)
    result = []
    for row, m in enumerate(loaded.loans):
        period = loaded.last_period.get(m.loan.id)
        if m.loan.id not in loan_ids or period is None or period < f"{m.loan.disbursed_on:%Y-%m}":
            continue
        col = period_index(period) - first
        fired = [(code, int(level[row, col])) for code, level in levels.items() if level[row, col] > 0]
        if not fired:
            continue
        evidence = [evidence_item(by_code[code], lvl, signals, row, col) for code, lvl in fired]
        result.append(Finding(m.loan.id, period, max(lvl for _code, lvl in fired), evidence))
    return result


def monitor_borrower(
    session: Session, borrower_id: int, *, now: dt.datetime | None = None
) -> list[EarlyWarning]:
    """The monitoring job's work for one borrower after new data or a consent change: compute the
    signals of each monitored loan against its own baseline and its peers, store them, and open (or
    raise) a warning where a rule fires on the latest month. Without an active 贷后监测 consent for the
    loan's institution nothing is read. Safe to run twice. Returns the warnings opened or raised.
    """
    loans = list(session.scalars(select(Loan).where(Loan.borrower_id == borrower_id).order_by(Loan.id)))
    own = monitored(session, loans)
    if not own:
        return []
    peers: dict[int, Loan] = {}
    for m in own:
        for loan in peer_loans(session, m.loan):
            peers[loan.id] = loan
    group = monitored(session, sorted(peers.values(), key=lambda loan: loan.id))
    return _monitor(session, own, group, now or utcnow())


def monitor_all(session: Session, *, now: dt.datetime | None = None) -> list[EarlyWarning]:
    """`monitor_borrower` for every monitored loan at once: one panel, one vectorised pass (the bulk
    path, e.g. after the rules changed). Returns the warnings opened or raised."""
    loans = list(session.scalars(select(Loan).order_by(Loan.id)))
    every = monitored(session, loans)
    return _monitor(session, every, every, now or utcnow()) if every else []


def _monitor(
    session: Session, own: list[MonitoredLoan], group: list[MonitoredLoan], now: dt.datetime
) -> list[EarlyWarning]:
    loaded = load_panel(session, group)
    own_ids = {m.loan.id for m in own}
    own_consents = {m.consent.id: m.loan.borrower_id for m in own}
    for consent_id, sources in sorted(loaded.used.items()):
        if consent_id in own_consents:
            for source in sorted(sources):
                record_use(
                    session,
                    borrower_id=own_consents[consent_id],
                    consent_id=consent_id,
                    source=source,
                    action="monitoring",
                )
    signals = compute_signals(loaded.panel)
    _store_signals(session, loaded, signals, own_ids, now)
    changed = []
    for finding in findings(loaded, signals, current_rules(session), own_ids):
        warning = _open_or_raise(session, finding, now)
        if warning is not None:
            changed.append(warning)
    return changed


def _store_signals(
    session: Session, loaded: LoadedPanel, signals: Signals, loan_ids: set[int], now: dt.datetime
) -> None:
    first = period_index(loaded.first_period)
    for row, m in enumerate(loaded.loans):
        period = loaded.last_period.get(m.loan.id)
        if m.loan.id not in loan_ids or period is None:
            continue
        col = period_index(period) - first
        stored = {
            s.signal: s
            for s in session.scalars(
                select(MonitoringSignal).where(
                    MonitoringSignal.loan_id == m.loan.id, MonitoringSignal.period == period
                )
            )
        }
        for name, value in signals.value.items():
            if np.isnan(value[row, col]):
                continue
            signal = stored.get(name) or MonitoringSignal(loan_id=m.loan.id, signal=name, period=period)
            signal.borrower_id = m.loan.borrower_id
            signal.value = _decimal(value[row, col])
            signal.baseline = _decimal(signals.baseline[name][row, col])
            pct = signals.peer_pct.get(name)
            signal.peer_pct = None if pct is None else _decimal(pct[row, col])
            signal.consent_id = m.consent.id
            signal.computed_at = now
            session.add(signal)
    session.flush()


def _decimal(value: float) -> Decimal | None:
    return None if math.isnan(value) or math.isinf(value) else Decimal(f"{value:.4f}")


def _open_or_raise(session: Session, finding: Finding, now: dt.datetime) -> EarlyWarning | None:
    level = LEVEL_NAMES[finding.level]
    rule_codes = sorted(str(item["rule"]) for item in finding.evidence)
    current = session.scalar(
        select(EarlyWarning)
        .where(EarlyWarning.loan_id == finding.loan_id, EarlyWarning.status != WarningStatus.CLOSED)
        .order_by(EarlyWarning.id.desc())
    )
    if current is not None:
        if current.level == Level.RED or finding.level <= YELLOW or current.period == finding.period:
            return None
        current.level = level
        current.rule_codes = rule_codes
        current.evidence = finding.evidence
        _move(session, current, current.status, note="level raised to red", data={"period": finding.period})
        _route(session, current)
        return current
    if session.scalar(
        select(EarlyWarning.id).where(
            EarlyWarning.loan_id == finding.loan_id, EarlyWarning.period == finding.period
        )
    ):
        return None  # this month already had its warning, since closed
    loan = session.get(Loan, finding.loan_id)
    assert loan is not None
    lead = session.get(Lead, loan.lead_id)
    warning = EarlyWarning(
        loan_id=loan.id,
        borrower_id=loan.borrower_id,
        institution_id=loan.institution_id,
        region_code=loan.region_code,
        officer_id=lead.claimed_by if lead is not None else None,
        level=level,
        period=finding.period,
        rule_codes=rule_codes,
        evidence=finding.evidence,
        status=WarningStatus.OPEN,
        opened_at=now,
        ack_due_at=add_working_hours(now, ACK_WORKING_HOURS, calendar=working_calendar(session)),
    )
    session.add(warning)
    session.flush()
    record_event(
        session,
        entity_type="early_warning",
        entity_id=warning.id,
        to_status=WarningStatus.OPEN,
        data={"level": level.value, "rules": rule_codes, "period": finding.period},
    )
    _route(session, warning)
    _nudge(session, warning, now)
    return warning


def _route(session: Session, warning: EarlyWarning) -> None:
    """Tell the claiming officer (or, with none, every officer of the institution)."""
    borrower = session.get(Borrower, warning.borrower_id)
    users = (
        [warning.officer_id]
        if warning.officer_id
        else [u.id for u in officers(session, warning.institution_id)]
    )
    due = warning.ack_due_at.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%m月%d日%H:%M")
    text = OFFICER_TEXT.format(
        level=LEVEL_TEXT[Level(warning.level)],
        borrower=borrower.name if borrower else "",
        loan=warning.loan_id,
        due=due,
    )
    notify(
        session,
        users,
        kind="early_warning",
        data={"warning_id": warning.id, "text": text},
        dedup_key=f"early_warning:{warning.id}:{warning.level}",
    )


def _nudge(session: Session, warning: EarlyWarning, now: dt.datetime) -> None:
    """Offer the borrower help (they consented to monitoring, which is what makes this reach them)."""
    users = applicant_users(session, warning.borrower_id)
    if not users:
        return
    notify(
        session,
        [u.id for u in users],
        kind="monitoring_nudge",
        data={"text": NUDGE_TEXT},
        dedup_key=f"monitoring_nudge:{warning.id}",
    )
    warning.nudged_at = now


# --- the officer's steps ------------------------------------------------------------------------


def _move(
    session: Session,
    warning: EarlyWarning,
    to_status: str,
    *,
    actor_id: int | None = None,
    note: str | None = None,
    data: dict[str, object] | None = None,
) -> None:
    """Set the warning's status and append the change to the audit trail (also when it stays, e.g. a
    level raised or an escalation)."""
    from_status = warning.status
    warning.status = to_status
    session.flush()
    record_event(
        session,
        entity_type="early_warning",
        entity_id=warning.id,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor_id,
        note=note,
        data=data,
    )


def _note(note: str | None) -> str | None:
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidInputError({"note": ["too_long"]})
    return (note or "").strip() or None


def get_warning(session: Session, warning_id: int, *, institution_id: int) -> EarlyWarning:
    """A warning of this institution. Raises WarningNotFoundError (also for another institution's)."""
    warning = session.get(EarlyWarning, warning_id)
    if warning is None or warning.institution_id != institution_id:
        raise WarningNotFoundError(str(warning_id))
    return warning


def acknowledge_warning(session: Session, warning: EarlyWarning, *, actor_id: int) -> EarlyWarning:
    """The officer has seen it. Raises WarningStateError unless open."""
    if warning.status != WarningStatus.OPEN:
        raise WarningStateError(warning.status)
    warning.acknowledged_at = utcnow()
    warning.acknowledged_by = actor_id
    _move(session, warning, WarningStatus.ACKNOWLEDGED, actor_id=actor_id)
    return warning


def record_action(
    session: Session, warning: EarlyWarning, *, action: str, note: str | None, actor_id: int
) -> EarlyWarning:
    """What the officer did (contacted, site visit, restructured, no issue, escalated); acknowledges an
    open warning on the way. Raises InvalidInputError, WarningStateError once closed."""
    if action not in ACTIONS:
        raise InvalidInputError({"action": ["invalid_choice"]})
    clean = _note(note)
    if warning.status == WarningStatus.CLOSED:
        raise WarningStateError(warning.status)
    if warning.status == WarningStatus.OPEN:
        acknowledge_warning(session, warning, actor_id=actor_id)
    warning.action = action
    warning.action_note = clean
    warning.actioned_at = utcnow()
    _move(session, warning, WarningStatus.ACTIONED, actor_id=actor_id, note=clean, data={"action": action})
    return warning


def close_warning(
    session: Session, warning: EarlyWarning, *, outcome: str, actor_id: int, note: str | None = None
) -> EarlyWarning:
    """Close with an outcome (resolved, escalated to default, false positive). Raises InvalidInputError,
    WarningStateError unless an action was recorded first."""
    if outcome not in OUTCOMES:
        raise InvalidInputError({"outcome": ["invalid_choice"]})
    clean = _note(note)
    if warning.status != WarningStatus.ACTIONED:
        raise WarningStateError(warning.status)
    warning.outcome = outcome
    warning.closed_at = utcnow()
    warning.closed_by = actor_id
    _move(session, warning, WarningStatus.CLOSED, actor_id=actor_id, note=clean, data={"outcome": outcome})
    return warning


def escalate_overdue(session: Session, *, now: dt.datetime | None = None) -> list[EarlyWarning]:
    """The acknowledgement sweep: open warnings past their deadline go to every officer of the
    institution, once (escalated_at). Safe to run twice."""
    now = now or utcnow()
    due = session.scalars(
        select(EarlyWarning)
        .where(
            EarlyWarning.status == WarningStatus.OPEN,
            EarlyWarning.ack_due_at < now,
            EarlyWarning.escalated_at.is_(None),
        )
        .order_by(EarlyWarning.id)
    ).all()
    for warning in due:
        warning.escalated_at = now
        notify(
            session,
            [u.id for u in officers(session, warning.institution_id)],
            kind="early_warning_escalated",
            data={"warning_id": warning.id, "text": ESCALATED_TEXT.format(warning=warning.id)},
            dedup_key=f"early_warning_escalated:{warning.id}",
        )
        _move(session, warning, warning.status, note="escalated to the institution")
    return list(due)
