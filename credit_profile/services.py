"""Borrowers, consents, provider ingestion and credit profiles: the credit_profile public API.

Services flush, never commit. Every read of authorised data, and every refused attempt, is a ConsentUse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.identifiers import is_valid_id_number, is_valid_uscc, normalize_code
from core.reference import BORROWER_KINDS, DATA_SOURCES, REGIONS, industry_section
from core.services import add_job, record_event
from core.types import SHANGHAI, utcnow
from credit_profile.consent_text import CONSENT_TEXT_HASH, CONSENT_TEXT_VERSION, RETENTION_DAYS
from credit_profile.errors import (
    BorrowerNotFoundError,
    ConsentNotFoundError,
    ConsentRequiredError,
    ConsentStateError,
    ScorecardNotFoundError,
    ScorecardVersionConflictError,
    SignatureError,
)
from credit_profile.expert import expert_scorecard
from credit_profile.explain import TEXTS as explain_texts
from credit_profile.explain import reasons as explain_reasons
from credit_profile.features import (
    BANK_FLOW_FEATURES,
    ELECTRICITY_FEATURES,
    FEATURE_NAMES,
    TAX_FEATURES,
    BankFlowMonth,
    ElectricityMonth,
    FeatureValue,
    TaxMonth,
    compute_features,
    coverage,
)
from credit_profile.models import (
    Borrower,
    BorrowerKind,
    Consent,
    ConsentStatus,
    ConsentUse,
    CreditScore,
    DataProvider,
    DataPurge,
    DataRecord,
    ProviderNonce,
    ScorecardVersion,
    Source,
)
from credit_profile.scorecard import Scorecard, ScorecardFormatError
from credit_profile.tables import COLUMNS as SOURCE_FIELDS
from credit_profile.tables import TableRow

SIGNATURE_MAX_AGE_SECONDS = 300
MAX_RECORDS_PER_BATCH = 1000
MAX_RECORD_AMOUNT = Decimal("1000000000000")
CONSENT_MAX_DAYS = 3 * 366
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MIN_PERIOD_YEAR = 2000
CREDIT_RATINGS = ("A", "B", "M", "C", "D")

# A registration date before this is a typing error (0001-01-01, 1019 for 2019), not a firm.
EARLIEST_ESTABLISHED = dt.date(1900, 1, 1)


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
    if data.established_on is not None and data.established_on < EARLIEST_ESTABLISHED:
        add("established_on", "too_early")
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


def _valid_period(value: str | None) -> bool:
    match = _PERIOD.match(value) if value is not None else None
    return match is not None and int(match[1]) >= MIN_PERIOD_YEAR


def grant_consent(
    session: Session,
    *,
    borrower_id: int,
    sources: Sequence[str],
    purpose: str,
    expires_on: dt.date,
    actor_id: int | None,
    period_from: str | None = None,
    period_to: str | None = None,
) -> Consent:
    """Record an authorisation for these sources until expires_on, optionally for the data months
    period_from..period_to (``YYYY-MM``, inclusive; either end may be open). Raises InvalidInputError.
    """
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
    for name, value in (("period.from", period_from), ("period.to", period_to)):
        if value is not None and not _valid_period(value):
            errors[name] = ["invalid_format"]
    valid_bounds = not errors.keys() & {"period.from", "period.to"}
    if period_from and period_to and valid_bounds and period_from > period_to:
        errors["period.to"] = ["before_start"]
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
        period_from=period_from,
        period_to=period_to,
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


def covers(consent: Consent, source: str, period: str) -> bool:
    """Whether the consent's sources and data months include this record (status not considered)."""
    return (
        source in consent.sources
        and (consent.period_from is None or period >= consent.period_from)
        and (consent.period_to is None or period <= consent.period_to)
    )


def consent_end(consent: Consent) -> dt.datetime | None:
    """When the consent stopped allowing use: its revocation, or the end of its last day; None if active."""
    if consent.status == ConsentStatus.REVOKED:
        return consent.revoked_at
    if effective_status(consent) == ConsentStatus.EXPIRED:
        last_day_end = dt.datetime.combine(consent.expires_on + dt.timedelta(days=1), dt.time(), SHANGHAI)
        return last_day_end.astimezone(dt.UTC)
    return None


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
    for consent in active_consent_list(session, borrower_id):
        for source in consent.sources:
            result.setdefault(source, consent)
    return result


def active_consent_list(session: Session, borrower_id: int) -> list[Consent]:
    """The borrower's active, unexpired consents, newest first."""
    today = today_local()
    return [
        c for c in list_consents(session, borrower_id) if effective_status(c, today) == ConsentStatus.ACTIVE
    ]


def consent_for_record(consents: Sequence[Consent], source: str, period: str) -> Consent | None:
    """The first (newest) of these consents that covers the record."""
    return next((c for c in consents if covers(c, source, period)), None)


def expire_consents(session: Session, *, today: dt.date | None = None) -> list[Consent]:
    """The expiry sweep: mark active consents past their last day `expired`, each with a status event.

    Safe to run twice or concurrently: the conditional update lets one run mark each consent. Returns
    the consents this run marked; their borrowers' scores should be recomputed.
    """
    today = today or today_local()
    due = session.scalars(
        select(Consent)
        .where(Consent.status == ConsentStatus.ACTIVE, Consent.expires_on < today)
        .order_by(Consent.id)
    ).all()
    marked: list[Consent] = []
    for consent in due:
        result = session.execute(
            update(Consent)
            .where(Consent.id == consent.id, Consent.status == ConsentStatus.ACTIVE)
            .values(status=ConsentStatus.EXPIRED)
            .execution_options(synchronize_session=False)
        )
        session.refresh(consent)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue
        record_event(
            session,
            entity_type="consent",
            entity_id=consent.id,
            from_status=ConsentStatus.ACTIVE,
            to_status=ConsentStatus.EXPIRED,
            note=f"expires_on {consent.expires_on.isoformat()}",
        )
        marked.append(consent)
    return marked


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
    today = today_local()
    match = _PERIOD.match(period) if isinstance(period, str) else None
    if match is None:
        errors.append("period:invalid_format")
    elif (int(match[1]), int(match[2])) > (today.year, today.month) or int(match[1]) < MIN_PERIOD_YEAR:
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


class _ConsentCache:
    """Borrowers by identifier and their active consents, looked up once per batch."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._borrowers: dict[tuple[str | None, str | None], Borrower | None] = {}
        self._consents: dict[int, list[Consent]] = {}

    def borrower(self, clean: Mapping[str, Any]) -> Borrower | None:
        key = (clean.get("uscc"), clean.get("id_number"))
        if key not in self._borrowers:
            self._borrowers[key] = find_borrower(self.session, uscc=key[0], id_number=key[1])
        return self._borrowers[key]

    def consents(self, borrower_id: int) -> list[Consent]:
        if borrower_id not in self._consents:
            self._consents[borrower_id] = active_consent_list(self.session, borrower_id)
        return self._consents[borrower_id]


def _consent_error(consents: Sequence[Consent], source: str) -> str:
    if any(source in c.sources for c in consents):
        return "consent:period_not_covered"
    return "consent:not_active"


def ingest_records(session: Session, provider: DataProvider, records: Sequence[object]) -> IngestResult:
    """Store each valid record whose subject has an active consent covering its source and month.

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
    cache = _ConsentCache(session)
    seen: set[tuple[int, str]] = set()
    for index, raw in enumerate(records):
        clean, errors = validate_record(source, raw)
        borrower = None
        if not errors:
            borrower = cache.borrower(clean)
            if borrower is None:
                errors.append("subject:unknown")
        if borrower is not None and not errors:
            consents = cache.consents(borrower.id)
            consent = consent_for_record(consents, source, clean["period"])
            if consent is None:
                errors.append(_consent_error(consents, source))
                record_use(
                    session,
                    borrower_id=borrower.id,
                    source=source,
                    action="ingest",
                    provider_id=provider.id,
                    allowed=False,
                    detail=clean["period"],
                )
            elif (borrower.id, clean["period"]) in seen:
                errors.append("period:duplicate_in_batch")
            else:
                seen.add((borrower.id, clean["period"]))
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


MAX_IMPORT_ROWS = 50_000


@dataclass
class ImportResult:
    imported: int
    borrower_ids: set[int]


def import_records(
    session: Session, source: str, rows: Sequence[TableRow], *, actor_id: int | None = None
) -> ImportResult:
    """Import an administrator's table of monthly records for one source, all or nothing.

    Each row is validated as a provider record would be (same codes) and, like a provider record,
    needs an active consent covering its subject, source and month. If any row fails, nothing is
    stored and InvalidInputError maps ``"row N"`` (N as a spreadsheet numbers it, header = 1) to the
    row's ``field:code`` errors. Otherwise each row replaces any stored record of the same subject,
    source and month, and is recorded as a use of its consent. Raises InvalidInputError also for an
    unknown source (``source``) or a table with no or too many rows (``file``).
    """
    if source not in SOURCE_FIELDS:
        raise InvalidInputError({"source": ["invalid_choice"]})
    if not rows:
        raise InvalidInputError({"file": ["empty"]})
    if len(rows) > MAX_IMPORT_ROWS:
        raise InvalidInputError({"file": ["too_many_rows"]})
    cache = _ConsentCache(session)
    errors: dict[str, list[str]] = {}
    accepted: list[tuple[Borrower, Consent, dict[str, Any]]] = []
    first_row: dict[tuple[int, str], int] = {}
    for row in rows:
        clean, row_errors = validate_record(source, row.values)
        borrower = None
        if not row_errors:
            borrower = cache.borrower(clean)
            if borrower is None:
                row_errors.append("subject:unknown")
        if borrower is not None and not row_errors:
            consents = cache.consents(borrower.id)
            consent = consent_for_record(consents, source, clean["period"])
            key = (borrower.id, clean["period"])
            if consent is None:
                row_errors.append(_consent_error(consents, source))
            elif key in first_row:
                row_errors.append("period:duplicate_in_file")
            else:
                first_row[key] = row.number
                accepted.append((borrower, consent, clean))
        if row_errors:
            errors[f"row {row.number}"] = row_errors
    if errors:
        raise InvalidInputError(errors)
    borrower_ids = {borrower.id for borrower, _consent, _clean in accepted}
    stored = _stored_records(session, source, borrower_ids)
    now = utcnow()
    for borrower, consent, clean in accepted:
        record = stored.get((borrower.id, clean["period"]))
        if record is None:
            record = DataRecord(borrower_id=borrower.id, source=source, period=clean["period"])
            session.add(record)
        record.consent_id = consent.id
        record.received_at = now
        for name in SOURCE_FIELDS[source]:
            setattr(record, name, clean[name])
        session.add(
            ConsentUse(
                borrower_id=borrower.id,
                consent_id=consent.id,
                source=source,
                action="import",
                actor_id=actor_id,
                allowed=True,
                detail=clean["period"],
                at=now,
            )
        )
    session.flush()
    return ImportResult(imported=len(accepted), borrower_ids=borrower_ids)


def _stored_records(
    session: Session, source: str, borrower_ids: set[int]
) -> dict[tuple[int, str], DataRecord]:
    found: dict[tuple[int, str], DataRecord] = {}
    ids = sorted(borrower_ids)
    for start in range(0, len(ids), 500):  # bounded IN lists, for SQLite's parameter limit
        for row in session.scalars(
            select(DataRecord).where(
                DataRecord.source == source, DataRecord.borrower_id.in_(ids[start : start + 500])
            )
        ):
            found[(row.borrower_id, row.period)] = row
    return found


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
    records: Mapping[str, Sequence[DataRecord]],
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


@dataclass(frozen=True)
class ConsentedData:
    """The records an active consent covers now, by source, and the consents covering them."""

    consents: list[Consent]
    records: dict[str, list[DataRecord]]

    @property
    def sources(self) -> list[str]:
        return sorted({source for consent in self.consents for source in consent.sources})


def consented_data(session: Session, borrower_id: int) -> ConsentedData:
    """The borrower's records that an active consent covers (source and month), oldest first."""
    consents = active_consent_list(session, borrower_id)
    sources = sorted({source for consent in consents for source in consent.sources})
    # Only the months an active consent covers: a consent for 2024 does not authorise 2023's data.
    records = {
        source: [r for r in rows if consent_for_record(consents, source, r.period) is not None]
        for source, rows in records_for(session, borrower_id, sources).items()
    }
    return ConsentedData(consents=consents, records=records)


def features_from_records(
    records: Mapping[str, Sequence[DataRecord]], *, as_of: str | None = None
) -> dict[str, FeatureValue]:
    """Scorecard features of stored records; ``as_of`` (``YYYY-MM``) ignores later months."""
    electricity, tax, bank_flow = _feature_inputs(records)
    return compute_features(electricity, tax, bank_flow, as_of=as_of)


def score_now(session: Session, borrower_id: int) -> CreditScore:
    """Score the borrower from the data held under active consents only, without storing the result.

    A borrower with no consented data still gets a score (every characteristic in its neutral bin)
    and reasons that say which data to authorise. Raises BorrowerNotFoundError.
    """
    get_borrower(session, borrower_id)
    data = consented_data(session, borrower_id)
    records, consented = data.records, data.sources
    features = features_from_records(records)
    card = active_scorecard(session)
    result = card.score(features)
    sources: dict[str, Any] = {}
    for source in DATA_SOURCES:
        cov = coverage(records.get(source, []))
        sources[source] = {
            "months": cov.months,
            "gaps": cov.gaps,
            "first_period": cov.first_period,
            "latest_period": cov.latest_period,
            "consented": source in consented,
        }
    return CreditScore(
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


def compute_score(session: Session, borrower_id: int) -> CreditScore:
    """Score the borrower now (see `score_now`) and store the result, the score matching uses.

    Raises BorrowerNotFoundError.
    """
    row = score_now(session, borrower_id)
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


def latest_scores(session: Session, borrower_ids: Iterable[int]) -> dict[int, CreditScore]:
    """`latest_score` of many borrowers in one query, by borrower id; a borrower never scored is absent."""
    ids = sorted(set(borrower_ids))
    if not ids:
        return {}
    rank = (
        func.row_number()
        .over(
            partition_by=CreditScore.borrower_id,
            order_by=(CreditScore.computed_at.desc(), CreditScore.id.desc()),
        )
        .label("rank")
    )
    ranked = select(CreditScore.id, rank).where(CreditScore.borrower_id.in_(ids)).subquery()
    rows = session.scalars(
        select(CreditScore).join(ranked, ranked.c.id == CreditScore.id).where(ranked.c.rank == 1)
    )
    return {row.borrower_id: row for row in rows}


def own_profile(session: Session, borrower_id: int, *, actor_id: int | None) -> CreditScore:
    """The borrower's own profile, scored now so it reflects the current consents and data.

    Not stored: a read must not change the score matching uses (a new stored score comes from the
    rescoring job, which re-matches the borrower's needs after it). The read is recorded as a use.
    """
    score = score_now(session, borrower_id)
    record_use(session, borrower_id=borrower_id, action="self_read", actor_id=actor_id)
    return score


def institution_profile(
    session: Session, borrower_id: int, *, actor_id: int, institution_id: int
) -> CreditScore:
    """The profile an officer reads on a claimed lead, recorded as a use of every active consent.

    Scored now and not stored, as in `own_profile`. Raises ConsentRequiredError (after recording the
    refused read) when no consent is active.
    """
    consents = require_active_consent(
        session, borrower_id, actor_id=actor_id, institution_id=institution_id, action="institution_read"
    )
    score = score_now(session, borrower_id)
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


# --- retention -----------------------------------------------------------------------------------

_SOURCE_OF_FEATURE = {
    **dict.fromkeys(ELECTRICITY_FEATURES, Source.ELECTRICITY.value),
    **dict.fromkeys(TAX_FEATURES, Source.TAX.value),
    **dict.fromkeys(BANK_FLOW_FEATURES, Source.BANK_FLOW.value),
}


def purge_expired_data(
    session: Session, *, now: dt.datetime | None = None, retention_days: int = RETENTION_DAYS
) -> list[DataPurge]:
    """The retention sweep: delete data records held only under consents that ended (revoked or
    expired) more than ``retention_days`` ago, and redact what earlier scores said about them.

    A record is held under its own consent and under every consent covering its source and month;
    one active consent, or one that ended within the retention period, keeps it. Each deletion is
    recorded as a DataPurge per borrower and source. Reasons in the borrower's stored scores that
    described a deleted source in figures are replaced by a neutral text. Safe to run twice: a
    second run finds nothing to delete. Returns this run's DataPurge rows.
    """
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=retention_days)
    cutoff_day = cutoff.astimezone(SHANGHAI).date()
    # A superset of the borrowers concerned; the exact test is per record below.
    ended = select(Consent.borrower_id).where(
        or_(
            and_(Consent.status == ConsentStatus.REVOKED, Consent.revoked_at < cutoff),
            Consent.expires_on < cutoff_day,
        )
    )
    unheld = select(DataRecord.borrower_id).where(DataRecord.consent_id.is_(None))
    borrower_ids = sorted(set(session.scalars(ended.union(unheld))))
    purges: list[DataPurge] = []
    for borrower_id in borrower_ids:
        purges.extend(_purge_borrower(session, borrower_id, now=now, cutoff=cutoff))
    return purges


def _purge_borrower(
    session: Session, borrower_id: int, *, now: dt.datetime, cutoff: dt.datetime
) -> list[DataPurge]:
    consents = list_consents(session, borrower_id)
    doomed: dict[str, list[DataRecord]] = {}
    holders_by_source: dict[str, set[int]] = {}
    for record in session.scalars(
        select(DataRecord).where(DataRecord.borrower_id == borrower_id).order_by(DataRecord.period)
    ):
        holders = [
            c for c in consents if c.id == record.consent_id or covers(c, record.source, record.period)
        ]
        ends = [consent_end(c) for c in holders]
        if any(end is None or end >= cutoff for end in ends):
            continue
        doomed.setdefault(record.source, []).append(record)
        holders_by_source.setdefault(record.source, set()).update(c.id for c in holders)
    if not doomed:
        return []
    redacted = _redact_scores(session, borrower_id, set(doomed), before=now)
    purges = []
    for source, records in sorted(doomed.items()):
        purge = DataPurge(
            at=now,
            borrower_id=borrower_id,
            source=source,
            records=len(records),
            first_period=records[0].period,
            last_period=records[-1].period,
            consent_ids=sorted(holders_by_source[source]),
            scores_redacted=redacted.get(source, 0),
        )
        session.add(purge)
        purges.append(purge)
        session.execute(delete(DataRecord).where(DataRecord.id.in_([r.id for r in records])))
    session.flush()
    return purges


def _reason_source(reason: Mapping[str, Any]) -> str | None:
    names = reason.get("characteristics") or []
    sources = {_SOURCE_OF_FEATURE.get(name) for name in names}
    if len(sources) == 1:
        return sources.pop()
    code = str(reason.get("code", ""))
    prefixes = (("elec", Source.ELECTRICITY), ("tax", Source.TAX), ("bank", Source.BANK_FLOW))
    return next((source.value for prefix, source in prefixes if code.startswith(prefix)), None)


def _redact_scores(
    session: Session, borrower_id: int, sources: set[str], *, before: dt.datetime
) -> dict[str, int]:
    """Replace, in scores computed before ``before``, every reason about these sources that describes
    the data (a figure, a rating, arrears) by a neutral text. Returns scores changed per source."""
    template = explain_texts["data_deleted"]
    changed: dict[str, int] = {}
    for score in session.scalars(
        select(CreditScore).where(CreditScore.borrower_id == borrower_id, CreditScore.computed_at <= before)
    ):
        touched: set[str] = set()
        reasons = []
        for reason in score.reasons:
            source = _reason_source(reason)
            keep = source not in sources or reason.get("code") in (
                f"{source}_data_missing",
                f"{source}_data_deleted",
            )
            if keep:
                reasons.append(reason)
                continue
            touched.add(str(source))
            reasons.append(
                {
                    **reason,
                    "code": f"{source}_data_deleted",
                    "text": template,
                    "template": template,
                    "params": {},
                }
            )
        if touched:
            score.reasons = reasons  # a new list, so that the JSON column is written
            for source in touched:
                changed[source] = changed.get(source, 0) + 1
    return changed


def data_purges(session: Session, borrower_id: int) -> Sequence[DataPurge]:
    """What the retention sweep deleted of the borrower's data, newest first."""
    return session.scalars(
        select(DataPurge).where(DataPurge.borrower_id == borrower_id).order_by(DataPurge.id.desc())
    ).all()


# --- scorecard versions ------------------------------------------------------------------------


def register_scorecard(
    session: Session, artefact: Mapping[str, Any], *, note: str | None = None
) -> ScorecardVersion:
    """Store a scorecard artefact as an inactive version; registering the same artefact again is a no-op.

    Raises InvalidInputError (``model``: ``invalid_format``, or ``unknown_characteristic`` when the
    card scores a characteristic the platform does not compute) and ScorecardVersionConflictError when
    another artefact already has this version.
    """
    try:
        card = Scorecard.from_dict(artefact)
    except (ScorecardFormatError, TypeError, AttributeError, KeyError) as exc:
        raise InvalidInputError({"model": ["invalid_format"]}, detail=str(exc)) from exc
    unknown = [c.name for c in card.characteristics if c.name not in FEATURE_NAMES]
    if unknown:
        raise InvalidInputError({"model": ["unknown_characteristic"]}, detail=", ".join(unknown))
    stored = card.to_dict()
    existing = session.scalar(select(ScorecardVersion).where(ScorecardVersion.version == card.version))
    if existing is not None:
        if existing.artefact != stored:
            raise ScorecardVersionConflictError(card.version)
        return existing
    row = ScorecardVersion(
        version=card.version, artefact=stored, active=False, note=note, created_at=utcnow()
    )
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise ScorecardVersionConflictError(card.version) from exc
    return row


def list_scorecards(session: Session) -> Sequence[ScorecardVersion]:
    """Every registered version, newest first."""
    return session.scalars(
        select(ScorecardVersion).order_by(ScorecardVersion.created_at.desc(), ScorecardVersion.id.desc())
    ).all()


def activate_scorecard(session: Session, version: str, *, actor_id: int | None) -> ScorecardVersion:
    """Make this version the one every new score uses, and every other version inactive.

    Queues a recomputation of every borrower's score. Raises ScorecardNotFoundError, and
    ScorecardVersionConflictError if a concurrent activation won.
    """
    # Locking every row serialises concurrent activations (a handful of rows; SQLite locks the file).
    rows = session.scalars(select(ScorecardVersion).order_by(ScorecardVersion.id).with_for_update()).all()
    target = next((row for row in rows if row.version == version), None)
    if target is None:
        raise ScorecardNotFoundError(version)
    previous = next((row for row in rows if row.active), None)
    if previous is not None and previous.id == target.id:
        return target
    try:
        with session.begin_nested():
            session.execute(
                update(ScorecardVersion)
                .where(ScorecardVersion.active.is_(True), ScorecardVersion.id != target.id)
                .values(active=False)
            )
            session.execute(
                update(ScorecardVersion).where(ScorecardVersion.id == target.id).values(active=True)
            )
    except IntegrityError as exc:
        raise ScorecardVersionConflictError(version) from exc
    for row in rows:
        session.refresh(row)
    record_event(
        session,
        entity_type="scorecard_version",
        entity_id=target.id,
        from_status="inactive",
        to_status="active",
        actor_id=actor_id,
        data={"previous": previous.version if previous else None},
    )
    add_job(session, RESCORE_ALL_JOB, f"{RESCORE_ALL_JOB}:{target.version}:{secrets.token_hex(6)}")
    return target


RESCORE_ALL_JOB = "recompute_all_scores"


def borrower_ids_after(session: Session, after_id: int, *, limit: int) -> list[int]:
    """Borrower ids greater than ``after_id``, ascending: the pages a batch job walks through."""
    return list(
        session.scalars(select(Borrower.id).where(Borrower.id > after_id).order_by(Borrower.id).limit(limit))
    )
