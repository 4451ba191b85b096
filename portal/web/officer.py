"""Bank officers: the own institution's leads, claiming or declining them, the credit profile, every step to
disbursement, notes, hand-over, loan corrections and repayment reports. Amounts in 万元 on the pages."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from core.errors import ConflictError, InvalidInputError, PermissionDeniedError
from core.models import Role, User
from core.types import local_today, utcnow
from credit_profile.errors import ConsentRequiredError
from matching.dispatch import DispatchPolicy
from matching.errors import ImplausibleLoanError
from matching.inbox import InboxFilter, officer_lead, officer_leads
from matching.lead_views import LeadView
from matching.leads import (
    LEAD_TRANSITIONS,
    add_note,
    assign_lead,
    claim_lead,
    colleagues,
    decline_lead,
    lead_credit_profile,
    report_performance,
    transition_lead,
)
from matching.loans import CORRECTABLE_FIELDS, LoanInput, correct_loan
from portal.auth import role_required, web_user
from portal.db import db, keep_on_error
from portal.fragments import filter_form
from portal.presenters import inbox_context
from portal.web.common import INVALID_FORM, apply_errors, flash_error, ok
from portal.web.forms.fields import ActionForm, Choices, pairs
from portal.web.forms.officer import (
    WAN,
    AssignForm,
    CorrectLoanForm,
    DeclineForm,
    DisburseForm,
    LeadFilterForm,
    LeadNoteForm,
    LoanFields,
    NoteForm,
    PerformanceForm,
    RejectForm,
    in_wan,
)
from products.services import product_names

bp = Blueprint("officer", __name__, url_prefix="/officer")
OFFICER = Role.OFFICER.value
PER_PAGE = 20
STEP_FORMS: dict[str, type[NoteForm]] = {
    "contacted": NoteForm,
    "approved": NoteForm,
    "rejected": RejectForm,
    "disbursed": DisburseForm,
}
STEP_DONE = {
    "contacted": _l("已登记为已联系"),
    "approved": _l("已登记为审批通过"),
    "rejected": _l("已登记为拒绝"),
    "disbursed": _l("已登记放款"),
}
# The plausibility rules an officer may confirm after checking (matching.loans.plausibility_codes).
CONFIRMABLE = frozenset({"amount_outlier", "renewal_conflict"})


def _me() -> tuple[User, int]:
    user = web_user()
    if user.institution_id is None:
        raise PermissionDeniedError("officer without institution")
    return user, user.institution_id


def _wan(value: Decimal | None) -> Decimal | None:
    return None if value is None else value * WAN


@bp.get("/leads")
@role_required(OFFICER)
def leads() -> str:
    user, institution_id = _me()
    products = product_names(db(), institution_id)

    def filter_form_of_request() -> LeadFilterForm:
        form = LeadFilterForm(formdata=request.args)
        form.product.choices = pairs(((str(id_), name) for id_, name in products), blank=_("全部"))
        return form

    # Without a query string there is nothing to read: the form is built only to be written afresh.
    form = filter_form_of_request() if request.args else None
    filters, page = InboxFilter(), 1
    if form is not None and form.validate():
        filters = InboxFilter(
            status=form.status.data or None,
            mine=bool(form.mine.data),
            product_id=int(form.product.data) if form.product.data else None,
            region_code=form.region.data or None,
            amount_min=_wan(form.amount_min.data),
            amount_max=_wan(form.amount_max.data),
            q=form.q.data or None,
        )
        page = form.page.data or 1
    # The inbox shows no loan's performance reports: they are not read.
    inbox = officer_leads(
        db(),
        institution_id=institution_id,
        officer_id=user.id,
        filters=filters,
        page=page,
        per_page=PER_PAGE,
        reports=False,
    )
    query = {}
    if form is not None:
        query = {
            name: value for name, value in request.args.items() if name in form and name != "page" and value
        }
    filters_markup = filter_form(
        "officer/_lead_filters.html", tuple(products), lambda: (form or filter_form_of_request(), query)
    )
    return render_template(
        "officer/leads.html", filters=filters_markup, now=utcnow(), **inbox_context(inbox, query)
    )


def _loan_prefill(lead: LeadView) -> dict[str, Any]:
    """The disbursement form as the need and the borrower's declarations suggest it."""
    declared = lead.declarations
    return {
        "amount": in_wan(lead.amount),
        "term_months": lead.term_months,
        "collateral": lead.collateral,
        "disbursed_on": local_today(),
        "first_loan_borrower": bool(declared and declared.first_loan),
        "renewal_without_repayment": lead.is_renewal,
    }


def _colleague_choices(institution_id: int, user_id: int) -> Choices:
    names = colleagues(db(), institution_id=institution_id, officer_id=user_id)
    return pairs(((name, name) for name in names), blank=_("请选择同事"))


def _forms(lead: LeadView, user: User, bound: dict[str, FlaskForm]) -> dict[str, FlaskForm]:
    """Every form the lead's page offers this officer now, each prefixed so that several share a page;
    a form just posted and refused (`bound`) replaces its blank one."""
    forms: dict[str, FlaskForm] = {}
    if lead.status == "pushed":
        forms["decline"] = DeclineForm(prefix="decline", formdata=None)
    if lead.disclosed:
        for step in sorted(LEAD_TRANSITIONS.get(lead.status, frozenset()), key=list(STEP_FORMS).index):
            if step == "disbursed":
                forms[step] = DisburseForm(prefix=step, formdata=None, **_loan_prefill(lead))
            else:
                forms[step] = STEP_FORMS[step](prefix=step, formdata=None)
        forms["note"] = LeadNoteForm(prefix="note", formdata=None)
        if lead.status in ("claimed", "contacted", "approved"):
            forms["assign"] = AssignForm(prefix="assign", formdata=None)
        if lead.loan and local_today() <= lead.loan.correctable_until:
            loan = lead.loan
            forms["correct"] = CorrectLoanForm(
                prefix="correct",
                formdata=None,
                amount=in_wan(loan.amount),
                rate=loan.rate,
                term_months=loan.term_months,
                collateral=loan.collateral,
                disbursed_on=loan.disbursed_on,
                first_loan_borrower=loan.first_loan_borrower,
                renewal_without_repayment=loan.renewal_without_repayment,
            )
    if lead.loan:
        forms["performance"] = PerformanceForm(prefix="performance", formdata=None, as_of=local_today())
    forms.update({name: form for name, form in bound.items() if name in forms})
    assign_form = forms.get("assign")
    if isinstance(assign_form, AssignForm):
        assign_form.username.choices = _colleague_choices(user.institution_id or 0, user.id)
    return forms


def _lead_page(lead_id: int, bound: dict[str, FlaskForm] | None = None, status: int = 200) -> tuple[str, int]:
    user, institution_id = _me()
    lead = officer_lead(db(), lead_id, institution_id=institution_id, officer_id=user.id)
    forms = _forms(lead, user, bound or {})
    html = render_template(
        "officer/lead.html",
        lead=lead,
        mine=lead.disclosed,
        action=ActionForm(),
        forms=forms,
        steps={k: v for k, v in forms.items() if k in STEP_FORMS},
        today=local_today(),
    )
    return html, status


@bp.get("/leads/<int:lead_id>")
@role_required(OFFICER)
def lead(lead_id: int) -> tuple[str, int]:
    return _lead_page(lead_id)


@bp.post("/leads/<int:lead_id>/claim")
@role_required(OFFICER)
def claim(lead_id: int) -> Any:
    user, institution_id = _me()
    if ActionForm().validate_on_submit():
        try:
            claim_lead(db(), lead_id, officer_id=user.id, institution_id=institution_id)
        except ConflictError as exc:
            flash_error(exc)
        else:
            ok(_("认领成功，请尽快联系客户"))
    return redirect(url_for(".lead", lead_id=lead_id))


def _loan_input(form: LoanFields) -> LoanInput:
    return LoanInput(
        amount=form.amount.data * WAN,
        rate=form.rate.data,
        term_months=form.term_months.data,
        collateral=form.collateral.data,
        disbursed_on=form.disbursed_on.data,
        first_loan_borrower=bool(form.first_loan_borrower.data),
        renewal_without_repayment=bool(form.renewal_without_repayment.data),
    )


def _refused(lead_id: int, name: str, form: FlaskForm, exc: InvalidInputError) -> tuple[str, int]:
    """The page again with the service's reasons on the refused form; an implausible loan asks for the
    confirmation where the rule allows one."""
    db().rollback()
    if isinstance(exc, ImplausibleLoanError) and isinstance(form, LoanFields):
        codes = set(exc.fields.get("loan", []))
        apply_errors(form, InvalidInputError({"amount": sorted(codes - {"first_loan_conflict"})}))
        if "first_loan_conflict" in codes:
            apply_errors(form, InvalidInputError({"first_loan_borrower": ["first_loan_conflict"]}))
        if codes & CONFIRMABLE:
            form.confirm_outlier.errors = [_("请核实上述提示；确属实请勾选此项后再次提交")]
    else:
        apply_errors(form, exc)
    return _lead_page(lead_id, {name: form}, INVALID_FORM)


@bp.post("/leads/<int:lead_id>/<any(contacted, approved, rejected, disbursed):step>")
@role_required(OFFICER)
def move(lead_id: int, step: str) -> Any:
    user, institution_id = _me()
    form = STEP_FORMS[step](prefix=step)
    if not form.validate_on_submit():
        return _lead_page(lead_id, {step: form}, INVALID_FORM)
    loan = _loan_input(form) if isinstance(form, DisburseForm) else None
    try:
        transition_lead(
            db(),
            lead_id,
            to=step,
            officer_id=user.id,
            institution_id=institution_id,
            reason_code=form.reason_code.data if isinstance(form, RejectForm) else None,
            note=form.note.data,
            loan=loan,
            confirm_outlier=isinstance(form, DisburseForm) and bool(form.confirm_outlier.data),
        )
    except InvalidInputError as exc:
        return _refused(lead_id, step, form, exc)
    except ConflictError as exc:
        flash_error(exc)
        return redirect(url_for(".lead", lead_id=lead_id))
    ok(str(STEP_DONE[step]))
    return redirect(url_for(".lead", lead_id=lead_id))


def _act(
    lead_id: int, name: str, form: FlaskForm, call: Callable[[], object], done: str, then: str | None = None
) -> Any:
    """Run one service call for a form posted on the lead's page: the page again with the reasons when
    the form or the service refuses, a flashed reason for a refused move, else `done` and a redirect."""
    if not form.validate_on_submit():
        return _lead_page(lead_id, {name: form}, INVALID_FORM)
    try:
        call()
    except InvalidInputError as exc:
        return _refused(lead_id, name, form, exc)
    except ConflictError as exc:
        flash_error(exc)
        return redirect(url_for(".lead", lead_id=lead_id))
    ok(done)
    return redirect(then or url_for(".lead", lead_id=lead_id))


@bp.post("/leads/<int:lead_id>/decline")
@role_required(OFFICER)
def decline(lead_id: int) -> Any:
    user, institution_id = _me()
    form = DeclineForm(prefix="decline")
    policy = DispatchPolicy.from_settings(current_app.extensions["jihuitong.settings"])
    return _act(
        lead_id,
        "decline",
        form,
        lambda: decline_lead(
            db(),
            lead_id,
            officer_id=user.id,
            institution_id=institution_id,
            reason_code=form.reason_code.data,
            note=form.note.data,
            policy=policy,
        ),
        _("已婉拒该线索，需求将继续推送给其他机构"),
        url_for(".leads"),
    )


@bp.post("/leads/<int:lead_id>/notes")
@role_required(OFFICER)
def note(lead_id: int) -> Any:
    user, institution_id = _me()
    form = LeadNoteForm(prefix="note")
    return _act(
        lead_id,
        "note",
        form,
        lambda: add_note(
            db(), lead_id, officer_id=user.id, institution_id=institution_id, text=form.text.data
        ),
        _("备注已保存"),
        url_for(".lead", lead_id=lead_id) + "#history",
    )


@bp.post("/leads/<int:lead_id>/assign")
@role_required(OFFICER)
def assign(lead_id: int) -> Any:
    user, institution_id = _me()
    form = AssignForm(prefix="assign")
    form.username.choices = _colleague_choices(institution_id, user.id)
    return _act(
        lead_id,
        "assign",
        form,
        lambda: assign_lead(
            db(), lead_id, officer_id=user.id, institution_id=institution_id, username=form.username.data
        ),
        _("已移交给 %(name)s", name=form.username.data),
    )


@bp.post("/leads/<int:lead_id>/loan")
@role_required(OFFICER)
def correct(lead_id: int) -> Any:
    user, institution_id = _me()
    form = CorrectLoanForm(prefix="correct")
    return _act(
        lead_id,
        "correct",
        form,
        lambda: correct_loan(
            db(),
            lead_id,
            officer_id=user.id,
            institution_id=institution_id,
            changes={name: getattr(_loan_input(form), name) for name in CORRECTABLE_FIELDS},
            reason=form.reason.data,
            confirm_outlier=bool(form.confirm_outlier.data),
        ),
        _("放款信息已更正，原值已记入审计记录"),
    )


@bp.post("/leads/<int:lead_id>/performance")
@role_required(OFFICER)
def performance(lead_id: int) -> Any:
    user, institution_id = _me()
    form = PerformanceForm(prefix="performance")
    return _act(
        lead_id,
        "performance",
        form,
        lambda: report_performance(
            db(),
            lead_id,
            officer_id=user.id,
            institution_id=institution_id,
            as_of=form.as_of.data,
            overdue_30=bool(form.overdue_30.data),
            overdue_90=bool(form.overdue_90.data),
        ),
        _("还款表现已报告"),
    )


@bp.get("/leads/<int:lead_id>/credit")
@role_required(OFFICER)
def credit(lead_id: int) -> Any:
    user, institution_id = _me()
    try:
        _lead, score = lead_credit_profile(db(), lead_id, officer_id=user.id, institution_id=institution_id)
    except ConsentRequiredError:
        # The refused read is itself a use the borrower sees; the app renders the 403 page.
        keep_on_error()
        raise
    except PermissionDeniedError:
        lead = officer_lead(db(), lead_id, institution_id=institution_id, officer_id=user.id)
        if lead.claimed_by_colleague:
            # Not a bare 403: the colleague learns who holds the lead.
            flash(_("该线索已由 %(name)s 认领，只有认领人可以查看信用画像", name=lead.claimed_by), "info")
        else:
            flash(_("认领后才能查看信用画像"), "info")
        return redirect(url_for(".lead", lead_id=lead_id))
    lead = officer_lead(db(), lead_id, institution_id=institution_id, officer_id=user.id)
    return render_template("officer/credit.html", lead=lead, score=score)
