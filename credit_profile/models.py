"""Borrowers, consents and their uses, provider keys, authorised monthly data records, scores."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Computed,
    ForeignKey,
    Index,
    LargeBinary,
    SQLColumnExpression,
    String,
    Text,
    UniqueConstraint,
    case,
    column,
    func,
    literal,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, JsonType
from core.reference import INDUSTRY_SECTIONS, division_ranges
from core.types import MONEY, EncryptedText, UTCDateTime, utcnow


class BorrowerKind(enum.StrEnum):
    ENTERPRISE = "enterprise"
    INDIVIDUAL_BUSINESS = "individual_business"
    FARMER = "farmer"


class Source(enum.StrEnum):
    ELECTRICITY = "electricity"
    TAX = "tax"
    BANK_FLOW = "bank_flow"


class ConsentStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ConsentPurpose(enum.StrEnum):
    """What the data may be used for (PIPL art. 14: a purpose, consented to as such). Consents granted
    before purposes existed are application assessment (revision 7c1e9a3b5d20)."""

    APPLICATION = "application"  # 申请评估: scoring, matching, the officer's view of the profile
    MONITORING = "monitoring"  # 贷后监测: post-loan early warnings for the lending institutions
    GUARANTEE_REVIEW = "guarantee_review"  # 担保审查
    BRIDGE_REVIEW = "bridge_review"  # 转贷审查


class FetchFrequency(enum.StrEnum):
    ONCE = "once"
    MONTHLY = "monthly"
    WEEKLY = "weekly"


def industry_section_sql(code: SQLColumnExpression[str]) -> ColumnElement[str | None]:
    """The GB/T 4754 section of an industry code, as core.reference.industry_section for valid codes.

    A bare letter is its own section; otherwise the two-digit division (after an optional letter)
    falls in one section's range. Compared as text, so malformed codes give NULL, never an error.
    """
    first = func.substr(code, 1, 1)
    lettered = first.in_(list(INDUSTRY_SECTIONS))
    division = case((lettered, func.substr(code, 2, 2)), else_=func.substr(code, 1, 2))
    by_division = case(
        *[
            (division.between(f"{lo:02d}", f"{hi:02d}"), literal(letter, String))
            for letter, lo, hi in division_ranges()
        ],
        else_=literal(None, String),
    )
    return case(
        (func.length(code) == 1, case((lettered, first), else_=literal(None, String))),
        (func.length(division) != 2, literal(None, String)),
        else_=by_division,
    )


class Borrower(Base):
    __tablename__ = "borrowers"
    # The target of the foreign keys that keep the copies of these attributes on needs, leads and loans
    # equal to the borrower's (matching.models.BorrowerCopy).
    __table_args__ = (
        Index("uq_borrowers_id_region_code_kind_industry_code", "id", "region_code", "kind", "industry_code",
              unique=True),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(128))
    # Encrypted at rest; `Borrower.uscc == code` matches through the keyed blind index (core.types).
    uscc: Mapped[str | None] = mapped_column(EncryptedText(index="uscc_index"))
    id_number: Mapped[str | None] = mapped_column(EncryptedText(index="id_number_index"))
    uscc_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    id_number_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The resident ID or USCC a registration entered while another record held it (this row is then
    # written without it, credit_profile.registration); it moves here at phone verification if that
    # holder is a registration that never verified its phone.
    pending_identifier: Mapped[str | None] = mapped_column(EncryptedText())
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    industry_code: Mapped[str] = mapped_column(String(8))
    # The GB/T 4754 section of industry_code, computed and stored by the database whenever the code is
    # written: the statistics group by it without evaluating the expression for every joined row.
    industry_section: Mapped[str | None] = mapped_column(
        String(1), Computed(industry_section_sql(column("industry_code")), persisted=True)
    )
    established_on: Mapped[dt.date | None]
    employees: Mapped[int | None]
    synthetic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    sources: Mapped[list[str]]
    purpose: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=ConsentStatus.ACTIVE)
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_on: Mapped[dt.date]
    # The months of data the borrower authorised (``YYYY-MM``, inclusive); None = open-ended.
    period_from: Mapped[str | None] = mapped_column(String(7))
    period_to: Mapped[str | None] = mapped_column(String(7))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoke_reason: Mapped[str | None] = mapped_column(String(200))
    text_version: Mapped[str] = mapped_column(String(32))
    text_hash: Mapped[str] = mapped_column(String(64))
    # The consent artefact (India's Account Aggregator model): a purpose code, how long a recipient may
    # keep the data (months; None = until the consent ends), how often it may be fetched, and the
    # institutions that may receive it (empty = the institutions the borrower's needs are pushed to).
    # Never edited: a change is a new consent that `replaces_id` the old one (consents.change_consent);
    # `artefact_hash` is the SHA-256 of the granted terms, so an edit in the database shows.
    purpose_code: Mapped[str] = mapped_column(
        String(24), default=ConsentPurpose.APPLICATION, server_default=ConsentPurpose.APPLICATION.value
    )
    data_life_months: Mapped[int | None]
    fetch_frequency: Mapped[str] = mapped_column(
        String(16), default=FetchFrequency.MONTHLY, server_default=FetchFrequency.MONTHLY.value
    )
    recipient_ids: Mapped[list[int]] = mapped_column(JsonType, default=list, server_default="[]")
    paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))
    artefact_hash: Mapped[str | None] = mapped_column(String(64))


class ConsentUse(Base):
    """Every read of authorised data and every attempt refused for lack of consent."""

    __tablename__ = "consent_uses"

    id: Mapped[int] = mapped_column(primary_key=True)
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    source: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("data_providers.id"))
    action: Mapped[str] = mapped_column(String(24))
    allowed: Mapped[bool] = mapped_column(default=True)
    detail: Mapped[str | None] = mapped_column(Text)


class DataProvider(Base):
    __tablename__ = "data_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The last accepted signed request (shown to the administrator beside deactivate and rotate).
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ProviderNonce(Base):
    """A signature seen within the freshness window; the primary key makes a replay fail to insert."""

    __tablename__ = "provider_nonces"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("data_providers.id"))
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class RecordValues:
    """A month's figures of a source (credit_profile.tables.COLUMNS), stored or staged alike."""

    kwh: Mapped[Decimal | None] = mapped_column(MONEY)
    bill_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    sales: Mapped[Decimal | None] = mapped_column(MONEY)
    tax_paid: Mapped[Decimal | None] = mapped_column(MONEY)
    credit_rating: Mapped[str | None] = mapped_column(String(1))
    arrears: Mapped[bool | None]
    inflow: Mapped[Decimal | None] = mapped_column(MONEY)
    outflow: Mapped[Decimal | None] = mapped_column(MONEY)
    end_balance: Mapped[Decimal | None] = mapped_column(MONEY)


class DataRecord(RecordValues, Base):
    __tablename__ = "data_records"
    __table_args__ = (UniqueConstraint("borrower_id", "source", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"))
    source: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(7))
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))
    # Electricity: whether the month's bill was overdue (optional in a push; post-loan monitoring).
    bill_overdue: Mapped[bool | None]
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ImportStatus(enum.StrEnum):
    QUEUED = "queued"  # accepted, waiting for the worker
    CHECKING = "checking"  # every row validated (reads only), nothing written yet
    STAGING = "staging"  # valid rows written in short chunks to staged_records, invisible
    PUBLISHED = "published"  # moved into data_records in one short transaction
    FAILED = "failed"  # `errors` says why; nothing was published


class DataImport(Base):
    """An administrator's table import, run by a job (credit_profile.imports): its file, progress and
    outcome. `rows_checked` and `rows_staged` move towards `rows_total` as the job goes."""

    __tablename__ = "data_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    # The uploaded table (at most credit_profile.tables.MAX_TABLE_BYTES), read again by the job.
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.QUEUED)
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_checked: Mapped[int] = mapped_column(default=0)
    rows_staged: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int | None]
    # {"row 3": ["amount:invalid"], ...} or {"file": [...]}: codes, worded when shown.
    errors: Mapped[dict[str, Any] | None]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class StagedRecord(RecordValues, Base):
    """A validated row of an import not yet published: invisible to every reader of data_records."""

    __tablename__ = "staged_records"
    __table_args__ = (UniqueConstraint("import_id", "borrower_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("data_imports.id", ondelete="CASCADE"), index=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"))
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"))
    period: Mapped[str] = mapped_column(String(7))


class CreditScore(Base):
    __tablename__ = "credit_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    score: Mapped[int]
    grade: Mapped[str] = mapped_column(String(1))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    sources: Mapped[dict[str, Any]]
    model_version: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DataPurge(Base):
    """What the retention sweep deleted: one row per borrower and source, kept as evidence."""

    __tablename__ = "data_purges"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    records: Mapped[int]
    first_period: Mapped[str] = mapped_column(String(7))
    last_period: Mapped[str] = mapped_column(String(7))
    consent_ids: Mapped[list[int]] = mapped_column(JsonType)
    scores_redacted: Mapped[int] = mapped_column(default=0)


class ScorecardVersion(Base):
    __tablename__ = "scorecard_versions"
    # At most one active version, enforced by the database: activation races end in a conflict.
    __table_args__ = (
        Index(
            "uq_scorecard_versions_one_active",
            "active",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    artefact: Mapped[dict[str, Any]]
    active: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
