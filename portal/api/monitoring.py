"""Post-loan monitoring: the officer's warnings and their steps, loans' monitoring coverage, the
applicant's monitoring consent and pausing/resuming consents, the finance figures, the rules."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE

from core.i18n import N_
from core.models import Role
from credit_profile.consents import get_consent, pause_consent, resume_consent
from monitoring.enrolment import borrower_loans, consent_to_monitoring, institution_coverage
from monitoring.figures import warning_figures
from monitoring.quality import rule_quality
from monitoring.rules import current_rules, update_rule
from monitoring.views import officer_warning, officer_warnings
from monitoring.warnings import acknowledge_warning, close_warning, get_warning, record_action
from portal.api import api_bp
from portal.api.needs import own_borrower_id
from portal.api.schemas.credit import ConsentOut
from portal.api.schemas.monitoring import (
    CoverageList,
    MonitoringConsentIn,
    RuleIn,
    RuleList,
    WarningActionIn,
    WarningCloseIn,
    WarningFiguresOut,
    WarningFiguresQuery,
    WarningOut,
    WarningPage,
    WarningQuery,
)
from portal.auth import api_user, token_auth
from portal.db import db
from portal.monitoring_presenters import coverage_json, figures_json, rules_json, warning_json
from portal.presenters import consent_dict
from portal.stats_scope import scoped_region

OFFICER, APPLICANT = [Role.OFFICER.value], [Role.APPLICANT.value]
FINANCE, ADMIN = [Role.FINANCE.value], [Role.ADMIN.value]


def _institution_id() -> int:
    institution_id = api_user().institution_id
    assert institution_id is not None
    return institution_id


def _warning(warning_id: int) -> dict[str, Any]:
    view = officer_warning(db(), warning_id, institution_id=_institution_id(), officer_id=api_user().id)
    return warning_json(view)


@api_bp.get("/warnings")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.input(WarningQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(WarningPage)
@api_bp.doc(summary=N_("本机构贷后预警（在办的在前，红色在前）"), responses=[401, 403, 422])
def warnings(query: dict[str, Any]) -> dict[str, Any]:
    items, total = officer_warnings(
        db(),
        institution_id=_institution_id(),
        officer_id=api_user().id,
        status=query.get("status"),
        level=query.get("level"),
        page=query["page"],
        per_page=query["per_page"],
    )
    return {
        "items": [warning_json(v) for v in items],
        "total": total,
        "page": query["page"],
        "per_page": query["per_page"],
    }


@api_bp.get("/warnings/<int:warning_id>")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.output(WarningOut)
@api_bp.doc(summary=N_("一条预警及其依据（数值、本企业基线、同业百分位）"), responses=[401, 403, 404])
def warning(warning_id: int) -> dict[str, Any]:
    return _warning(warning_id)


@api_bp.post("/warnings/<int:warning_id>/acknowledge")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.output(WarningOut)
@api_bp.doc(summary=N_("确认收到预警"), responses=[401, 403, 404, 409])
def acknowledge(warning_id: int) -> dict[str, Any]:
    acknowledge_warning(
        db(), get_warning(db(), warning_id, institution_id=_institution_id()), actor_id=api_user().id
    )
    return _warning(warning_id)


@api_bp.post("/warnings/<int:warning_id>/action")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.input(WarningActionIn, arg_name="body")
@api_bp.output(WarningOut)
@api_bp.doc(
    summary=N_("登记处置措施（contacted、site_visit、restructured、no_issue、escalated）"),
    responses=[401, 403, 404, 409, 422],
)
def act(warning_id: int, body: dict[str, Any]) -> dict[str, Any]:
    found = get_warning(db(), warning_id, institution_id=_institution_id())
    record_action(db(), found, action=body["action"], note=body.get("note"), actor_id=api_user().id)
    return _warning(warning_id)


@api_bp.post("/warnings/<int:warning_id>/close")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.input(WarningCloseIn, arg_name="body")
@api_bp.output(WarningOut)
@api_bp.doc(
    summary=N_("关闭预警（resolved、escalated_to_default、false_positive）"),
    responses=[401, 403, 404, 409, 422],
)
def close(warning_id: int, body: dict[str, Any]) -> dict[str, Any]:
    found = get_warning(db(), warning_id, institution_id=_institution_id())
    close_warning(db(), found, outcome=body["outcome"], note=body.get("note"), actor_id=api_user().id)
    return _warning(warning_id)


@api_bp.get("/monitoring/coverage")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.output(CoverageList)
@api_bp.doc(summary=N_("本机构最近的贷款及其贷后监测授权覆盖情况"), responses=[401, 403])
def coverage() -> dict[str, Any]:
    return {"items": [coverage_json(c) for c in institution_coverage(db(), _institution_id())]}


@api_bp.get("/monitoring/loans")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.output(CoverageList)
@api_bp.doc(summary=N_("我的贷款及是否已授权贷后监测"), responses=[401, 403])
def my_loans() -> dict[str, Any]:
    return {"items": [coverage_json(c) for c in borrower_loans(db(), own_borrower_id())]}


@api_bp.post("/monitoring/consents")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.input(MonitoringConsentIn, arg_name="body")
@api_bp.output(ConsentOut, status_code=201)
@api_bp.doc(summary=N_("为一笔已放款贷款授权贷后监测（单独、可选）"), responses=[401, 403, 404, 409, 422])
def monitoring_consent(body: dict[str, Any]) -> dict[str, Any]:
    consent = consent_to_monitoring(db(), own_borrower_id(), body["loan_id"], actor_id=api_user().id)
    return consent_dict(consent, [])


@api_bp.post("/consents/<int:consent_id>/pause")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.output(ConsentOut)
@api_bp.doc(summary=N_("暂停授权（暂停期间不采集、不使用数据）"), responses=[401, 403, 404, 409])
def pause(consent_id: int) -> dict[str, Any]:
    consent = get_consent(db(), consent_id, borrower_id=own_borrower_id())
    return consent_dict(pause_consent(db(), consent, actor_id=api_user().id), [])


@api_bp.post("/consents/<int:consent_id>/resume")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.output(ConsentOut)
@api_bp.doc(summary=N_("恢复已暂停的授权"), responses=[401, 403, 404, 409])
def resume(consent_id: int) -> dict[str, Any]:
    consent = get_consent(db(), consent_id, borrower_id=own_borrower_id())
    return consent_dict(resume_consent(db(), consent, actor_id=api_user().id), [])


@api_bp.get("/stats/warnings")
@api_bp.auth_required(token_auth, roles=FINANCE)
@api_bp.input(WarningFiguresQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(WarningFiguresOut)
@api_bp.doc(
    summary=N_("贷后预警统计：在办预警、按时确认率、监测授权覆盖、政策性方案下的红色预警"),
    responses=[401, 403, 422],
)
def figures(query: dict[str, Any]) -> dict[str, Any]:
    return figures_json(warning_figures(db(), scoped_region(api_user(), query.get("region_code") or None)))


@api_bp.get("/monitoring/rules")
@api_bp.auth_required(token_auth, roles=ADMIN)
@api_bp.output(RuleList)
@api_bp.doc(summary=N_("预警规则及每条规则的精确率、召回率、提前天数"), responses=[401, 403])
def rules() -> dict[str, Any]:
    rules_now = current_rules(db())
    return rules_json(rules_now, rule_quality(db(), rules_now))


@api_bp.patch("/monitoring/rules/<code>")
@api_bp.auth_required(token_auth, roles=ADMIN)
@api_bp.input(RuleIn, arg_name="body")
@api_bp.output(RuleList)
@api_bp.doc(
    summary=N_("调整一条预警规则的阈值、持续月数、同业百分位上限或启停"), responses=[401, 403, 404, 422]
)
def edit_rule(code: str, body: dict[str, Any]) -> dict[str, Any]:
    update_rule(db(), code, body, actor_id=api_user().id)
    rules_now = current_rules(db())
    return rules_json(rules_now, rule_quality(db(), rules_now))
