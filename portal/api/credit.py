"""Consents, signed provider data and credit profiles."""

from __future__ import annotations

from typing import Any

from flask import request, url_for

from core.i18n import N_
from core.models import Role
from credit_profile.consents import (
    get_consent,
    grant_consent,
    list_consents,
    revoke_consent,
)
from credit_profile.errors import ConsentRequiredError
from credit_profile.imports import get_import, submit_import
from credit_profile.ingestion import ingest_records, verify_provider
from credit_profile.models import CreditScore, DataImport
from credit_profile.retention import data_purges
from credit_profile.scoring import own_profile
from credit_profile.tables import MAX_TABLE_BYTES
from matching.leads import lead_credit_profile
from matching.recipients import consent_recipients, consent_use_views
from portal.api import api_bp
from portal.api.common import settings
from portal.api.needs import own_borrower_id
from portal.api.schemas.credit import (
    ConsentIn,
    ConsentList,
    ConsentOut,
    CreditProfileOut,
    ImportIn,
    ImportOut,
    RecordsIn,
    RecordsOut,
    RevokeIn,
)
from portal.auth import api_user, token_auth
from portal.db import db, keep_on_error
from portal.extensions import limiter
from portal.messages import field_messages
from portal.presenters import consent_dict, use_dict

APPLICANT = [Role.APPLICANT.value]


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
        period_from=(body.get("period") or {}).get("from_"),
        period_to=(body.get("period") or {}).get("to"),
        purpose_code=body["purpose_code"],
        data_life_months=body.get("data_life_months"),
        fetch_frequency=body["fetch_frequency"],
    )
    return consent_dict(consent, [])


@api_bp.get("/consents")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.output(ConsentList)
@api_bp.doc(
    summary=N_("我的授权、每一次使用记录、数据去向（接收机构）和已删除的数据"),
    description=N_("recipients：需求被推送到的机构；认领后（claimed_at 起）方可查看可识别的画像。"),
)
def consents() -> dict[str, Any]:
    borrower_id = own_borrower_id()
    uses = consent_use_views(db(), borrower_id)
    recipients = consent_recipients(db(), borrower_id)
    deletions = data_purges(db(), borrower_id)
    return {
        "items": [
            consent_dict(c, uses, recipients.get(c.id), deletions) for c in list_consents(db(), borrower_id)
        ],
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
    return {"accepted": result.accepted, "rejected": result.rejected}


@api_bp.get("/credit-profile")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.output(CreditProfileOut)
@api_bp.doc(summary=N_("我的信用画像"))
def my_profile() -> dict[str, Any]:
    score = own_profile(db(), own_borrower_id(), actor_id=api_user().id)
    return profile_dict(score)


@api_bp.get("/leads/<int:lead_id>/credit-profile")
@api_bp.auth_required(token_auth, roles=[Role.OFFICER.value])
@api_bp.output(CreditProfileOut)
@api_bp.doc(
    summary=N_("认领该线索的客户经理查看借款人信用画像（须授权有效；同行其他客户经理 403）"),
    responses=[401, 403, 404],
)
def lead_profile(lead_id: int) -> dict[str, Any]:
    user = api_user()
    assert user.institution_id is not None
    try:
        _lead, score = lead_credit_profile(
            db(), lead_id, officer_id=user.id, institution_id=user.institution_id
        )
    except ConsentRequiredError:
        # The refused read is itself a use the borrower must be able to see.
        keep_on_error()
        raise
    return profile_dict(score)


@api_bp.post("/admin/data/<any(electricity, tax, bank_flow):source>/import")
@api_bp.auth_required(token_auth, roles=[Role.ADMIN.value])
@api_bp.input(ImportIn, location="files", arg_name="files")
@api_bp.output(ImportOut, status_code=202)
@api_bp.doc(
    summary=N_("管理员导入月度数据（CSV 或 XLSX，后台任务，全部成功或全部不导入）"),
    description=N_(
        "multipart/form-data，字段 file：.csv（UTF-8 或 GB18030）或 .xlsx（第一个工作表），不超过 1 MiB。"
        "首行为表头：uscc 或 id_number、period（YYYY-MM）及该类数据的字段（与数据提供方接口相同），"
        "也接受中文表头（统一社会信用代码、所属期、用电量等）。文件本身的问题（类型、大小、行数、列）立即返回 422。"
        "否则返回 202 和导入任务（Location 头和 status_url 指向其状态）：后台先逐行校验（每行须有覆盖该主体、"
        "该类数据和该月份的有效授权），再分批写入暂存区，最后一次性发布；任何一行有误则状态为 failed，"
        "errors 以“row N”（N 为表格行号，表头为第 1 行）列出错误，且不导入任何数据。"
        "同一主体、同一月份的已有数据被替换。"
    ),
    responses=[401, 403, 413, 422],
)
def import_data(source: str, files: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    upload = files["file"]
    content = upload.stream.read(MAX_TABLE_BYTES + 1)
    data_import = submit_import(db(), source, upload.filename or "", content, actor_id=api_user().id)
    body = import_dict(data_import)
    return body, 202, {"Location": body["status_url"]}


@api_bp.get("/admin/data/imports/<int:import_id>")
@api_bp.auth_required(token_auth, roles=[Role.ADMIN.value])
@api_bp.output(ImportOut)
@api_bp.doc(
    summary=N_("数据导入任务的进度和结果"),
    description=N_(
        "status：queued（排队）、checking（校验中）、staging（写入暂存区）、published（已发布）、failed（失败，"
        "errors 说明原因，未导入任何数据）。rows_done / rows_total 为进度。"
    ),
    responses=[401, 403, 404],
)
def import_status(import_id: int) -> dict[str, Any]:
    return import_dict(get_import(db(), import_id))


def import_dict(data_import: DataImport) -> dict[str, Any]:
    return {
        "id": data_import.id,
        "source": data_import.source,
        "filename": data_import.filename,
        "status": data_import.status,
        "rows_total": data_import.rows_total,
        "rows_checked": data_import.rows_checked,
        "rows_staged": data_import.rows_staged,
        "rows_done": data_import.rows_staged,
        "imported": data_import.imported,
        "errors": field_messages(data_import.errors) if data_import.errors else None,
        "status_url": url_for("api.import_status", import_id=data_import.id),
        "created_at": data_import.created_at,
        "finished_at": data_import.finished_at,
    }
