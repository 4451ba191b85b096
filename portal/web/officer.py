"""Bank officers: the own institution's leads, claiming, the credit profile and every step to disbursement."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.errors import ConflictError, InvalidInputError, PermissionDeniedError
from core.models import Role, User
from core.types import local_today, utcnow
from credit_profile.errors import ConsentRequiredError
from matching.inbox import InboxFilter, LeadView, officer_lead, officer_leads
from matching.leads import LEAD_TRANSITIONS, claim_lead, lead_credit_profile, transition_lead
from matching.loans import LoanInput
from portal.auth import role_required, web_user
from portal.db import db, keep_on_error
from portal.presenters import inbox_context
from portal.web.common import INVALID_FORM, apply_errors, flash_error, ok
from portal.web.forms.fields import ActionForm
from portal.web.forms.officer import DisburseForm, LeadFilterForm, NoteForm, RejectForm

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


def _me() -> tuple[User, int]:
    user = web_user()
    if user.institution_id is None:
        raise PermissionDeniedError("officer without institution")
    return user, user.institution_id


@bp.get("/leads")
@role_required(OFFICER)
def leads() -> str:
    user, institution_id = _me()
    form = LeadFilterForm(formdata=request.args)
    status, page = None, 1
    if form.validate():
        status, page = form.status.data or None, form.page.data or 1
    inbox = officer_leads(
        db(),
        institution_id=institution_id,
        officer_id=user.id,
        filters=InboxFilter(status=status),
        page=page,
        per_page=PER_PAGE,
    )
    query = {"status": status} if status else {}
    return render_template("officer/leads.html", form=form, now=utcnow(), **inbox_context(inbox, query))


def _step_forms(lead: LeadView, bound: dict[str, NoteForm] | None = None) -> dict[str, NoteForm]:
    """The forms for the moves the lead allows now, each prefixed so that several share one page."""
    forms: dict[str, NoteForm] = {}
    for step in sorted(LEAD_TRANSITIONS.get(lead.status, frozenset()), key=list(STEP_FORMS).index):
        if bound and step in bound:
            forms[step] = bound[step]
        elif step == "disbursed":
            forms[step] = DisburseForm(
                prefix=step,
                formdata=None,
                amount=lead.amount,
                term_months=lead.term_months,
                collateral=lead.collateral,
                disbursed_on=local_today(),
            )
        else:
            forms[step] = STEP_FORMS[step](prefix=step, formdata=None)
    return forms


def _lead_page(lead_id: int, bound: dict[str, NoteForm] | None = None, status: int = 200) -> tuple[str, int]:
    user, institution_id = _me()
    lead = officer_lead(db(), lead_id, institution_id=institution_id, officer_id=user.id)
    html = render_template(
        "officer/lead.html",
        lead=lead,
        mine=lead.disclosed,
        action=ActionForm(),
        steps=_step_forms(lead, bound) if lead.disclosed else {},
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


@bp.post("/leads/<int:lead_id>/<any(contacted, approved, rejected, disbursed):step>")
@role_required(OFFICER)
def move(lead_id: int, step: str) -> Any:
    user, institution_id = _me()
    form = STEP_FORMS[step](prefix=step)
    if not form.validate_on_submit():
        return _lead_page(lead_id, {step: form}, INVALID_FORM)
    loan = None
    if isinstance(form, DisburseForm):
        loan = LoanInput(
            amount=form.amount.data,
            rate=form.rate.data,
            term_months=form.term_months.data,
            collateral=form.collateral.data,
            disbursed_on=form.disbursed_on.data,
            first_loan_borrower=form.first_loan_borrower.data,
            renewal_without_repayment=form.renewal_without_repayment.data,
        )
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
        )
    except InvalidInputError as exc:
        db().rollback()
        apply_errors(form, exc)
        return _lead_page(lead_id, {step: form}, INVALID_FORM)
    except ConflictError as exc:
        flash_error(exc)
        return redirect(url_for(".lead", lead_id=lead_id))
    ok(str(STEP_DONE[step]))
    return redirect(url_for(".lead", lead_id=lead_id))


@bp.get("/leads/<int:lead_id>/credit")
@role_required(OFFICER)
def credit(lead_id: int) -> str:
    user, institution_id = _me()
    try:
        _lead, score = lead_credit_profile(db(), lead_id, officer_id=user.id, institution_id=institution_id)
    except ConsentRequiredError:
        # The refused read is itself a use the borrower sees; the app renders the 403 page.
        keep_on_error()
        raise
    lead = officer_lead(db(), lead_id, institution_id=institution_id, officer_id=user.id)
    return render_template("officer/credit.html", lead=lead, score=score)
