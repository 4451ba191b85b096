"""Bridge funds (续贷周转金): an applicant with a maturing loan applies, the bank records its signed
renewal commitment, the fund's operator approves only with the commitment on file and within the
scheme's limits, and each step of the money's round trip is dated; the fee is charged by the day at
the scheme's tiers. Overdue bridges raise alerts, a renewal the bank committed to and did not make is
recorded against the bank, and the fund pauses itself when its overdue share passes the threshold.
Every step is a status event (entity `bridge_application`)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, NotFoundError
from core.models import Role, User
from core.notifications import notify
from core.sql import add_months_py
from core.types import local_today
from credit_profile.models import Borrower
from guarantees.errors import CommitmentMissingError, LimitExceededError, SchemePausedError, StateError
from guarantees.fees import days_left, days_used, tiered_fee
from guarantees.history import record_step
from guarantees.models import BridgeApplication, BridgeStatus, Scheme, SchemeKind, SchemeStatus
from guarantees.schemes import set_paused
from matching.models import Loan, Need
from products.models import Institution

BRIDGE_ENTITY = "bridge_application"
MAX_MONEY = Decimal("100000000000")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Money of the fund is out (or owed back) in these states.
OUT = frozenset(
    {
        BridgeStatus.DISBURSED,
        BridgeStatus.OLD_LOAN_REPAID,
        BridgeStatus.RENEWAL_DISBURSED,
        BridgeStatus.OVERDUE,
        BridgeStatus.BANK_BREACH,
    }
)
OVERDUE = frozenset({BridgeStatus.OVERDUE, BridgeStatus.BANK_BREACH})
# The bank's steps, the operator's steps, in order.
NEXT_STEP = {
    BridgeStatus.DISBURSED: BridgeStatus.OLD_LOAN_REPAID,
    BridgeStatus.OLD_LOAN_REPAID: BridgeStatus.RENEWAL_DISBURSED,
    BridgeStatus.RENEWAL_DISBURSED: BridgeStatus.RETURNED,
}


def _event(
    session: Session,
    app: BridgeApplication,
    before: str | None,
    *,
    actor_id: int | None,
    note: str | None = None,
) -> None:
    record_step(session, BRIDGE_ENTITY, app, before, actor_id=actor_id, note=note)


def _money_errors(name: str, value: Decimal, errors: dict[str, list[str]]) -> None:
    if not Decimal(0) < value <= MAX_MONEY:
        errors[name] = ["out_of_range"]
    elif value != value.quantize(Decimal("0.01")):
        errors[name] = ["too_many_decimals"]


def _bridge_scheme(session: Session, scheme_id: int) -> Scheme:
    scheme = session.get(Scheme, scheme_id)
    if scheme is None or scheme.kind != SchemeKind.BRIDGE_FUND:
        raise InvalidInputError({"scheme_id": ["not_found"]})
    return scheme


@dataclass
class BridgeRequest:
    scheme_id: int
    amount: Decimal
    need_id: int | None = None
    loan_id: int | None = None
    # Without a need or a loan of the platform, the maturing loan as the applicant states it.
    institution_code: str | None = None
    contract_no: str = ""
    maturing_principal: Decimal | None = None
    matures_on: dt.date | None = None


def apply_for_bridge(
    session: Session, data: BridgeRequest, *, borrower_id: int, user_id: int
) -> BridgeApplication:
    """An applicant applies for a bridge for their maturing loan: from their renewal need, from a
    platform loan, or stating the loan. Raises NotFoundError (another borrower's need or loan),
    SchemePausedError, InvalidInputError."""
    scheme = _bridge_scheme(session, data.scheme_id)
    errors: dict[str, list[str]] = {}
    institution_id: int | None = None
    principal, matures_on = data.maturing_principal, data.matures_on
    if data.loan_id is not None:
        loan = session.get(Loan, data.loan_id)
        if loan is None or loan.borrower_id != borrower_id:
            raise NotFoundError("loan")
        institution_id, principal = loan.institution_id, loan.amount
        matures_on = add_months_py(loan.disbursed_on, loan.term_months)
    elif data.need_id is not None:
        need = session.get(Need, data.need_id)
        if need is None or need.borrower_id != borrower_id or not need.is_renewal:
            raise NotFoundError("need")
        data.institution_code = need.renewal_institution_code
        principal, matures_on = need.renewal_current_amount, need.renewal_matures_on
    if institution_id is None:
        institution_id = session.scalar(
            select(Institution.id).where(Institution.code == (data.institution_code or ""))
        )
        if institution_id is None:
            errors["institution_code"] = ["not_found"]
    if principal is None:
        errors["maturing_principal"] = ["required"]
    else:
        _money_errors("maturing_principal", principal, errors)
    if matures_on is None:
        errors["matures_on"] = ["required"]
    elif matures_on < local_today():
        errors["matures_on"] = ["in_past"]
    _money_errors("amount", data.amount, errors)
    if "amount" not in errors and data.amount > scheme.single_cap:
        errors["amount"] = ["above_single_cap"]
    elif "amount" not in errors and principal is not None and data.amount > principal:
        errors["amount"] = ["above_principal"]
    elif (
        "amount" not in errors
        and principal is not None
        and scheme.bridge_max_ratio is not None
        and data.amount > principal * scheme.bridge_max_ratio
    ):
        # The renewal is at most the maturing principal, and the bridge at most its share of it.
        errors["amount"] = ["above_commitment_share"]
    if len(data.contract_no) > 64:
        errors["contract_no"] = ["too_long"]
    if errors:
        raise InvalidInputError(errors)
    if scheme.status != SchemeStatus.ACTIVE:
        raise SchemePausedError(scheme.paused_reason or "")
    borrower = session.get(Borrower, borrower_id)
    assert (
        borrower is not None
        and institution_id is not None
        and principal is not None
        and matures_on is not None
    )
    app = BridgeApplication(
        scheme_id=scheme.id,
        borrower_id=borrower_id,
        region_code=borrower.region_code,
        need_id=data.need_id,
        loan_id=data.loan_id,
        institution_id=institution_id,
        contract_no=data.contract_no.strip(),
        maturing_principal=principal,
        matures_on=matures_on,
        amount=data.amount,
        status=BridgeStatus.SUBMITTED,
        submitted_by=user_id,
    )
    session.add(app)
    session.flush()
    _event(session, app, None, actor_id=user_id)
    return app


def bank_application(session: Session, app_id: int, *, institution_id: int) -> BridgeApplication:
    app = session.get(BridgeApplication, app_id)
    if app is None or app.institution_id != institution_id:
        raise NotFoundError("bridge")
    return app


def operator_application(session: Session, app_id: int, *, operator_id: int) -> BridgeApplication:
    app = session.get(BridgeApplication, app_id)
    scheme = session.get(Scheme, app.scheme_id) if app else None
    if app is None or scheme is None or scheme.operator_id != operator_id:
        raise NotFoundError("bridge")
    return app


@dataclass
class Commitment:
    amount: Decimal
    renewal_on: dt.date
    signer: str
    document_sha256: str


def record_commitment(
    session: Session, app_id: int, data: Commitment, *, institution_id: int, user_id: int
) -> BridgeApplication:
    """The lending bank records its signed commitment to renew: amount, date, signer and the SHA-256 of
    the signed document. Raises NotFoundError, StateError, InvalidInputError."""
    app = bank_application(session, app_id, institution_id=institution_id)
    if app.status != BridgeStatus.SUBMITTED:
        raise StateError(app.status)
    errors: dict[str, list[str]] = {}
    _money_errors("amount", data.amount, errors)
    if not data.signer.strip() or len(data.signer) > 64:
        errors["signer"] = ["required"]
    if not SHA256.match(data.document_sha256):
        errors["document_sha256"] = ["invalid_hash"]
    if data.renewal_on < local_today():
        errors["renewal_on"] = ["in_past"]
    if errors:
        raise InvalidInputError(errors)
    app.commitment_amount, app.commitment_date = data.amount, data.renewal_on
    app.commitment_signer, app.commitment_doc_hash = data.signer.strip(), data.document_sha256
    app.commitment_recorded_by = user_id
    app.status = BridgeStatus.COMMITTED
    _event(session, app, BridgeStatus.SUBMITTED, actor_id=user_id)
    return app


def outstanding(session: Session, scheme_id: int) -> tuple[Decimal, Decimal]:
    """The fund's money out (every bridge disbursed and not returned) and the overdue part of it."""
    rows = session.execute(
        select(BridgeApplication.status, func.coalesce(func.sum(BridgeApplication.amount), 0))
        .where(BridgeApplication.scheme_id == scheme_id, BridgeApplication.status.in_(OUT))
        .group_by(BridgeApplication.status)
    ).all()
    out = sum((Decimal(a) for _s, a in rows), Decimal(0))
    overdue = sum((Decimal(a) for s, a in rows if s in OVERDUE), Decimal(0))
    return out, overdue


def approve_bridge(session: Session, app_id: int, *, operator_id: int, user_id: int) -> BridgeApplication:
    """Approve a bridge: only with the bank's commitment on file, the bridge at most the scheme's share
    of the committed renewal and its single cap, and the fund's free capital enough.

    Raises NotFoundError, CommitmentMissingError, SchemePausedError, LimitExceededError, StateError.
    """
    app = operator_application(session, app_id, operator_id=operator_id)
    scheme = session.get(Scheme, app.scheme_id)
    assert scheme is not None
    if (
        app.status == BridgeStatus.SUBMITTED
        or app.commitment_amount is None
        or app.commitment_doc_hash is None
    ):
        raise CommitmentMissingError()
    if app.status != BridgeStatus.COMMITTED:
        raise StateError(app.status)
    if scheme.status != SchemeStatus.ACTIVE:
        raise SchemePausedError(scheme.paused_reason or "")
    assert scheme.bridge_max_ratio is not None
    if app.amount > app.commitment_amount * scheme.bridge_max_ratio:
        raise LimitExceededError("commitment_ratio")
    if app.amount > scheme.single_cap:
        raise LimitExceededError("single_cap")
    out, _overdue = outstanding(session, scheme.id)
    if out + app.amount > scheme.capital:
        raise LimitExceededError("capital")
    app.status, app.approved_by, app.approved_on = BridgeStatus.APPROVED, user_id, local_today()
    _event(session, app, BridgeStatus.COMMITTED, actor_id=user_id)
    return app


def refuse_bridge(
    session: Session, app_id: int, *, operator_id: int, user_id: int, reason: str
) -> BridgeApplication:
    """Refuse a bridge not yet disbursed, with a reason.
    Raises NotFoundError, StateError, InvalidInputError."""
    app = operator_application(session, app_id, operator_id=operator_id)
    if app.status not in (BridgeStatus.SUBMITTED, BridgeStatus.COMMITTED, BridgeStatus.APPROVED):
        raise StateError(app.status)
    reason = reason.strip()
    if not reason:
        raise InvalidInputError({"reason": ["required"]})
    before = app.status
    app.status, app.reason = BridgeStatus.REFUSED, reason
    _event(session, app, before, actor_id=user_id, note=reason)
    return app


def _date_errors(on: dt.date, after: dt.date | None) -> dict[str, list[str]]:
    if on > local_today():
        return {"on": ["in_future"]}
    if after is not None and on < after:
        return {"on": ["before_previous_step"]}
    return {}


def disburse_bridge(
    session: Session, app_id: int, *, operator_id: int, user_id: int, on: dt.date
) -> BridgeApplication:
    """The bridge leaves the fund: its clock starts and it is due back within the scheme's days."""
    app = operator_application(session, app_id, operator_id=operator_id)
    scheme = session.get(Scheme, app.scheme_id)
    assert scheme is not None and scheme.bridge_max_days is not None
    if app.status != BridgeStatus.APPROVED:
        raise StateError(app.status)
    errors = _date_errors(on, app.approved_on)
    if errors:
        raise InvalidInputError(errors)
    app.status, app.disbursed_on = BridgeStatus.DISBURSED, on
    app.due_on = on + dt.timedelta(days=scheme.bridge_max_days)
    _event(session, app, BridgeStatus.APPROVED, actor_id=user_id)
    return app


def record_old_loan_repaid(
    session: Session, app_id: int, *, institution_id: int, user_id: int, on: dt.date
) -> BridgeApplication:
    """The bank confirms the maturing loan was repaid with the bridge."""
    app = bank_application(session, app_id, institution_id=institution_id)
    if app.status not in (BridgeStatus.DISBURSED, BridgeStatus.OVERDUE) or app.old_loan_repaid_on is not None:
        raise StateError(app.status)
    errors = _date_errors(on, app.disbursed_on)
    if errors:
        raise InvalidInputError(errors)
    before = app.status
    app.old_loan_repaid_on = on
    if app.status == BridgeStatus.DISBURSED:
        app.status = BridgeStatus.OLD_LOAN_REPAID
    _event(session, app, before, actor_id=user_id, note="old_loan_repaid")
    return app


def record_renewal(
    session: Session, app_id: int, *, institution_id: int, user_id: int, on: dt.date, amount: Decimal
) -> BridgeApplication:
    """The bank disbursed the renewal loan (the bridge is repaid from it)."""
    app = bank_application(session, app_id, institution_id=institution_id)
    if app.old_loan_repaid_on is None or app.renewal_disbursed_on is not None or app.status not in OUT:
        raise StateError(app.status)
    errors = _date_errors(on, app.old_loan_repaid_on)
    _money_errors("amount", amount, errors)
    if errors:
        raise InvalidInputError(errors)
    before = app.status
    app.renewal_disbursed_on, app.renewal_amount = on, amount
    if app.status in (BridgeStatus.OLD_LOAN_REPAID, BridgeStatus.BANK_BREACH):
        app.status = BridgeStatus.RENEWAL_DISBURSED
    _event(session, app, before, actor_id=user_id, note="renewal_disbursed")
    return app


def return_bridge(
    session: Session, app_id: int, *, operator_id: int, user_id: int, on: dt.date
) -> BridgeApplication:
    """The bridge is back in the fund: the days used and the fee by the scheme's tiers are fixed; the
    fund resumes if it was paused by its overdue rule and no longer passes it."""
    app = operator_application(session, app_id, operator_id=operator_id)
    scheme = session.get(Scheme, app.scheme_id)
    assert scheme is not None
    if app.status not in OUT or app.disbursed_on is None:
        raise StateError(app.status)
    errors = _date_errors(on, app.renewal_disbursed_on or app.disbursed_on)
    if errors:
        raise InvalidInputError(errors)
    before = app.status
    app.status, app.returned_on = BridgeStatus.RETURNED, on
    app.days_used = days_used(app.disbursed_on, on)
    app.fee = tiered_fee(app.amount, app.days_used, scheme.fee_tiers)
    _event(session, app, before, actor_id=user_id)
    session.flush()
    apply_pause_rule(session, scheme)
    return app


def overdue_ratio(session: Session, scheme: Scheme) -> Decimal:
    """Overdue bridge money ÷ the fund's capital, unrounded (the pause rule compares it exactly)."""
    _out, overdue = outstanding(session, scheme.id)
    return overdue / scheme.capital if scheme.capital else Decimal(0)


def apply_pause_rule(session: Session, scheme: Scheme) -> bool:
    """Pause the fund when its overdue bridges exceed the threshold share of its capital, saying why;
    resume it when a rule had paused it and the share is back within. Returns whether it changed."""
    if scheme.pause_overdue_ratio is None:
        return False
    ratio = overdue_ratio(session, scheme)
    if ratio > scheme.pause_overdue_ratio:
        if scheme.status == SchemeStatus.PAUSED:
            return False
        reason = (
            f"逾期未还周转金占资金规模 {ratio * 100:.2f}%，"
            f"超过暂停阈值 {scheme.pause_overdue_ratio * 100:.2f}%，新业务自动暂停"
        )
        return set_paused(session, scheme, paused=True, reason=reason, actor_id=None, by_rule=True)
    if scheme.status == SchemeStatus.PAUSED and scheme.paused_by_rule:
        return set_paused(session, scheme, paused=False, reason=None, actor_id=None)
    return False


def _staff(session: Session, institution_id: int, role: str) -> list[int]:
    return list(
        session.scalars(
            select(User.id).where(
                User.institution_id == institution_id, User.role == role, User.active.is_(True)
            )
        )
    )


def sweep_overdue(session: Session, *, today: dt.date | None = None) -> int:
    """Mark bridges past their due date overdue and alert the operator and the bank; one whose old loan
    was repaid but whose committed renewal was not disbursed by then is a breach by the bank. Then apply
    each fund's pause rule. Idempotent; returns how many bridges changed."""
    today = today or local_today()
    apps = session.scalars(
        select(BridgeApplication)
        .where(
            BridgeApplication.status.in_(
                [BridgeStatus.DISBURSED, BridgeStatus.OLD_LOAN_REPAID, BridgeStatus.RENEWAL_DISBURSED]
            ),
            BridgeApplication.due_on < today,
        )
        .order_by(BridgeApplication.id)
    ).all()
    schemes: dict[int, Scheme] = {}
    for app in apps:
        scheme = session.get(Scheme, app.scheme_id)
        assert scheme is not None
        schemes[scheme.id] = scheme
        before = app.status
        breach = app.old_loan_repaid_on is not None and app.renewal_disbursed_on is None
        app.status = BridgeStatus.BANK_BREACH if breach else BridgeStatus.OVERDUE
        app.overdue_on = today
        if breach:
            app.breach_on = today
        _event(session, app, before, actor_id=None)
        data = {"bridge": app.id, "amount": str(app.amount), "due_on": str(app.due_on), "breach": breach}
        users = _staff(session, scheme.operator_id, Role.GUARANTOR.value)
        users += _staff(session, app.institution_id, Role.OFFICER.value)
        notify(session, users, kind="bridge_overdue", data=data, dedup_key=f"bridge-overdue:{app.id}")
    for scheme in session.scalars(select(Scheme).where(Scheme.kind == SchemeKind.BRIDGE_FUND)):
        apply_pause_rule(session, scheme)
    session.flush()
    return len(apps)


@dataclass(frozen=True)
class Clock:
    """The live clock of a bridge: days used so far, days left (negative when overdue), fee so far."""

    days_used: int
    days_left: int | None
    fee_so_far: Decimal


def clock(scheme: Scheme, app: BridgeApplication, today: dt.date) -> Clock | None:
    if app.disbursed_on is None or app.due_on is None:
        return None
    end = app.returned_on or today
    used = days_used(app.disbursed_on, end)
    fee = app.fee if app.fee is not None else tiered_fee(app.amount, used, scheme.fee_tiers)
    left = None if app.returned_on else days_left(app.due_on, today)
    return Clock(used, left, fee)
