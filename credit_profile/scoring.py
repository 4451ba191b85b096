"""Credit scores: computing a borrower's score from the data their active consents cover, the latest
scores, and the profiles a borrower or an institution may see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.reference import DATA_SOURCES
from core.types import utcnow
from credit_profile.borrowers import get_borrower
from credit_profile.consents import (
    active_consent_list,
    consent_for_record,
    record_use,
    require_active_consent,
)
from credit_profile.expert import expert_scorecard
from credit_profile.explain import reasons as explain_reasons
from credit_profile.features import (
    BankFlowMonth,
    ElectricityMonth,
    FeatureValue,
    TaxMonth,
    compute_features,
    coverage,
)
from credit_profile.ingestion import records_for
from credit_profile.models import (
    Consent,
    CreditScore,
    DataRecord,
    ScorecardVersion,
    Source,
)
from credit_profile.scorecard import Scorecard, ScoreResult


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
    features = features_from_records(data.records)
    card = active_scorecard(session)
    return credit_score(borrower_id, card, card.score(features), features, data.records, data.sources)


def credit_score(
    borrower_id: int,
    card: Scorecard,
    result: ScoreResult,
    features: Mapping[str, FeatureValue],
    records: Mapping[str, Sequence[DataRecord]],
    consented: Sequence[str],
) -> CreditScore:
    """The score row of one borrower scored by ``card`` (``result``), with its reasons and what each
    source covers: shared by `score_now` and the bulk re-scoring (credit_profile.bulk_scoring)."""
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


def has_data(score: CreditScore | None) -> bool:
    """Whether the score rests on at least one month of authorised data. A score computed from nothing
    (every characteristic neutral) is not shown as a score nor used by matching: "暂无数据，授权后可评分"."""
    return score is not None and any((cov or {}).get("months") for cov in (score.sources or {}).values())


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
