"""Bridge-fund (续贷周转金) pages: the applicant applies for their maturing loan, the bank records its
signed renewal commitment and its steps, the fund's operator approves or refuses and dates the money's
round trip; each page shows the live days-left clock and the fee with its arithmetic. Every step calls
the same service as the JSON API (guarantees.bridges); who may see or do what is decided there and in
guarantees.views (another's bridge is a 404). A step posted twice meets the state machine the second
time: refused with a flash, nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.errors import ConflictError, InvalidInputError, PermissionDeniedError
from core.i18n import N_
from core.models import Role, User
from core.types import local_today
from guarantees import bridges
from guarantees.errors import LimitExceededError, SchemePausedError
from guarantees.fees import fee_workings
from guarantees.maturing import bridge_funds, maturing_loans
from guarantees.models import BridgeStatus
from guarantees.views import BridgeView, bridge_list, bridge_view, viewer_of
from portal.auth import role_required, web_user
from portal.db import db, mark_failed
from portal.web.common import (
    INVALID_FORM,
    apply_errors,
    first_submission,
    flash_error,
    ok,
    posted_step,
    repeated,
)
from portal.web.forms.bridges import (
    BridgeApplyForm,
    CommitmentForm,
    RefuseBridgeForm,
    RenewalForm,
    StepDateForm,
)
from portal.web.forms.fields import ActionForm
from products.services import active_institutions, institution_code

bp = Blueprint("bridges", __name__)
APPLICANT, OFFICER = Role.APPLICANT.value, Role.OFFICER.value
GUARANTOR, FINANCE = Role.GUARANTOR.value, Role.FINANCE.value
READERS = (APPLICANT, OFFICER, GUARANTOR, FINANCE)
# Each dated step's form prefix, by its slot on the page.
PREFIXES = {"disburse": "disburse", "return": "return", "old_loan": "old", "renewal": "renewal"}
# Why an approval is beyond the scheme's limits (LimitExceededError's detail), said plainly.
LIMIT_REASONS = {
    "commitment_ratio": N_("周转金金额超过银行承诺续贷金额乘以方案比例后的上限，不能批准"),
    "single_cap": N_("周转金金额超过方案的单户上限，不能批准"),
    "capital": N_("周转金可用资金不足（在外周转金加本笔将超过资金规模），暂不能批准"),
}


def _institution(user: User) -> int:
    if user.institution_id is None:
        raise PermissionDeniedError("staff without institution")
    return user.institution_id


@bp.get("/bridges/")
@role_required(*READERS)
def index() -> str:
    user = web_user()
    return render_template(
        "bridges/index.html",
        bridges=bridge_list(db(), viewer_of(user), limit=100),
        funds=bridge_funds(db()),
        role=user.role,
    )


def _apply_form(borrower_id: int, formdata: Any = None) -> tuple[BridgeApplyForm, list[Any], list[Any]]:
    funds = bridge_funds(db())
    loans = maturing_loans(db(), borrower_id)
    banks = [(o.id, o.name) for o in active_institutions(db(), "bank")]
    open_funds = [(str(s.id), s.name) for s in funds if s.status == "active"]
    origins = [
        (
            m.origin,
            _(
                "%(bank)s · 到期本金 %(p)s 万元 · %(d)s 到期",
                bank=m.bank_name or _("未填银行"),
                p=f"{(m.principal or Decimal(0)) / 10000:f}",
                d=m.matures_on or "—",
            ),
        )
        for m in loans
    ]
    form = BridgeApplyForm(
        formdata=formdata,
        schemes=open_funds,
        origins=origins,
        banks=[(str(i), n) for i, n in banks],
        **({} if formdata is not None else {"origin": request.args.get("origin", "")}),
    )
    if formdata is None and len(open_funds) == 1:
        form.scheme_id.data = open_funds[0][0]  # the only fund open: chosen already
    return form, funds, loans


def _borrower(user: User) -> int:
    if user.borrower_id is None:
        raise PermissionDeniedError("applicant without borrower")
    return user.borrower_id


@bp.route("/me/bridges/new", methods=["GET", "POST"])
@role_required(APPLICANT)
def apply() -> Any:
    user = web_user()
    borrower_id = _borrower(user)
    posted = request.method == "POST"
    form, funds, loans = _apply_form(borrower_id, request.form if posted else None)
    if posted and form.validate_on_submit():
        if not first_submission("bridges.apply"):
            repeated()
            return redirect(url_for(".index"))
        kind, _sep, ref = (form.origin.data or "").partition(":")
        bank_code = (
            institution_code(db(), int(form.institution_id.data)) if form.institution_id.data else None
        )
        data = bridges.BridgeRequest(
            scheme_id=int(form.scheme_id.data),
            amount=form.amount.data,
            need_id=int(ref) if kind == "need" else None,
            loan_id=int(ref) if kind == "loan" else None,
            institution_code=bank_code,
            contract_no=form.contract_no.data or "",
            maturing_principal=form.maturing_principal.data,
            matures_on=form.matures_on.data,
        )
        try:
            app = bridges.apply_for_bridge(db(), data, borrower_id=borrower_id, user_id=user.id)
        except InvalidInputError as exc:
            apply_errors(
                form,
                exc,
                aliases={"institution_code": "institution_id", "need_id": "origin", "loan_id": "origin"},
            )
        except SchemePausedError as exc:
            mark_failed()
            flash(_("该周转金已暂停受理新申请：%(r)s", r=exc.detail or ""), "error")
        else:
            ok(_("周转金申请已提交，请联系贷款银行出具书面续贷承诺"))
            return redirect(url_for(".show", bridge_id=app.id))
    status = INVALID_FORM if posted else 200
    return render_template("bridges/apply.html", form=form, funds=funds, loans=loans), status


def _dated(bound: dict[str, Any], slot: str, form_class: type[StepDateForm], after: dt.date | None) -> Any:
    """The dated step's form (the posted one when it was refused), the date between the previous
    step's and today, today by default."""
    form = bound.get(slot) or form_class(formdata=None, prefix=PREFIXES[slot])
    today = local_today()
    form.on.render_kw = {"max": today.isoformat(), **({"min": after.isoformat()} if after else {})}
    if form.on.data is None and not form.on.raw_data:
        form.on.data = today  # the usual answer: done today
    return form


def _forms(view: BridgeView, user: User, bound: dict[str, Any]) -> dict[str, Any]:
    """The step forms the viewer may use on the bridge in its current state (bound ones re-shown)."""
    forms: dict[str, Any] = {}
    out = view.status in bridges.OUT
    if user.role == OFFICER:
        if view.status == BridgeStatus.SUBMITTED:
            forms["commitment"] = bound.get("commitment") or CommitmentForm(formdata=None)
            forms["commitment"].renewal_on.render_kw = {"min": local_today().isoformat()}
        if view.status in (BridgeStatus.DISBURSED, BridgeStatus.OVERDUE) and view.old_loan_repaid_on is None:
            forms["old_loan"] = _dated(bound, "old_loan", StepDateForm, view.disbursed_on)
        if out and view.old_loan_repaid_on is not None and view.renewal_disbursed_on is None:
            forms["renewal"] = _dated(bound, "renewal", RenewalForm, view.old_loan_repaid_on)
    elif user.role == GUARANTOR:
        if view.status in (BridgeStatus.SUBMITTED, BridgeStatus.COMMITTED):
            forms["approve"] = ActionForm()
        if view.status in (BridgeStatus.SUBMITTED, BridgeStatus.COMMITTED, BridgeStatus.APPROVED):
            forms["refuse"] = bound.get("refuse") or RefuseBridgeForm(formdata=None)
        if view.status == BridgeStatus.APPROVED:
            forms["disburse"] = _dated(bound, "disburse", StepDateForm, view.approved_on)
        if out:
            forms["return"] = _dated(
                bound, "return", StepDateForm, view.renewal_disbursed_on or view.disbursed_on
            )
    return forms


def _page(bridge_id: int, bound: dict[str, Any] | None = None, status: int = 200) -> tuple[str, int]:
    user = web_user()
    view = bridge_view(db(), bridge_id, viewer_of(user))
    workings = []
    if view.clock is not None:
        workings = fee_workings(view.amount, view.clock.days_used, view.fee_tiers)
    html = render_template(
        "bridges/show.html",
        bridge=view,
        workings=workings,
        forms=_forms(view, user, bound or {}),
        today=local_today(),
        role=user.role,
    )
    return html, status


@bp.get("/bridges/<int:bridge_id>")
@role_required(*READERS)
def show(bridge_id: int) -> tuple[str, int]:
    return _page(bridge_id)


def _done(bridge_id: int) -> Any:
    return redirect(url_for(".show", bridge_id=bridge_id))


@bp.post("/bridges/<int:bridge_id>/commitment")
@role_required(OFFICER)
def commitment(bridge_id: int) -> Any:
    user = web_user()
    institution_id = _institution(user)
    bridges.bank_application(db(), bridge_id, institution_id=institution_id)
    form = CommitmentForm()
    if not form.validate_on_submit():
        return _page(bridge_id, {"commitment": form}, INVALID_FORM)
    digest = form.digest()
    assert digest is not None
    data = bridges.Commitment(form.amount.data, form.renewal_on.data, form.signer.data, digest)
    try:
        bridges.record_commitment(db(), bridge_id, data, institution_id=institution_id, user_id=user.id)
    except InvalidInputError as exc:
        apply_errors(form, exc, aliases={"document_sha256": "document_sha256"})
        return _page(bridge_id, {"commitment": form}, INVALID_FORM)
    except ConflictError as exc:
        flash_error(exc)
    else:
        ok(_("续贷承诺已入档（承诺书 SHA-256：%(h)s…）", h=digest[:12]))
    return _done(bridge_id)


@bp.post("/bridges/<int:bridge_id>/approve")
@role_required(GUARANTOR)
def approve(bridge_id: int) -> Any:
    user = web_user()
    operator_id = _institution(user)
    bridges.operator_application(db(), bridge_id, operator_id=operator_id)
    if ActionForm().validate_on_submit():
        try:
            bridges.approve_bridge(db(), bridge_id, operator_id=operator_id, user_id=user.id)
        except LimitExceededError as exc:
            mark_failed()
            flash(_(LIMIT_REASONS.get(exc.detail, N_("超出方案限额，不能批准"))), "error")
        except SchemePausedError as exc:
            mark_failed()
            flash(_("该周转金已暂停受理：%(r)s", r=exc.detail or ""), "error")
        except ConflictError as exc:
            flash_error(exc)
        else:
            ok(_("已批准，请在划款后登记划出日期"))
    return _done(bridge_id)


@bp.post("/bridges/<int:bridge_id>/refuse")
@role_required(GUARANTOR)
def refuse(bridge_id: int) -> Any:
    user = web_user()
    operator_id = _institution(user)
    bridges.operator_application(db(), bridge_id, operator_id=operator_id)
    form = RefuseBridgeForm()
    if not form.validate_on_submit():
        return _page(bridge_id, {"refuse": form}, INVALID_FORM)
    try:
        bridges.refuse_bridge(
            db(), bridge_id, operator_id=operator_id, user_id=user.id, reason=form.reason.data
        )
    except InvalidInputError as exc:
        apply_errors(form, exc)
        return _page(bridge_id, {"refuse": form}, INVALID_FORM)
    except ConflictError as exc:
        flash_error(exc)
    else:
        ok(_("已不予批准，申请人和银行会看到原因"))
    return _done(bridge_id)


def _dated_step(bridge_id: int, slot: str, form: StepDateForm, step: Any, done: str, **extra: Any) -> Any:
    """A dated step (the operator's or the bank's): the form, the service, a flash; the page again (422)
    with the errors on a bad date."""
    if isinstance(form, RenewalForm):
        extra["amount"] = form.amount.data
    page = posted_step(
        form,
        lambda: step(db(), bridge_id, user_id=web_user().id, on=form.on.data, **extra),
        again=lambda: _page(bridge_id, {slot: form}, INVALID_FORM),
        done=done,
    )
    return page if page is not None else _done(bridge_id)


# The dated steps: the form's slot and prefix, its class, the service and what the flash says.
OPERATOR_STEPS = {
    "disburse": ("disburse", StepDateForm, bridges.disburse_bridge, N_("周转金已划出，使用天数从划出日起算")),
    "return": ("return", StepDateForm, bridges.return_bridge, N_("周转金已归还，费用已按分段日费率计收")),
}
BANK_STEPS = {
    "old-loan-repaid": ("old_loan", StepDateForm, bridges.record_old_loan_repaid, N_("已确认原贷款归还")),
    "renewal": (
        "renewal",
        RenewalForm,
        bridges.record_renewal,
        N_("续贷发放已登记，请资金管理方确认周转金归还"),
    ),
}


@bp.post("/bridges/<int:bridge_id>/<any(disburse, return):step>")
@role_required(GUARANTOR)
def operator_step(bridge_id: int, step: str) -> Any:
    operator_id = _institution(web_user())
    bridges.operator_application(db(), bridge_id, operator_id=operator_id)
    slot, form_class, service, done = OPERATOR_STEPS[step]
    form = form_class(prefix=PREFIXES[slot])
    return _dated_step(bridge_id, slot, form, service, _(done), operator_id=operator_id)


@bp.post("/bridges/<int:bridge_id>/<any('old-loan-repaid', renewal):step>")
@role_required(OFFICER)
def bank_step(bridge_id: int, step: str) -> Any:
    institution_id = _institution(web_user())
    bridges.bank_application(db(), bridge_id, institution_id=institution_id)
    slot, form_class, service, done = BANK_STEPS[step]
    form = form_class(prefix=PREFIXES[slot])
    return _dated_step(bridge_id, slot, form, service, _(done), institution_id=institution_id)
