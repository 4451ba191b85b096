"""Borrowers, consents, provider ingestion and credit profiles: the credit_profile public API.

Services flush, never commit. Every read of authorised data, and every refused attempt, is a ConsentUse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.identifiers import is_valid_id_number, is_valid_uscc, normalize_code
from core.reference import BORROWER_KINDS, DATA_SOURCES, REGIONS, industry_section
from core.services import add_job, record_event
from core.types import SHANGHAI, utcnow
from credit_profile.consent_text import CONSENT_TEXT_HASH, CONSENT_TEXT_VERSION
from credit_profile.errors import (
    BorrowerNotFoundError,
    ConsentNotFoundError,
    ConsentRequiredError,
    ConsentStateError,
    SignatureError,
)
from credit_profile.expert import expert_scorecard
from credit_profile.explain import reasons as explain_reasons
from credit_profile.features import BankFlowMonth, ElectricityMonth, TaxMonth, compute_features, coverage
from credit_profile.models import (
    Borrower,
    BorrowerKind,
    Consent,
    ConsentStatus,
    ConsentUse,
    CreditScore,
    DataProvider,
    DataRecord,
    ProviderNonce,
    ScorecardVersion,
    Source,
)
from credit_profile.scorecard import Scorecard

SIGNATURE_MAX_AGE_SECONDS = 300
MAX_RECORDS_PER_BATCH = 1000
MAX_RECORD_AMOUNT = Decimal("1000000000000")
CONSENT_MAX_DAYS = 3 * 366
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
CREDIT_RATINGS = ("A", "B", "M", "C", "D")
SOURCE_FIELDS: dict[str, tuple[str, ...]] = {
    "electricity": ("kwh", "bill_amount"),
    "tax": ("sales", "tax_paid", "credit_rating", "arrears"),
    "bank_flow": ("inflow", "outflow", "end_balance"),
}


def today_local() -> dt.date:
    return utcnow().astimezone(SHANGHAI).date()


# --- borrowers -------------------------------------------------------------------------------


@dataclass
class BorrowerInput:
    kind: str
    name: str
    region_code: str
    industry_code: str
    uscc: str | None = None
    id_number: str | None = None
    established_on: dt.date | None = None
    employees: int | None = None


def validate_borrower(session: Session, data: BorrowerInput) -> dict[str, list[str]]:
    """Field -> error codes for a new borrower (check characters, reference codes, uniqueness)."""
    errors: dict[str, list[str]] = {}

    def add(name: str, code: str) -> None:
        errors.setdefault(name, []).append(code)

    if data.kind not in BORROWER_KINDS:
        add("kind", "invalid_choice")
    if not data.name.strip():
        add("name", "required")
    if data.region_code not in REGIONS:
        add("region_code", "invalid_choice")
    if industry_section(data.industry_code) is None:
        add("industry_code", "invalid_choice")
    if data.kind == BorrowerKind.FARMER:
        if not data.id_number:
            add("id_number", "required")
        elif not is_valid_id_number(data.id_number):
            add("id_number", "invalid_checksum")
        elif session.scalar(select(Borrower.id).where(Borrower.id_number == data.id_number)):
            add("id_number", "taken")
    elif data.kind in BORROWER_KINDS:
        if not data.uscc:
            add("uscc", "required")
        elif not is_valid_uscc(data.uscc):
            add("uscc", "invalid_checksum")
        elif session.scalar(select(Borrower.id).where(Borrower.uscc == data.uscc)):
            add("uscc", "taken")
    if data.established_on is not None and data.established_on > today_local():
        add("established_on", "in_future")
    if data.employees is not None and not 0 <= data.employees <= 1_000_000:
        add("employees", "out_of_range")
    return errors


def register_borrower(session: Session, data: BorrowerInput, *, synthetic: bool = False) -> Borrower:
    """Create a borrower. Identifiers are normalised first. Raises InvalidInputError."""
    data.uscc = normalize_code(data.uscc) if data.uscc else None
    data.id_number = normalize_code(data.id_number) if data.id_number else None
    if data.kind == BorrowerKind.FARMER:
        data.uscc = None
    else:
        data.id_number = None
    errors = validate_borrower(session, data)
    if errors:
        raise InvalidInputError(errors)
    borrower = Borrower(
        kind=data.kind,
        name=data.name.strip(),
        region_code=data.region_code,
        industry_code=data.industry_code.upper(),
        uscc=data.uscc,
        id_number=data.id_number,
        established_on=data.established_on,
        employees=data.employees,
        synthetic=synthetic,
    )
    session.add(borrower)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        field = "id_number" if data.kind == BorrowerKind.FARMER else "uscc"
        raise InvalidInputError({field: ["taken"]}) from exc
    return borrower


def get_borrower(session: Session, borrower_id: int) -> Borrower:
    """Raises BorrowerNotFoundError."""
    borrower = session.get(Borrower, borrower_id)
    if borrower is None:
        raise BorrowerNotFoundError(str(borrower_id))
    return borrower


def find_borrower(
    session: Session, *, uscc: str | None = None, id_number: str | None = None
) -> Borrower | None:
    if uscc:
        return session.scalar(select(Borrower).where(Borrower.uscc == normalize_code(uscc)))
    if id_number:
        return session.scalar(select(Borrower).where(Borrower.id_number == normalize_code(id_number)))
    return None


# --- consents --------------------------------------------------------------------------------


def grant_consent(
    session: Session,
    *,
    borrower_id: int,
    sources: Sequence[str],
    purpose: str,
    expires_on: dt.date,
    actor_id: int | None,
) -> Consent:
    """Record an authorisation for these sources until expires_on. Raises InvalidInputError."""
    errors: dict[str, list[str]] = {}
    if not sources or any(s not in DATA_SOURCES for s in sources):
        errors["sources"] = ["invalid_choice"]
    if not purpose.strip():
        errors["purpose"] = ["required"]
    today = today_local()
    if expires_on < today:
        errors["expires_on"] = ["in_past"]
    elif expires_on > today + dt.timedelta(days=CONSENT_MAX_DAYS):
        errors["expires_on"] = ["too_far"]
    if errors:
        raise InvalidInputError(errors)
    consent = Consent(
        borrower_id=borrower_id,
        sources=sorted(set(sources)),
        purpose=purpose.strip(),
        status=ConsentStatus.ACTIVE,
        granted_by=actor_id,
        granted_at=utcnow(),
        expires_on=expires_on,
        text_version=CONSENT_TEXT_VERSION,
        text_hash=CONSENT_TEXT_HASH,
    )
    session.add(consent)
    session.flush()
    record_event(
        session,
        entity_type="consent",
        entity_id=consent.id,
        to_status=ConsentStatus.ACTIVE,
        actor_id=actor_id,
    )
    return consent


def effective_status(consent: Consent, today: dt.date | None = None) -> str:
    """active / revoked / expired, counting a passed expiry date as expired before the sweep marks it."""
    if consent.status == ConsentStatus.ACTIVE and consent.expires_on < (today or today_local()):
        return ConsentStatus.EXPIRED
    return consent.status


def list_consents(session: Session, borrower_id: int) -> Sequence[Consent]:
    return session.scalars(
        select(Consent).where(Consent.borrower_id == borrower_id).order_by(Consent.id.desc())
    ).all()


def get_consent(session: Session, consent_id: int, *, borrower_id: int) -> Consent:
    """The borrower's own consent. Raises ConsentNotFoundError (also for another borrower's)."""
    consent = session.get(Consent, consent_id)
    if consent is None or consent.borrower_id != borrower_id:
        raise ConsentNotFoundError(str(consent_id))
    return consent


def revoke_consent(
    session: Session, consent: Consent, *, actor_id: int | None, reason: str | None = None
) -> Consent:
    """Stop every new read and record under this consent at once. Raises ConsentStateError unless active."""
    if effective_status(consent) != ConsentStatus.ACTIVE:
        raise ConsentStateError(consent.status)
    consent.status = ConsentStatus.REVOKED
    consent.revoked_at = utcnow()
    consent.revoked_by = actor_id
    consent.revoke_reason = (reason or "").strip()[:200] or None
    session.flush()
    record_event(
        session,
        entity_type="consent",
        entity_id=consent.id,
        from_status=ConsentStatus.ACTIVE,
        to_status=ConsentStatus.REVOKED,
        actor_id=actor_id,
        note=consent.revoke_reason,
    )
    return consent


def active_consents(session: Session, borrower_id: int) -> dict[str, Consent]:
    """Source -> the newest active, unexpired consent covering it."""
    result: dict[str, Consent] = {}
    today = today_local()
    for consent in list_consents(session, borrower_id):
        if effective_status(consent, today) != ConsentStatus.ACTIVE:
            continue
        for source in consent.sources:
            result.setdefault(source, consent)
    return result


def consent_uses(session: Session, borrower_id: int) -> Sequence[ConsentUse]:
    return session.scalars(
        select(ConsentUse).where(ConsentUse.borrower_id == borrower_id).order_by(ConsentUse.id.desc())
    ).all()


def record_use(
    session: Session,
    *,
    borrower_id: int,
    action: str,
    consent_id: int | None = None,
    source: str | None = None,
    actor_id: int | None = None,
    institution_id: int | None = None,
    provider_id: int | None = None,
    allowed: bool = True,
    detail: str | None = None,
) -> ConsentUse:
    use = ConsentUse(
        borrower_id=borrower_id,
        consent_id=consent_id,
        source=source,
        action=action,
        actor_id=actor_id,
        institution_id=institution_id,
        provider_id=provider_id,
        allowed=allowed,
        detail=detail,
        at=utcnow(),
    )
    session.add(use)
    session.flush()
    return use


# --- data providers and ingestion -----------------------------------------------------------------


def create_provider(session: Session, *, name: str, source: str) -> tuple[DataProvider, str]:
    """A provider key pair; the secret is returned once. Raises InvalidInputError."""
    errors: dict[str, list[str]] = {}
    if source not in DATA_SOURCES:
        errors["source"] = ["invalid_choice"]
    if not name.strip():
        errors["name"] = ["required"]
    if errors:
        raise InvalidInputError(errors)
    secret = secrets.token_hex(32)
    provider = DataProvider(
        name=name.strip(), source=source, key="pk_" + secrets.token_hex(12), secret=secret
    )
    session.add(provider)
    session.flush()
    return provider, secret


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The provider signature: lowercase hex HMAC-SHA256(secret, "{timestamp}.{raw body}")."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_provider(
    session: Session,
    *,
    key: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    source: str,
) -> DataProvider:
    """The provider behind a fresh, untampered, first-seen request for its own source.

    Raises SignatureError for a missing header, unknown key, stale timestamp, bad signature, another
    source, or a replay. The replay guard is a row keyed by the signature, inserted in the caller's
    transaction: a replay fails to insert it even when both copies arrive at once.
    """
    if not key or not timestamp or not signature:
        raise SignatureError("missing headers")
    provider = session.scalar(select(DataProvider).where(DataProvider.key == key))
    if provider is None or not provider.active:
        raise SignatureError("unknown key")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise SignatureError("bad timestamp") from exc
    now = int(utcnow().timestamp())
    if abs(now - sent_at) > SIGNATURE_MAX_AGE_SECONDS:
        raise SignatureError("stale")
    if not hmac.compare_digest(sign(provider.secret, timestamp, body), signature.lower()):
        raise SignatureError("bad signature")
    if provider.source != source:
        raise SignatureError("wrong source")
    session.execute(
        delete(ProviderNonce).where(
            ProviderNonce.seen_at < utcnow() - dt.timedelta(seconds=2 * SIGNATURE_MAX_AGE_SECONDS)
        )
    )
    session.add(ProviderNonce(signature=signature.lower(), provider_id=provider.id, seen_at=utcnow()))
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise SignatureError("replay") from exc
    return provider


def _amount(record: Mapping[str, Any], name: str, errors: list[str]) -> Decimal | None:
    value = record.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        errors.append(f"{name}:required" if value is None else f"{name}:invalid_number")
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        errors.append(f"{name}:invalid_number")
        return None
    if not amount.is_finite() or amount < 0 or amount > MAX_RECORD_AMOUNT:
        errors.append(f"{name}:out_of_range")
        return None
    if amount != amount.quantize(Decimal("0.01")):
        errors.append(f"{name}:too_many_decimals")
        return None
    return amount


def validate_record(source: str, record: object) -> tuple[dict[str, Any], list[str]]:
    """Clean values and error codes (`field:code`) for one provider record."""
    errors: list[str] = []
    if not isinstance(record, Mapping):
        return {}, ["record:not_an_object"]
    clean: dict[str, Any] = {}
    uscc, id_number = record.get("uscc"), record.get("id_number")
    if uscc is not None:
        if not isinstance(uscc, str) or not is_valid_uscc(normalize_code(uscc)):
            errors.append("uscc:invalid_checksum")
        else:
            clean["uscc"] = normalize_code(uscc)
    elif id_number is not None:
        if not isinstance(id_number, str) or not is_valid_id_number(normalize_code(id_number)):
            errors.append("id_number:invalid_checksum")
        else:
            clean["id_number"] = normalize_code(id_number)
    else:
        errors.append("subject:required")
    period = record.get("period")
    match = _PERIOD.match(period) if isinstance(period, str) else None
    if match is None:
        errors.append("period:invalid_format")
    elif (int(match[1]), int(match[2])) > (today_local().year, today_local().month) or int(match[1]) < 2000:
        errors.append("period:out_of_range")
    else:
        clean["period"] = period
    for name in SOURCE_FIELDS[source]:
        if name == "credit_rating":
            rating = record.get(name)
            if rating not in CREDIT_RATINGS:
                errors.append("credit_rating:invalid_choice")
            clean[name] = rating
        elif name == "arrears":
            arrears = record.get(name)
            if not isinstance(arrears, bool):
                errors.append("arrears:not_a_boolean")
            clean[name] = arrears
        else:
            clean[name] = _amount(record, name, errors)
    return clean, errors


@dataclass
class IngestResult:
    accepted: int
    rejected: list[dict[str, Any]]
    borrower_ids: set[int]


def ingest_records(session: Session, provider: DataProvider, records: Sequence[object]) -> IngestResult:
    """Store each valid record whose subject has an active consent for the provider's source.

    A record for an existing (subject, source, period) replaces it. Records without consent are
    rejected, never stored, and the refused attempt is recorded as a use the borrower can see.
    Raises InvalidInputError for a batch that is empty or too large.
    """
    if not records:
        raise InvalidInputError({"records": ["required"]})
    if len(records) > MAX_RECORDS_PER_BATCH:
        raise InvalidInputError({"records": ["too_many"]})
    source = provider.source
    result = IngestResult(accepted=0, rejected=[], borrower_ids=set())
    seen: dict[tuple[int, str], int] = {}
    for index, raw in enumerate(records):
        clean, errors = validate_record(source, raw)
        borrower = None
        if not errors:
            borrower = find_borrower(session, uscc=clean.get("uscc"), id_number=clean.get("id_number"))
            if borrower is None:
                errors.append("subject:unknown")
        if borrower is not None and not errors:
            consent = active_consents(session, borrower.id).get(source)
            if consent is None:
                errors.append("consent:not_active")
                record_use(
                    session,
                    borrower_id=borrower.id,
                    source=source,
                    action="ingest",
                    provider_id=provider.id,
                    allowed=False,
                    detail=clean["period"],
                )
            else:
                key = (borrower.id, clean["period"])
                if key in seen:
                    errors.append("period:duplicate_in_batch")
                else:
                    seen[key] = index
                    _upsert(session, borrower.id, source, consent.id, clean)
                    record_use(
                        session,
                        borrower_id=borrower.id,
                        consent_id=consent.id,
                        source=source,
                        action="ingest",
                        provider_id=provider.id,
                        detail=clean["period"],
                    )
                    result.accepted += 1
                    result.borrower_ids.add(borrower.id)
        if errors:
            result.rejected.append({"index": index, "errors": errors})
    return result


def _upsert(session: Session, borrower_id: int, source: str, consent_id: int, clean: dict[str, Any]) -> None:
    row = session.scalar(
        select(DataRecord).where(
            DataRecord.borrower_id == borrower_id,
            DataRecord.source == source,
            DataRecord.period == clean["period"],
        )
    )
    if row is None:
        row = DataRecord(borrower_id=borrower_id, source=source, period=clean["period"])
        session.add(row)
    row.consent_id = consent_id
    row.received_at = utcnow()
    for name in SOURCE_FIELDS[source]:
        setattr(row, name, clean[name])
    session.flush()


def records_for(session: Session, borrower_id: int, sources: Sequence[str]) -> dict[str, list[DataRecord]]:
    """The borrower's stored monthly records of these sources, by source, oldest period first."""
    result: dict[str, list[DataRecord]] = {s: [] for s in sources}
    rows = session.scalars(
        select(DataRecord)
        .where(DataRecord.borrower_id == borrower_id, DataRecord.source.in_(list(sources)))
        .order_by(DataRecord.period)
    )
    for row in rows:
        result[row.source].append(row)
    return result


def require_active_consent(
    session: Session, borrower_id: int, *, actor_id: int | None, institution_id: int | None, action: str
) -> dict[str, Consent]:
    """The active consents, or ConsentRequiredError after recording the refused read as a use."""
    consents = active_consents(session, borrower_id)
    if not consents:
        record_use(
            session,
            borrower_id=borrower_id,
            action=action,
            actor_id=actor_id,
            institution_id=institution_id,
            allowed=False,
            detail="no active consent",
        )
        raise ConsentRequiredError(str(borrower_id))
    return consents


# --- scores and profiles ---------------------------------------------------------------------------


def active_scorecard(session: Session) -> Scorecard:
    """The scorecard version an admin activated, or the shipped expert scorecard."""
    row = session.scalar(select(ScorecardVersion).where(ScorecardVersion.active.is_(True)).limit(1))
    return Scorecard.from_dict(row.artefact if row else expert_scorecard())


def _feature_inputs(
    records: dict[str, list[DataRecord]],
) -> tuple[list[ElectricityMonth], list[TaxMonth], list[BankFlowMonth]]:
    zero = Decimal(0)
    electricity = [
        ElectricityMonth(period=r.period, kwh=r.kwh or zero, bill_amount=r.bill_amount or zero)
        for r in records.get(Source.ELECTRICITY, [])
    ]
    tax = [
        TaxMonth(
            period=r.period,
            sales=r.sales or zero,
            tax_paid=r.tax_paid or zero,
            credit_rating=r.credit_rating or "M",
            arrears=bool(r.arrears),
        )
        for r in records.get(Source.TAX, [])
    ]
    bank_flow = [
        BankFlowMonth(
            period=r.period,
            inflow=r.inflow or zero,
            outflow=r.outflow or zero,
            end_balance=r.end_balance or zero,
        )
        for r in records.get(Source.BANK_FLOW, [])
    ]
    return electricity, tax, bank_flow


def compute_score(session: Session, borrower_id: int) -> CreditScore:
    """Score the borrower from the data held under active consents only, and store the result.

    A borrower with no consented data still gets a score (every characteristic in its neutral bin)
    and reasons that say which data to authorise. Raises BorrowerNotFoundError.
    """
    get_borrower(session, borrower_id)
    consented = sorted(active_consents(session, borrower_id))
    records = records_for(session, borrower_id, consented)
    electricity, tax, bank_flow = _feature_inputs(records)
    features = compute_features(electricity, tax, bank_flow)
    card = active_scorecard(session)
    result = card.score(features)
    sources: dict[str, Any] = {}
    for source in DATA_SOURCES:
        cov = coverage(records.get(source, []))
        sources[source] = {
            "months": cov.months,
            "gaps": cov.gaps,
            "latest_period": cov.latest_period,
            "consented": source in consented,
        }
    row = CreditScore(
        borrower_id=borrower_id,
        score=result.score,
        grade=result.grade,
        reasons=[
            {"code": r.code, "text": r.text, "impact": r.impact} for r in explain_reasons(result, features)
        ],
        sources=sources,
        model_version=card.version,
        computed_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def latest_score(session: Session, borrower_id: int) -> CreditScore | None:
    return session.scalar(
        select(CreditScore)
        .where(CreditScore.borrower_id == borrower_id)
        .order_by(CreditScore.computed_at.desc(), CreditScore.id.desc())
        .limit(1)
    )


def own_profile(session: Session, borrower_id: int, *, actor_id: int | None) -> CreditScore:
    """The borrower's own profile, scored now so it reflects the current consents and data."""
    score = compute_score(session, borrower_id)
    record_use(session, borrower_id=borrower_id, action="self_read", actor_id=actor_id)
    return score


def institution_profile(
    session: Session, borrower_id: int, *, actor_id: int, institution_id: int
) -> CreditScore:
    """The profile an officer reads on a claimed lead, recorded as a use of every active consent.

    Raises ConsentRequiredError (after recording the refused read) when no consent is active.
    """
    consents = require_active_consent(
        session, borrower_id, actor_id=actor_id, institution_id=institution_id, action="institution_read"
    )
    score = compute_score(session, borrower_id)
    for consent in {c.id: c for c in consents.values()}.values():
        record_use(
            session,
            borrower_id=borrower_id,
            consent_id=consent.id,
            action="institution_read",
            actor_id=actor_id,
            institution_id=institution_id,
            detail=",".join(sorted(s for s, c in consents.items() if c.id == consent.id)),
        )
    return score


RESCORE_JOB = "recompute_score"


def enqueue_rescoring(session: Session, borrower_id: int, *, reason: str) -> None:
    """Queue a recomputation of the borrower's score after new data or a consent change.

    The job itself is idempotent (it scores whatever is held at the time it runs), so each event gets
    its own outbox row; running one twice only stores the same score twice.
    """
    add_job(
        session,
        RESCORE_JOB,
        f"{RESCORE_JOB}:{borrower_id}:{reason}:{secrets.token_hex(6)}",
        borrower_id=borrower_id,
    )
