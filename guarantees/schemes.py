"""Schemes as data, maintained by the city finance office: creating and changing them, naming the
products they cover, eligibility, and pausing (by hand or by a pause rule)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.audit import ChainProblem
from core.errors import InvalidInputError, NotFoundError
from core.events import record_event
from core.models import StatusEvent
from credit_profile.models import Borrower
from guarantees.models import (
    BridgeApplication,
    Cover,
    CoverStatus,
    Scheme,
    SchemeKind,
    SchemeProduct,
    SchemeStatus,
)
from guarantees.waterfall import parse_shares
from products.models import Institution, Product

MAX_AMOUNT = Decimal("100000000000")
SCHEME_ENTITY = "guarantee_scheme"
# What a scheme's audit event seals: every term a cover, a claim or a fee is computed from, its status
# and its operator. `verify_schemes` compares the stored scheme with its newest sealed event.
TERM_COLUMNS = (
    "code", "name", "kind", "sponsor", "funding_shares", "operator_id", "capital", "leverage_limit",
    "loss_shares", "tenor_bands", "covers_interest", "fee_rate_cap", "single_cap", "comp_cap_rate",
    "filing_deadline_days", "claim_deadline_days", "decision_sla_hours", "eligibility",
    "bridge_max_ratio", "bridge_max_days", "fee_tiers", "pause_overdue_ratio", "status",
    "paused_reason", "paused_by_rule",
)  # fmt: skip


def _plain_term(value: Any) -> Any:
    # Decimals by value, not by the scale a database returns them with (1.5 and 1.50 are one term).
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value


def scheme_terms(scheme: Scheme) -> dict[str, Any]:
    """The scheme's terms as plain JSON values (what its audit event records)."""
    return {name: _plain_term(getattr(scheme, name)) for name in TERM_COLUMNS}


def terms_digest(terms: Mapping[str, Any]) -> str:
    """SHA-256 over the terms as canonical JSON."""
    payload = json.dumps(dict(terms), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _record_change(
    session: Session,
    scheme: Scheme,
    *,
    to_status: str,
    from_status: str | None = None,
    actor_id: int | None,
    note: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> None:
    """Seal the scheme's terms as they now stand (with `data`, e.g. an edit's changes) into the chain."""
    session.flush()
    terms = scheme_terms(scheme)
    record_event(
        session,
        entity_type=SCHEME_ENTITY,
        entity_id=scheme.id,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor_id,
        note=note,
        data={**(data or {}), "terms": terms, "digest": terms_digest(terms)},
    )


def verify_schemes(session: Session) -> list[ChainProblem]:
    """Every scheme as stored now against its newest sealed audit event (`scheme_mismatch` when a term,
    its status or its operator was changed around the service, or the scheme has no event at all)."""
    latest: dict[int, StatusEvent] = {}
    events = session.scalars(
        select(StatusEvent)
        .where(StatusEvent.entity_type == SCHEME_ENTITY, StatusEvent.hash.is_not(None))
        .order_by(StatusEvent.chain_seq)
    )
    for event in events:
        latest[event.entity_id] = event
    problems = []
    for scheme in session.scalars(select(Scheme).order_by(Scheme.id)):
        sealed = latest.get(scheme.id)
        digest = (sealed.data or {}).get("digest") if sealed is not None else None
        if sealed is not None and digest is None:
            continue  # sealed before terms were recorded: the chain vouches for its status only
        if digest != terms_digest(scheme_terms(scheme)):
            problems.append(
                ChainProblem(
                    "scheme_mismatch",
                    sealed.chain_seq if sealed is not None else None,
                    sealed.id if sealed is not None else None,
                    f"scheme {scheme.code} differs from its audited terms",
                )
            )
    return problems


@dataclass
class SchemeInput:
    """What the finance office enters for a scheme; validated by `validate_scheme`."""

    code: str
    name: str
    kind: str
    sponsor: str
    operator_code: str
    capital: Decimal
    leverage_limit: Decimal
    loss_shares: dict[str, Any]
    fee_rate_cap: Decimal
    single_cap: Decimal
    comp_cap_rate: Decimal
    filing_deadline_days: int
    claim_deadline_days: int
    funding_shares: dict[str, Any] = field(default_factory=dict)
    tenor_bands: list[dict[str, Any]] = field(default_factory=list)
    covers_interest: bool = False
    decision_sla_hours: int = 48
    eligibility: dict[str, Any] = field(default_factory=dict)
    bridge_max_ratio: Decimal | None = None
    bridge_max_days: int | None = None
    fee_tiers: list[dict[str, Any]] = field(default_factory=list)
    pause_overdue_ratio: Decimal | None = None


def _fraction(value: Any) -> bool:
    try:
        return Decimal(str(value)).is_finite() and Decimal(0) <= Decimal(str(value)) <= 1
    except (InvalidOperation, ValueError):
        return False


def _shares_ok(raw: Any) -> bool:
    try:
        parse_shares(raw)
    except (ValueError, InvalidOperation, TypeError, AttributeError):
        return False
    return True


def validate_scheme(data: SchemeInput) -> dict[str, list[str]]:
    """Field error codes for a scheme that cannot be saved (empty when it can)."""
    errors: dict[str, list[str]] = {}
    if data.kind not in set(SchemeKind):
        errors["kind"] = ["invalid_choice"]
    if not data.code.strip() or len(data.code) > 32:
        errors["code"] = ["required"]
    if not data.name.strip() or len(data.name) > 128:
        errors["name"] = ["required"]
    for name in ("capital", "single_cap"):
        if not Decimal(0) < getattr(data, name) <= MAX_AMOUNT:
            errors[name] = ["out_of_range"]
    if not Decimal(0) < data.leverage_limit <= 100:
        errors["leverage_limit"] = ["out_of_range"]
    for name in ("fee_rate_cap", "comp_cap_rate"):
        if not _fraction(getattr(data, name)):
            errors[name] = ["out_of_range"]
    if not _shares_ok(data.loss_shares):
        errors["loss_shares"] = ["invalid_shares"]
    if any(not isinstance(b, dict) or not _shares_ok(b.get("shares")) for b in data.tenor_bands):
        errors["tenor_bands"] = ["invalid_shares"]
    if data.funding_shares and not _shares_ok(data.funding_shares):
        errors["funding_shares"] = ["invalid_shares"]
    for name in ("filing_deadline_days", "claim_deadline_days"):
        if not 1 <= getattr(data, name) <= 3650:
            errors[name] = ["out_of_range"]
    if not 1 <= data.decision_sla_hours <= 720:
        errors["decision_sla_hours"] = ["out_of_range"]
    if data.kind == SchemeKind.BRIDGE_FUND:
        if data.bridge_max_ratio is None or not Decimal(0) < data.bridge_max_ratio <= 1:
            errors["bridge_max_ratio"] = ["out_of_range"]
        if data.bridge_max_days is None or not 1 <= data.bridge_max_days <= 90:
            errors["bridge_max_days"] = ["out_of_range"]
        if data.pause_overdue_ratio is None or not _fraction(data.pause_overdue_ratio):
            errors["pause_overdue_ratio"] = ["out_of_range"]
        if (
            not data.fee_tiers
            or data.fee_tiers[-1].get("up_to_day") is not None
            or any(not _fraction(t.get("daily_rate")) for t in data.fee_tiers)
        ):
            errors["fee_tiers"] = ["invalid_tiers"]
    return errors


def _operator(session: Session, code: str) -> Institution:
    institution = session.scalar(select(Institution).where(Institution.code == code))
    if institution is None:
        raise InvalidInputError({"operator_code": ["not_found"]})
    return institution


def create_scheme(session: Session, data: SchemeInput, *, actor_id: int | None) -> Scheme:
    """Save a new scheme. Raises InvalidInputError with field codes (`code: taken` among them)."""
    errors = validate_scheme(data)
    if errors:
        raise InvalidInputError(errors)
    if session.scalar(select(Scheme.id).where(Scheme.code == data.code)) is not None:
        raise InvalidInputError({"code": ["taken"]})
    operator = _operator(session, data.operator_code)
    scheme = Scheme(
        code=data.code,
        name=data.name,
        kind=data.kind,
        sponsor=data.sponsor,
        funding_shares=data.funding_shares,
        operator_id=operator.id,
        capital=data.capital,
        leverage_limit=data.leverage_limit,
        loss_shares={k: str(v) for k, v in data.loss_shares.items()},
        tenor_bands=data.tenor_bands,
        covers_interest=data.covers_interest,
        fee_rate_cap=data.fee_rate_cap,
        single_cap=data.single_cap,
        comp_cap_rate=data.comp_cap_rate,
        filing_deadline_days=data.filing_deadline_days,
        claim_deadline_days=data.claim_deadline_days,
        decision_sla_hours=data.decision_sla_hours,
        eligibility=data.eligibility,
        bridge_max_ratio=data.bridge_max_ratio,
        bridge_max_days=data.bridge_max_days,
        fee_tiers=data.fee_tiers,
        pause_overdue_ratio=data.pause_overdue_ratio,
    )
    session.add(scheme)
    session.flush()
    _record_change(session, scheme, to_status=scheme.status, actor_id=actor_id)
    return scheme


# The columns a scheme's edit may change, as SchemeInput names them (operator_code → operator_id).
EDITABLE = (
    "code", "name", "kind", "sponsor", "capital", "leverage_limit", "loss_shares", "fee_rate_cap",
    "single_cap", "comp_cap_rate", "filing_deadline_days", "claim_deadline_days", "funding_shares",
    "tenor_bands", "covers_interest", "decision_sla_hours", "eligibility", "bridge_max_ratio",
    "bridge_max_days", "fee_tiers", "pause_overdue_ratio",
)  # fmt: skip


def scheme_input(session: Session, scheme: Scheme) -> SchemeInput:
    """A scheme as the input that would save it unchanged (the start of an edit)."""
    operator = session.get(Institution, scheme.operator_id)
    assert operator is not None
    values = {name: getattr(scheme, name) for name in EDITABLE}
    return SchemeInput(operator_code=operator.code, **values)


def _in_use(session: Session, scheme_id: int) -> bool:
    cover = session.scalar(select(Cover.id).where(Cover.scheme_id == scheme_id).limit(1))
    bridge = session.scalar(
        select(BridgeApplication.id).where(BridgeApplication.scheme_id == scheme_id).limit(1)
    )
    return cover is not None or bridge is not None


def _plain(value: Any, *, nested: bool = False) -> Any:
    """A value as the audit trail keeps it: decimals in plain notation without trailing zeros (0.01
    and 0.010000 are the same rate; inside shares and tiers "0.20" and "0.2" too), so that only real
    changes are recorded."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, dict):
        return {k: _plain(v, nested=True) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, nested=True) for v in value]
    if nested and isinstance(value, str):
        try:
            return f"{Decimal(value).normalize():f}"
        except InvalidOperation:
            return value
    return value


def update_scheme(session: Session, scheme_id: int, data: SchemeInput, *, actor_id: int | None) -> Scheme:
    """Change a scheme's terms, all or nothing; the event records each changed field before and after.
    A scheme with covers or bridges keeps its kind. Returns the scheme unchanged (no event) when nothing
    differs. Raises NotFoundError, InvalidInputError (`code: taken`, `kind: in_use`, field codes)."""
    scheme = get_scheme(session, scheme_id)
    errors = validate_scheme(data)
    if errors:
        raise InvalidInputError(errors)
    taken = select(Scheme.id).where(Scheme.code == data.code, Scheme.id != scheme.id)
    if session.scalar(taken) is not None:
        raise InvalidInputError({"code": ["taken"]})
    if data.kind != scheme.kind and _in_use(session, scheme.id):
        raise InvalidInputError({"kind": ["in_use"]})
    operator = _operator(session, data.operator_code)
    values: dict[str, Any] = {name: getattr(data, name) for name in EDITABLE}
    values["loss_shares"] = {k: str(v) for k, v in data.loss_shares.items()}
    values["operator_id"] = operator.id
    changes = {
        name: [_plain(getattr(scheme, name)), _plain(value)]
        for name, value in values.items()
        if _plain(getattr(scheme, name)) != _plain(value)
    }
    if not changes:
        return scheme
    for name, value in values.items():
        setattr(scheme, name, value)
    _record_change(
        session,
        scheme,
        from_status=scheme.status,
        to_status=scheme.status,
        actor_id=actor_id,
        note="edited",
        data={"changes": changes},
    )
    return scheme


def scheme_history(session: Session, scheme_id: int, *, limit: int = 20) -> list[StatusEvent]:
    """The scheme's newest audit events (creation, edits with their changes, pauses), newest first."""
    stmt = (
        select(StatusEvent)
        .where(StatusEvent.entity_type == SCHEME_ENTITY, StatusEvent.entity_id == scheme_id)
        .order_by(StatusEvent.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def get_scheme(session: Session, scheme_id: int) -> Scheme:
    """Raises NotFoundError."""
    scheme = session.get(Scheme, scheme_id)
    if scheme is None:
        raise NotFoundError("scheme")
    return scheme


def list_schemes(session: Session, *, kind: str | None = None) -> list[Scheme]:
    query = select(Scheme).order_by(Scheme.id)
    if kind:
        query = query.where(Scheme.kind == kind)
    return list(session.scalars(query))


def set_paused(
    session: Session,
    scheme: Scheme,
    *,
    paused: bool,
    reason: str | None,
    actor_id: int | None,
    by_rule: bool = False,
) -> bool:
    """Pause (with the reason people will read) or resume a scheme; returns whether it changed.
    Raises InvalidInputError(reason=['required']) for a pause without a reason."""
    reason = (reason or "").strip() or None
    if paused and reason is None:
        raise InvalidInputError({"reason": ["required"]})
    target = SchemeStatus.PAUSED if paused else SchemeStatus.ACTIVE
    if scheme.status == target:
        return False
    before = scheme.status
    scheme.status = target
    scheme.paused_reason = reason if paused else None
    scheme.paused_by_rule = paused and by_rule
    _record_change(session, scheme, from_status=before, to_status=target, actor_id=actor_id, note=reason)
    return True


def linked_product_ids(session: Session, scheme_ids: Iterable[int]) -> dict[int, list[int]]:
    """Scheme id -> the ids of the products it covers, ascending (every asked scheme has a list)."""
    result: dict[int, list[int]] = {scheme_id: [] for scheme_id in scheme_ids}
    if result:
        for scheme_id, product_id in session.execute(
            select(SchemeProduct.scheme_id, SchemeProduct.product_id)
            .where(SchemeProduct.scheme_id.in_(list(result)))
            .order_by(SchemeProduct.scheme_id, SchemeProduct.product_id)
        ):
            result[scheme_id].append(product_id)
    return result


def link_products(session: Session, scheme: Scheme, product_ids: Iterable[int]) -> int:
    """Name products the scheme covers (idempotent); returns how many links are new."""
    existing = set(
        session.scalars(select(SchemeProduct.product_id).where(SchemeProduct.scheme_id == scheme.id))
    )
    new = [pid for pid in dict.fromkeys(product_ids) if pid not in existing]
    for product_id in new:
        if session.get(Product, product_id) is None:
            raise InvalidInputError({"product_ids": ["not_found"]})
        session.add(SchemeProduct(scheme_id=scheme.id, product_id=product_id))
    session.flush()
    return len(new)


@dataclass(frozen=True)
class SchemeBadge:
    scheme_id: int
    code: str
    name: str
    kind: str


def active_badges(session: Session) -> dict[int, list[SchemeBadge]]:
    """Every product's badges under the active schemes (as `product_badges`), for a page that lists many
    products (the 金融超市): a few rows in all, read by one statement built once, through the session's
    connection, instead of one naming the listed products (built anew for each list's length)."""
    badges: dict[int, list[SchemeBadge]] = {}
    for product_id, scheme_id, code, name, kind in session.connection().execute(_active_badges_statement()):
        badges.setdefault(product_id, []).append(SchemeBadge(scheme_id, code, name, kind))
    return badges


@functools.cache
def _active_badges_statement() -> Select[int, int, str, str, str]:
    return (
        select(SchemeProduct.product_id, Scheme.id, Scheme.code, Scheme.name, Scheme.kind)
        .join(Scheme, Scheme.id == SchemeProduct.scheme_id)
        .where(Scheme.status == SchemeStatus.ACTIVE)
        .order_by(SchemeProduct.product_id, Scheme.id)
    )


def product_badges(session: Session, product_ids: Sequence[int]) -> dict[int, list[SchemeBadge]]:
    """The schemes covering each product, active ones only (the supermarket's 政府性担保 / 风险补偿)."""
    if not product_ids:
        return {}
    rows = session.execute(
        select(SchemeProduct.product_id, Scheme.id, Scheme.code, Scheme.name, Scheme.kind)
        .join(Scheme, Scheme.id == SchemeProduct.scheme_id)
        .where(SchemeProduct.product_id.in_(product_ids), Scheme.status == SchemeStatus.ACTIVE)
        .order_by(SchemeProduct.product_id, Scheme.id)
    )
    badges: dict[int, list[SchemeBadge]] = {}
    for product_id, scheme_id, code, name, kind in rows:
        badges.setdefault(product_id, []).append(SchemeBadge(scheme_id, code, name, kind))
    return badges


def product_scheme_notes(session: Session, product_ids: Collection[int]) -> dict[int, list[tuple[str, str]]]:
    """The active public schemes behind each product as matching's explanations name them: (kind, name),
    a guarantee or re-guarantee by its guarantor's name (吉庐陵融资担保), a fund by the scheme's
    (matching.dispatch.register_product_scheme_lookup, installed by the portal)."""
    if not product_ids:
        return {}
    rows = session.execute(
        select(SchemeProduct.product_id, Scheme.kind, Scheme.name, Institution.name)
        .join(Scheme, Scheme.id == SchemeProduct.scheme_id)
        .join(Institution, Institution.id == Scheme.operator_id)
        .where(SchemeProduct.product_id.in_(list(product_ids)), Scheme.status == SchemeStatus.ACTIVE)
        .order_by(SchemeProduct.product_id, Scheme.id)
    )
    notes: dict[int, list[tuple[str, str]]] = {}
    for product_id, kind, scheme_name, operator_name in rows:
        guarantee = kind in (SchemeKind.GUARANTEE, SchemeKind.REGUARANTEE)
        notes.setdefault(product_id, []).append((kind, operator_name if guarantee else scheme_name))
    return notes


def eligibility_errors(
    scheme: Scheme, borrower: Borrower, *, amount: Decimal, product_tags: Sequence[str] = ()
) -> list[str]:
    """Why a loan cannot be covered by the scheme (codes); empty when it can."""
    rules: Mapping[str, Any] = scheme.eligibility or {}
    errors = []
    if rules.get("region_codes") and borrower.region_code not in rules["region_codes"]:
        errors.append("region")
    if rules.get("borrower_kinds") and borrower.kind not in rules["borrower_kinds"]:
        errors.append("borrower_kind")
    if any(borrower.industry_code.startswith(code) for code in rules.get("industries_excluded", [])):
        errors.append("industry")
    if rules.get("tags") and not set(rules["tags"]) & set(product_tags):
        errors.append("tags")
    if amount > scheme.single_cap:
        errors.append("single_cap")
    return errors


def deadline(start: dt.date, days: int) -> dt.date:
    return start + dt.timedelta(days=days)


def loan_schemes(session: Session, loan_ids: Collection[int]) -> dict[int, str]:
    """The public scheme standing behind each of these loans, by name: loans with a cover in force
    (active, or defaulted and not yet closed). Post-loan monitoring names its red warnings only for
    these loans (monitoring.figures.register_public_scheme_lookup, installed by the portal)."""
    if not loan_ids:
        return {}
    rows = session.execute(
        select(Cover.loan_id, Scheme.name)
        .join(Scheme, Scheme.id == Cover.scheme_id)
        .where(
            Cover.loan_id.in_(list(loan_ids)),
            Cover.status.in_([CoverStatus.ACTIVE, CoverStatus.DEFAULTED]),
        )
    )
    return {loan_id: name for loan_id, name in rows if loan_id is not None}
