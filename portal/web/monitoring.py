"""Post-loan monitoring pages: the officer's warnings and one warning's evidence and steps, the
applicant's monitoring consent per loan and pausing/resuming a consent, the finance office's warning
figures, and the admin's rules with their measured precision and recall."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.errors import ConflictError, InvalidInputError, PermissionDeniedError
from core.models import Role, User
from core.reference import CITY_CODE, REGIONS
from core.types import utcnow
from credit_profile.consents import get_consent, pause_consent, resume_consent
from monitoring.enrolment import consent_to_monitoring, institution_coverage
from monitoring.errors import MonitoringConsentPausedError
from monitoring.figures import warning_figures
from monitoring.quality import rule_quality
from monitoring.rules import current_rules, update_rule
from monitoring.views import officer_warning, officer_warnings
from monitoring.warnings import acknowledge_warning, close_warning, get_warning, record_action
from portal.auth import role_required, web_user
from portal.db import db
from portal.stats_scope import scoped_region
from portal.web.common import INVALID_FORM, apply_errors, flash_error, ok
from portal.web.forms.fields import ActionForm
from portal.web.forms.monitoring import RuleForm, WarningActionForm, WarningCloseForm, WarningFilterForm

bp = Blueprint("monitoring", __name__)
OFFICER, APPLICANT = Role.OFFICER.value, Role.APPLICANT.value
FINANCE, ADMIN = Role.FINANCE.value, Role.ADMIN.value
PER_PAGE = 20


def _officer() -> tuple[User, int]:
    user = web_user()
    if user.institution_id is None:
        raise PermissionDeniedError("officer without institution")
    return user, user.institution_id


# --- officers ----------------------------------------------------------------------------------


@bp.get("/officer/warnings")
@role_required(OFFICER)
def warnings() -> str:
    user, institution_id = _officer()
    form = WarningFilterForm(formdata=request.args)
    status, page = None, 1
    if form.validate():
        status, page = form.status.data or None, form.page.data or 1
    items, total = officer_warnings(
        db(), institution_id=institution_id, officer_id=user.id, status=status, page=page, per_page=PER_PAGE
    )
    coverage = institution_coverage(db(), institution_id)
    return render_template(
        "monitoring/warnings.html",
        form=form,
        warnings=items,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        status=status,
        coverage=coverage,
        covered=sum(1 for c in coverage if c.covered),
        now=utcnow(),
    )


def _warning_page(
    warning_id: int,
    action_form: WarningActionForm | None = None,
    close_form: WarningCloseForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    user, institution_id = _officer()
    view = officer_warning(db(), warning_id, institution_id=institution_id, officer_id=user.id)
    html = render_template(
        "monitoring/warning.html",
        w=view,
        action=ActionForm(),
        action_form=action_form or WarningActionForm(formdata=None),
        close_form=close_form or WarningCloseForm(formdata=None),
        now=utcnow(),
    )
    return html, status


@bp.get("/officer/warnings/<int:warning_id>")
@role_required(OFFICER)
def warning(warning_id: int) -> tuple[str, int]:
    return _warning_page(warning_id)


@bp.post("/officer/warnings/<int:warning_id>/acknowledge")
@role_required(OFFICER)
def acknowledge(warning_id: int) -> Any:
    user, institution_id = _officer()
    if ActionForm().validate_on_submit():
        found = get_warning(db(), warning_id, institution_id=institution_id)
        try:
            acknowledge_warning(db(), found, actor_id=user.id)
        except ConflictError as exc:
            flash_error(exc)
        else:
            ok(_("已确认收到预警，请尽快核实并登记处置"))
    return redirect(url_for(".warning", warning_id=warning_id))


def _record(
    warning_id: int, form: WarningActionForm | WarningCloseForm, slot: str, step: Any, field: str, done: str
) -> Any:
    """The officer's action or closing on a warning: the form, the service `step` with the form's
    `field` and note, a Chinese flash; the warning page again (422) with the errors on a bad form."""
    user, institution_id = _officer()
    found = get_warning(db(), warning_id, institution_id=institution_id)
    if not form.validate_on_submit():
        return _warning_page(warning_id, **{slot: form}, status=INVALID_FORM)
    try:
        step(db(), found, note=form.note.data, actor_id=user.id, **{field: getattr(form, field).data})
    except InvalidInputError as exc:
        apply_errors(form, exc)
        return _warning_page(warning_id, **{slot: form}, status=INVALID_FORM)
    except ConflictError as exc:
        flash_error(exc)
    else:
        ok(done)
    return redirect(url_for(".warning", warning_id=warning_id))


@bp.post("/officer/warnings/<int:warning_id>/action")
@role_required(OFFICER)
def act(warning_id: int) -> Any:
    return _record(
        warning_id, WarningActionForm(), "action_form", record_action, "action", _("已登记处置情况")
    )


@bp.post("/officer/warnings/<int:warning_id>/close")
@role_required(OFFICER)
def close(warning_id: int) -> Any:
    return _record(warning_id, WarningCloseForm(), "close_form", close_warning, "outcome", _("预警已关闭"))


# --- applicants ----------------------------------------------------------------------------------


def _borrower() -> tuple[User, int]:
    user = web_user()
    if user.borrower_id is None:
        raise PermissionDeniedError("applicant without borrower")
    return user, user.borrower_id


@bp.post("/me/consents/<int:consent_id>/<any(pause, resume):step>")
@role_required(APPLICANT)
def pause_or_resume(consent_id: int, step: str) -> Any:
    user, borrower_id = _borrower()
    if ActionForm().validate_on_submit():
        consent = get_consent(db(), consent_id, borrower_id=borrower_id)
        change = pause_consent if step == "pause" else resume_consent
        try:
            change(db(), consent, actor_id=user.id)
        except ConflictError as exc:
            flash_error(exc)
        else:
            ok(_("授权已暂停，恢复前平台不再采集和使用这些数据") if step == "pause" else _("授权已恢复"))
    return redirect(url_for("applicant.consents"))


@bp.post("/me/loans/<int:loan_id>/monitoring-consent")
@role_required(APPLICANT)
def monitoring_consent(loan_id: int) -> Any:
    user, borrower_id = _borrower()
    if ActionForm().validate_on_submit():
        try:
            consent_to_monitoring(db(), borrower_id, loan_id, actor_id=user.id)
        except MonitoringConsentPausedError as exc:
            flash_error(exc)
        else:
            ok(_("已授权贷后监测：放款银行可在贷款存续期内按月查看经营变化，您可随时暂停或撤回"))
    return redirect(url_for("applicant.consents"))


# --- finance offices -------------------------------------------------------------------------------


@bp.get("/finance/warnings")
@role_required(FINANCE)
def figures() -> str:
    user = web_user()
    region = scoped_region(user, request.args.get("region_code") or None)
    return render_template(
        "monitoring/figures.html",
        figures=warning_figures(db(), region),
        regions=[CITY_CODE, *REGIONS] if user.region_code == CITY_CODE else [region],
        region=region,
        is_city=user.region_code == CITY_CODE,
    )


# --- administrators ----------------------------------------------------------------------------------


def _rules_page(bound: dict[str, RuleForm] | None = None, status: int = 200) -> tuple[str, int]:
    rules = current_rules(db())
    forms = {
        rule.code: (bound or {}).get(rule.code)
        or RuleForm(
            prefix=rule.code,
            formdata=None,
            yellow=rule.yellow,
            red=rule.red,
            persist_months=rule.persist_months,
            window_months=rule.window_months,
            peer_pct_max=rule.peer_pct_max,
            enabled=rule.enabled,
        )
        for rule in rules
    }
    report = rule_quality(db(), rules)
    html = render_template(
        "monitoring/rules.html",
        rules=rules,
        forms=forms,
        report=report,
        quality={q.code: q for q in report.rules},
    )
    return html, status


@bp.get("/admin/monitoring/rules")
@role_required(ADMIN)
def rules() -> tuple[str, int]:
    return _rules_page()


@bp.post("/admin/monitoring/rules/<code>")
@role_required(ADMIN)
def edit_rule(code: str) -> Any:
    user = web_user()
    form = RuleForm(prefix=code)
    if not form.validate_on_submit():
        return _rules_page({code: form}, INVALID_FORM)
    values = {
        "yellow": form.yellow.data,
        "red": form.red.data,
        "persist_months": form.persist_months.data,
        "window_months": form.window_months.data,
        "peer_pct_max": form.peer_pct_max.data,
        "enabled": form.enabled.data,
    }
    try:
        update_rule(db(), code, values, actor_id=user.id)
    except InvalidInputError as exc:
        apply_errors(form, exc)
        return _rules_page({code: form}, INVALID_FORM)
    ok(_("规则已保存，精确率和召回率已按新阈值重新计算"))
    return redirect(url_for(".rules"))
