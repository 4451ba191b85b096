"""Authorised data coming in: data providers and their signed pushes, record validation, table imports,
and the records a consent covers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
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
from core.reference import DATA_SOURCES
from core.types import local_today, utcnow
from credit_profile.borrowers import find_borrower
from credit_profile.consents import (
    MIN_PERIOD_YEAR,
    PERIOD_PATTERN,
    active_consent_list,
    consent_for_record,
    record_use,
)
from credit_profile.errors import (
    SignatureError,
)
from credit_profile.models import (
    Borrower,
    Consent,
    ConsentUse,
    DataProvider,
    DataRecord,
    ProviderNonce,
)
from credit_profile.receipts import note_uses
from credit_profile.rescoring import enqueue_rescoring
from credit_profile.tables import COLUMNS as SOURCE_FIELDS
from credit_profile.tables import TableRow

SIGNATURE_MAX_AGE_SECONDS = 300
# How far a provider's clock may run ahead of ours. A timestamp further ahead is refused: it would
# stretch the signature's life (and the time its nonce must be kept) beyond SIGNATURE_MAX_AGE_SECONDS.
FUTURE_SKEW_SECONDS = 30
# A signature accepted at s (timestamp at most floor(s) + skew) stays acceptable while
# floor(now) - timestamp <= max age, i.e. until s + max age + skew + 1; its nonce is kept past that.
NONCE_RETENTION = dt.timedelta(seconds=SIGNATURE_MAX_AGE_SECONDS + FUTURE_SKEW_SECONDS + 2)
MAX_RECORDS_PER_BATCH = 1000
MAX_RECORD_AMOUNT = Decimal("1000000000000")
CREDIT_RATINGS = ("A", "B", "M", "C", "D")


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

    Raises SignatureError for a missing header, unknown key, a timestamp older than
    SIGNATURE_MAX_AGE_SECONDS or ahead by more than FUTURE_SKEW_SECONDS, bad signature, another
    source, or a replay (nonces are kept for NONCE_RETENTION, longer than any signature stays fresh).
    The replay guard is a row keyed by the signature, inserted in the caller's
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
    moment = utcnow()
    now = int(moment.timestamp())
    if now - sent_at > SIGNATURE_MAX_AGE_SECONDS:
        raise SignatureError("stale")
    if sent_at - now > FUTURE_SKEW_SECONDS:
        raise SignatureError("timestamp in the future")
    if not hmac.compare_digest(sign(provider.secret, timestamp, body), signature.lower()):
        raise SignatureError("bad signature")
    if provider.source != source:
        raise SignatureError("wrong source")
    session.execute(delete(ProviderNonce).where(ProviderNonce.seen_at < moment - NONCE_RETENTION))
    provider.last_used_at = moment
    try:
        with session.begin_nested():
            session.add(ProviderNonce(signature=signature.lower(), provider_id=provider.id, seen_at=moment))
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
    today = local_today()
    match = PERIOD_PATTERN.match(period) if isinstance(period, str) else None
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
    if source == "electricity" and record.get("bill_overdue") is not None:
        if not isinstance(record["bill_overdue"], bool):
            errors.append("bill_overdue:not_a_boolean")
        clean["bill_overdue"] = record["bill_overdue"]
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
            # Data comes in under a consent of any purpose; each use reads only its own purpose's.
            self._consents[borrower_id] = active_consent_list(self.session, borrower_id, purpose=None)
        return self._consents[borrower_id]


def _consent_error(consents: Sequence[Consent], source: str) -> str:
    if any(source in c.sources for c in consents):
        return "consent:period_not_covered"
    return "consent:not_active"


def ingest_records(session: Session, provider: DataProvider, records: Sequence[object]) -> IngestResult:
    """Store each valid record whose subject has an active consent covering its source and month.

    A record for an existing (subject, source, period) replaces it. Records without consent are
    rejected, never stored, and the refused attempt is recorded as a use the borrower can see. Queues
    the rescoring of every borrower with an accepted record. Raises InvalidInputError for a batch that
    is empty or too large.
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
    for borrower_id in sorted(result.borrower_ids):
        enqueue_rescoring(session, borrower_id, reason=f"data-{provider.id}")
    return result


MAX_IMPORT_ROWS = 50_000


class RowCheck:
    """Validates a table's rows for one source, chunk after chunk (each chunk may come with a session of
    its own): the provider API's codes, an active consent covering subject, source and month, and one
    row per subject and month in the whole file. Collects `errors` (``"row N"`` -> codes) and the
    `accepted` rows as (borrower id, consent id, clean values)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: dict[str, list[str]] = {}
        self.accepted: list[tuple[int, int, dict[str, Any]]] = []
        self._first_row: dict[tuple[int, str], int] = {}

    def rows(self, session: Session, rows: Sequence[TableRow]) -> None:
        cache = _ConsentCache(session)
        for row in rows:
            clean, row_errors = validate_record(self.source, row.values)
            borrower = None
            if not row_errors:
                borrower = cache.borrower(clean)
                if borrower is None:
                    row_errors.append("subject:unknown")
            if borrower is not None and not row_errors:
                consents = cache.consents(borrower.id)
                consent = consent_for_record(consents, self.source, clean["period"])
                key = (borrower.id, clean["period"])
                if consent is None:
                    row_errors.append(_consent_error(consents, self.source))
                elif key in self._first_row:
                    row_errors.append("period:duplicate_in_file")
                else:
                    self._first_row[key] = row.number
                    self.accepted.append((borrower.id, consent.id, clean))
            if row_errors:
                self.errors[f"row {row.number}"] = row_errors


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
    source and month, is recorded as a use of its consent, and its borrower is queued for rescoring.
    Raises InvalidInputError also for an unknown source (``source``) or a table with no or too many
    rows (``file``).
    """
    if source not in SOURCE_FIELDS:
        raise InvalidInputError({"source": ["invalid_choice"]})
    if not rows:
        raise InvalidInputError({"file": ["empty"]})
    if len(rows) > MAX_IMPORT_ROWS:
        raise InvalidInputError({"file": ["too_many_rows"]})
    check = RowCheck(source)
    check.rows(session, rows)
    if check.errors:
        raise InvalidInputError(check.errors)
    borrower_ids = {borrower_id for borrower_id, _consent_id, _clean in check.accepted}
    stored = _stored_records(session, source, borrower_ids)
    now = utcnow()
    for borrower_id, consent_id, clean in check.accepted:
        record = stored.get((borrower_id, clean["period"]))
        if record is None:
            record = DataRecord(borrower_id=borrower_id, source=source, period=clean["period"])
            session.add(record)
        record.consent_id = consent_id
        record.received_at = now
        for name in SOURCE_FIELDS[source]:
            setattr(record, name, clean[name])
        use = ConsentUse(
            borrower_id=borrower_id,
            consent_id=consent_id,
            source=source,
            action="import",
            actor_id=actor_id,
            allowed=True,
            detail=clean["period"],
            at=now,
        )
        session.add(use)
        note_uses(session, [use])
    session.flush()
    for borrower_id in sorted(borrower_ids):
        enqueue_rescoring(session, borrower_id, reason="import")
    return ImportResult(imported=len(check.accepted), borrower_ids=borrower_ids)


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
    if source == "electricity":
        row.bill_overdue = clean.get("bill_overdue")
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
