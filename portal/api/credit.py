"""Consents, signed provider data and credit profiles."""

from __future__ import annotations

from typing import Any

from flask import request

from core.errors import PermissionDeniedError
from core.models import Role
from core.reference import N_
from credit_profile.errors import ConsentRequiredError
from credit_profile.models import Consent, ConsentUse, CreditScore
from credit_profile.services import (
    consent_uses,
    effective_status,
    enqueue_rescoring,
    get_consent,
    grant_consent,
    ingest_records,
    institution_profile,
    list_consents,
    own_profile,
    revoke_consent,
    verify_provider,
)
from matching.models import Need
from matching.services import get_lead
from portal.api import api_bp
from portal.api.common import settings
from portal.api.needs import own_borrower_id
from portal.api.schemas import (
    ConsentIn,
    ConsentList,
    ConsentOut,
    CreditProfileOut,
    RecordsIn,
    RecordsOut,
    RevokeIn,
)
from portal.auth import api_user, token_auth
from portal.db import commit, db
from portal.extensions import limiter
from products.models import Institution

APPLICANT = [Role.APPLICANT.value]


def use_dict(use: ConsentUse) -> dict[str, Any]:
    institution = db().get(Institution, use.institution_id) if use.institution_id else None
    return {
        "id": use.id,
        "at": use.at,
        "action": use.action,
        "source": use.source,
        "allowed": use.allowed,
        "institution": institution.name if institution else None,
        "detail": use.detail,
    }


def consent_dict(consent: Consent, uses: list[ConsentUse]) -> dict[str, Any]:
    return {
        "id": consent.id,
        "status": effective_status(consent),
        "sources": consent.sources,
        "purpose": consent.purpose,
        "granted_at": consent.granted_at,
        "expires_on": consent.expires_on,
        "revoked_at": consent.revoked_at,
        "text_version": consent.text_version,
        "text_hash": consent.text_hash,
        "uses": [use_dict(u) for u in uses if u.consent_id == consent.id],
    }


def profile_dict(score: CreditScore) -> dict[str, Any]:
    return {
        "score": score.score,
        "grade": score.grade,
        "reasons": score.reasons,
        "sources": score.sources,
        "model_version": score.model_version,
        "computed_at": score.computed_at,
    }


@api_bp.post("/consents")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.input(ConsentIn, arg_name="body")
@api_bp.output(ConsentOut, status_code=201)
@api_bp.doc(summary=N_("授权数据采集"), responses=[401, 403, 422])
def create_consent(body: dict[str, Any]) -> dict[str, Any]:
    borrower_id = own_borrower_id()
    consent = grant_consent(
        db(),
        borrower_id=borrower_id,
        sources=body["sources"],
        purpose=body["purpose"],
        expires_on=body["expires_on"],
        actor_id=api_user().id,
    )
    enqueue_rescoring(db(), borrower_id, reason=f"consent-{consent.id}-granted")
    commit()
    return consent_dict(consent, [])


@api_bp.get("/consents")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.output(ConsentList)
@api_bp.doc(summary=N_("我的授权及每一次使用记录"))
def consents() -> dict[str, Any]:
    borrower_id = own_borrower_id()
    uses = list(consent_uses(db(), borrower_id))
    return {
        "items": [consent_dict(c, uses) for c in list_consents(db(), borrower_id)],
        "uses": [use_dict(u) for u in uses],
    }


@api_bp.post("/consents/<int:consent_id>/revoke")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.input(RevokeIn, arg_name="body", schema_name="RevokeIn")
@api_bp.output(ConsentOut)
@api_bp.doc(summary=N_("撤回授权（立即生效）"), responses=[401, 403, 404, 409])
def revoke(consent_id: int, body: dict[str, Any]) -> dict[str, Any]:
    borrower_id = own_borrower_id()
    consent = revoke_consent(
        db(),
        get_consent(db(), consent_id, borrower_id=borrower_id),
        actor_id=api_user().id,
        reason=body.get("reason"),
    )
    enqueue_rescoring(db(), borrower_id, reason=f"consent-{consent.id}-revoked")
    commit()
    return consent_dict(consent, [])


def _provider_limit() -> str:
    return settings().api_rate_limit


@api_bp.post("/data/<any(electricity, tax, bank_flow):source>/records")
@limiter.limit(_provider_limit)
@api_bp.input(RecordsIn, arg_name="body")
@api_bp.output(RecordsOut)
@api_bp.doc(
    summary=N_("数据提供方推送月度数据（HMAC 签名）"),
    description=N_(
        "请求头 X-Provider-Key、X-Timestamp、"
        "X-Signature = hex(HMAC-SHA256(secret, '{timestamp}.{raw body}'))。"
    ),
    responses=[401, 422, 429],
)
def provider_records(source: str, body: dict[str, Any]) -> dict[str, Any]:
    session = db()
    provider = verify_provider(
        session,
        key=request.headers.get("X-Provider-Key"),
        timestamp=request.headers.get("X-Timestamp"),
        signature=request.headers.get("X-Signature"),
        body=request.get_data(cache=True),
        source=source,
    )
    result = ingest_records(session, provider, body["records"])
    for borrower_id in sorted(result.borrower_ids):
        enqueue_rescoring(session, borrower_id, reason=f"data-{provider.id}")
    commit()
    return {"accepted": result.accepted, "rejected": result.rejected}


@api_bp.get("/credit-profile")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.output(CreditProfileOut)
@api_bp.doc(summary=N_("我的信用画像"))
def my_profile() -> dict[str, Any]:
    score = own_profile(db(), own_borrower_id(), actor_id=api_user().id)
    commit()
    return profile_dict(score)


@api_bp.get("/leads/<int:lead_id>/credit-profile")
@api_bp.auth_required(token_auth, roles=[Role.OFFICER.value])
@api_bp.output(CreditProfileOut)
@api_bp.doc(summary=N_("已认领线索的借款人信用画像（须授权有效）"), responses=[401, 403, 404])
def lead_profile(lead_id: int) -> dict[str, Any]:
    user = api_user()
    assert user.institution_id is not None
    lead = get_lead(db(), lead_id, institution_id=user.institution_id)
    if lead.claimed_by is None:
        raise PermissionDeniedError("claim the lead first")
    need = db().get(Need, lead.need_id)
    assert need is not None
    try:
        score = institution_profile(
            db(), need.borrower_id, actor_id=user.id, institution_id=user.institution_id
        )
    except ConsentRequiredError:
        # The refused read is itself a use the borrower must be able to see.
        commit()
        raise
    commit()
    return profile_dict(score)
