"""Schemas of consents, authorised data, scorecards and credit profiles."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Date, DateTime, Dict, File, Float, Integer, List, Nested, Raw, String
from apiflask.validators import Length, Range

from core.i18n import N_
from core.reference import (
    DATA_SOURCES,
)
from portal.api.schemas.accounts import InstitutionRef
from portal.api.schemas.base import In, PageOut, choice, text

MONTH = Length(max=7, error=N_("月份格式应为 YYYY-MM"))


class PeriodIn(In):
    from_ = String(data_key="from", validate=MONTH, allow_none=True)
    to = String(validate=MONTH, allow_none=True)


class ConsentIn(In):
    sources = List(
        choice(DATA_SOURCES), required=True, validate=Length(min=1, max=3, error=N_("至少选择一类数据"))
    )
    purpose = text(200, required=True)
    expires_on = Date(required=True)
    period = Nested(PeriodIn, allow_none=True)
    # 申请评估 unless given; post-loan monitoring is consented to per loan (POST /monitoring/consents)
    purpose_code = choice(("application", "guarantee_review", "bridge_review"), load_default="application")
    data_life_months = Integer(
        allow_none=True, validate=Range(min=1, max=120, error=N_("应为 1 至 120 个月"))
    )
    fetch_frequency = choice(("once", "monthly", "weekly"), load_default="monthly")


class PeriodOut(Schema):
    from_ = String(data_key="from", allow_none=True)
    to = String(allow_none=True)


class RecipientOut(Schema):
    institution = Nested(InstitutionRef)
    pushed_at = DateTime()
    claimed_at = DateTime(allow_none=True)
    identified = Boolean()
    reads = Integer()


class DeletionOut(Schema):
    at = DateTime()
    source = String()
    records = Integer()
    first_period = String()
    last_period = String()


class ConsentUseOut(Schema):
    id = Integer()
    at = DateTime()
    action = String()
    source = String(allow_none=True)
    allowed = Boolean()
    institution = String(allow_none=True)
    detail = String(allow_none=True)


class ConsentOut(Schema):
    id = Integer()
    status = String()
    sources = List(String())
    purpose = String()
    purpose_code = String()
    data_life_months = Integer(allow_none=True)
    fetch_frequency = String()
    recipient_ids = List(Integer())
    paused_at = DateTime(allow_none=True)
    replaces_id = Integer(allow_none=True)
    artefact_hash = String(allow_none=True)
    granted_at = DateTime()
    expires_on = Date()
    revoked_at = DateTime(allow_none=True)
    text_version = String()
    text_hash = String()
    period = Nested(PeriodOut, allow_none=True)
    recipients = List(Nested(RecipientOut))
    deletions = List(Nested(DeletionOut))
    uses = List(Nested(ConsentUseOut))


class ConsentItem(ConsentOut):
    """ConsentOut as a list item."""


class ConsentList(Schema):
    items = List(Nested(ConsentItem))
    uses = List(Nested(ConsentUseOut))


class RevokeIn(In):
    reason = String(validate=Length(max=200), allow_none=True)


class ImportIn(In):
    file = File(required=True)


class ImportOut(Schema):
    """An import and its progress (credit_profile.imports): 202 from the upload, 200 from its status."""

    id = Integer()
    source = String()
    filename = String()
    status = String(metadata={"description": "queued / checking / staging / published / failed"})
    rows_total = Integer(metadata={"description": "data rows in the file"})
    rows_checked = Integer(metadata={"description": "rows validated so far (nothing written while checking)"})
    rows_staged = Integer(metadata={"description": "rows written, still invisible until published"})
    rows_done = Integer(metadata={"description": "= rows_staged: progress towards rows_total"})
    imported = Integer(allow_none=True, metadata={"description": "rows published; null until then"})
    errors = Dict(
        keys=String(),
        values=List(String()),
        allow_none=True,
        metadata={"description": "failed: `row N` (header = row 1) or `file` -> messages, as a 422's fields"},
    )
    status_url = String()
    created_at = DateTime()
    finished_at = DateTime(allow_none=True)


class ScorecardQualityOut(Schema):
    """A version's method, training data and validation figures (null where unknown)."""

    kind = String(metadata={"description": "expert / trained / manual"})
    method = String(allow_none=True, metadata={"description": "scorecard / ebm"})
    training_fingerprint = String(allow_none=True)
    training_rows = Integer(allow_none=True)
    validation_auc = Float(allow_none=True)
    validation_ks = Float(allow_none=True)
    validation_gini = Float(allow_none=True)
    validation_psi = Float(allow_none=True)
    reference_auc = Float(
        allow_none=True, metadata={"description": "untuned HistGradientBoosting, same split"}
    )
    interactions = List(String())
    live_psi = Float(allow_none=True, metadata={"description": "last monthly PSI of live scores"})
    live_psi_at = DateTime(allow_none=True)
    needs_reason = Boolean(metadata={"description": "activating it needs a reason"})


class ScorecardOut(ScorecardQualityOut):
    version = String()
    active = Boolean()
    created_at = DateTime(allow_none=True)
    note = String(allow_none=True)
    target_meaning = String()
    characteristics = List(String())


class ScorecardItem(ScorecardOut):
    """ScorecardOut as a list item."""


class ActiveScorecard(ScorecardOut):
    """ScorecardOut of the active version, beside the list."""


class ScorecardPage(PageOut):
    items = List(Nested(ScorecardItem))
    active_version = String()
    active = Nested(
        ActiveScorecard, metadata={"description": "the active version, for side-by-side comparison"}
    )


class ActivateIn(In):
    reason = String(
        validate=Length(max=500, error=N_("理由最多 500 字")),
        allow_none=True,
        metadata={
            "description": "required when the version's validation AUC is below the active one's or 0.6"
        },
    )


class RecordsIn(In):
    records = List(Raw(), required=True, validate=Length(min=1, max=1000, error=N_("一次提交 1 到 1000 条")))


class RejectedRecord(Schema):
    index = Integer()
    errors = List(String())


class RecordsOut(Schema):
    accepted = Integer()
    rejected = List(Nested(RejectedRecord))


class ReasonOut(Schema):
    code = String()
    text = String()
    impact = Integer()


class SourceCoverageOut(Schema):
    months = Integer()
    gaps = Integer()
    first_period = String(allow_none=True)
    latest_period = String(allow_none=True)
    consented = Boolean()


class CreditProfileOut(Schema):
    score = Integer(allow_none=True)
    grade = String(allow_none=True)
    reasons = List(Nested(ReasonOut))
    sources = Dict(keys=String(), values=Nested(SourceCoverageOut))
    model_version = String(allow_none=True)
    computed_at = DateTime(allow_none=True)
