"""Government credit enhancement pages: the guarantor's queue (covers with their SLA clock and filing
deadline, bridges with their days-left clock), a cover with its loss waterfall, a bridge application with
its clock, and the finance office's scheme page (each scheme against its limits, the cap monitor, the
figures by county, bank, guarantor or scheme).

Every step of a cover has its form here and calls the same service as the JSON API: the bank officer
asks for cover of a lead, reports the loan repaid or in default; the guarantor decides, files (备案)
singly or in batches, records each payment and the recoveries. Who may see which cover or bridge is
decided in guarantees.views, who may change it in guarantees.covers / guarantees.defaults; another's is
a 404. Finance offices and borrowers read only."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from core.errors import ConflictError, InvalidInputError, PermissionDeniedError
from core.models import Role, User
from core.reference import CITY_CODE
from core.types import local_today
from guarantees import covers, defaults
from guarantees.codes import GUARANTEE_LABELS
from guarantees.errors import StateError
from guarantees.figures import (
    BRIDGE_FIGURES,
    COVER_FIGURES,
    Period,
    bridge_figures,
    cap_monitor,
    cover_figures,
    scheme_figures,
)
from guarantees.models import Cover
from guarantees.views import (
    CoverView,
    PaymentView,
    bridge_list,
    bridge_view,
    cover_queue,
    cover_view,
    lead_cover_options,
    viewer_of,
)
from portal.auth import role_required, web_user
from portal.db import db, mark_failed
from portal.filters import percent
from portal.labels import label
from portal.messages import field_messages
from portal.stats_scope import stats_window
from portal.web.common import (
    INVALID_FORM,
    apply_errors,
    first_submission,
    flash_error,
    ok,
    posted_step,
    repeated,
)
from portal.web.forms.fields import pairs
from portal.web.forms.guarantees import (
    CoverRequestForm,
    DecisionForm,
    DefaultForm,
    FilingForm,
    PaymentForm,
    RecoveryForm,
    ReleaseForm,
    SchemeFiguresForm,
)
from portal.web.forms.officer import in_wan
from products.models import Institution
from stats.guarantee_tables import AMOUNTS, SHARES

bp = Blueprint("guarantees", __name__, url_prefix="/guarantees")
GUARANTOR = Role.GUARANTOR.value
OFFICER = Role.OFFICER.value
COVER_STATUS = GUARANTEE_LABELS["cover_status"]
READERS = (GUARANTOR, Role.OFFICER.value, Role.FINANCE.value, Role.APPLICANT.value)
# How the scheme page shows each figure (one place: the exports' and the report's tables).
MONEY, RATES = AMOUNTS, SHARES


def _queue_page(filing: FilingForm | None = None, status: int = 200) -> tuple[str, int]:
    viewer = viewer_of(web_user())
    rows, total = cover_queue(db(), viewer, limit=100)
    bridges = bridge_list(db(), viewer)
    html = render_template(
        "guarantees/queue.html",
        covers=rows,
        total=total,
        bridges=bridges,
        today=local_today(),
        filing=filing or FilingForm(formdata=None),
        fileable=cover_queue(db(), viewer, to_file=True, limit=covers.MAX_BATCH)[0],
    )
    return html, status


@bp.get("/queue")
@role_required(GUARANTOR)
def queue() -> tuple[str, int]:
    return _queue_page()


@bp.get("/covers")
@role_required(*READERS)
def cover_list() -> str:
    """The covers the viewer may see: the borrower's own, the bank's, the county's (the guarantor's are
    its queue)."""
    rows, total = cover_queue(db(), viewer_of(web_user()), limit=100)
    return render_template("guarantees/covers.html", covers=rows, total=total)


@bp.get("/covers/<int:cover_id>")
@role_required(*READERS)
def cover(cover_id: int) -> tuple[str, int]:
    return _cover_page(cover_id)


@bp.get("/bridges/<int:bridge_id>")
@role_required(*READERS)
def bridge(bridge_id: int) -> Any:
    """Moved for good to the one bridge page, `/bridges/<id>` (portal/web/bridges.py). The access check
    runs first, so that a reader who may not see the application still gets a 404, not its address."""
    bridge_view(db(), bridge_id, viewer_of(web_user()))
    return redirect(url_for("bridges.show", bridge_id=bridge_id), 301)


def _default_args(user: User) -> MultiDict[str, str]:
    today = local_today()
    return MultiDict(
        {
            "from_date": today.replace(month=1, day=1).isoformat(),
            "to_date": today.isoformat(),
            "region_code": user.region_code or "",
            "by": "region",
        }
    )


@bp.get("/schemes")
@role_required(Role.FINANCE.value)
def schemes() -> tuple[str, int]:
    user = web_user()
    form = SchemeFiguresForm(formdata=request.args if request.args else _default_args(user))
    status, context = 200, {}
    if form.validate():
        try:
            window = stats_window(user, form.from_date.data, form.to_date.data, form.region_code.data or None)
        except InvalidInputError as error:
            apply_errors(form, error, aliases={"from": "from_date", "to": "to_date"})
            status = INVALID_FORM
        else:
            period = Period(window.first, window.last, window.region_code)
            context = _figures(period, form.by.data or "region")
    else:
        status = INVALID_FORM
    return render_template("guarantees/schemes.html", form=form, **context), status


def _figures(period: Period, by: str) -> dict[str, Any]:
    session = db()
    names = dict(session.query(Institution.id, Institution.name).all())
    schemes = scheme_figures(session, period)
    scheme_names = {s.scheme_id: s.name for s in schemes}
    caps = cap_monitor(session)

    def key_name(key: Any) -> Any:
        if by in ("bank", "guarantor"):
            return names.get(key, key)
        if by == "scheme":
            return scheme_names.get(key, key)
        return key

    covers = cover_figures(session, period, by)
    bridges = bridge_figures(session, period, by)
    return {
        "period": period,
        "by": by,
        "schemes_rows": schemes,
        "caps": [(c, scheme_names.get(c.scheme_id, ""), names.get(c.institution_id, "")) for c in caps],
        "cover_rows": sorted(((key_name(k), k, v) for k, v in covers.items()), key=lambda r: str(r[0])),
        "bridge_rows": sorted(((key_name(k), k, v) for k, v in bridges.items()), key=lambda r: str(r[0])),
        "cover_figures": COVER_FIGURES,
        "bridge_figure_names": BRIDGE_FIGURES,
        "money": MONEY,
        "rates": RATES,
        "as_at": period.as_at,
        # The same tables as files (stats.guarantee_tables through the finance office's export).
        "export_base": {
            "from_date": period.first.isoformat(),
            "to_date": period.last.isoformat(),
            "region_code": period.region_code or "",
        },
        "export_by": {"region": "county", "bank": "institution"}.get(by, by),
        "is_city": period.region_code in (None, "", CITY_CODE),
    }


# --- the steps of a cover ---------------------------------------------------------------------------


def _staff() -> tuple[User, int]:
    user = web_user()
    if user.institution_id is None:
        raise PermissionDeniedError("staff without institution")
    return user, user.institution_id


def _not_now(exc: ConflictError) -> None:
    """A step refused in the record's present state: the second post of a step already done lands
    here (a double click, a refresh), and nothing is written twice."""
    if isinstance(exc, StateError) and exc.detail in COVER_STATUS:
        mark_failed()
        flash(
            _(
                "这笔业务当前为“%(s)s”，该步骤已办理过或现在不能办理，未作任何更改。",
                s=label(exc.detail, "cover_status"),
            ),
            "error",
        )
    else:
        flash_error(exc)


def _cover_forms(
    view: CoverView, due: PaymentView | None, role: str, bound: dict[str, FlaskForm]
) -> dict[str, FlaskForm]:
    """The forms the cover's page offers this role now (`due`: the first payment not yet recorded); a
    form just posted and refused replaces its blank one. Finance offices and borrowers get none."""
    forms: dict[str, FlaskForm] = {}
    today = local_today()
    if role == GUARANTOR:
        if view.status == "requested":
            forms["decision"] = DecisionForm(prefix="decision", formdata=None)
        if view.status == "active" and view.filed_on is None:
            forms["filing"] = FilingForm(formdata=None, cover_ids=[view.id])
        if view.status == "defaulted":
            if due is not None:
                forms["payment"] = PaymentForm(
                    prefix="payment", formdata=None, paid_on=today, amount=due.amount_due
                )
            forms["recovery"] = RecoveryForm(prefix="recovery", formdata=None, recovered_on=today)
    elif role == OFFICER and view.status == "active":
        forms["release"] = ReleaseForm(prefix="release", formdata=None, repaid_on=today)
        forms["default"] = DefaultForm(prefix="default", formdata=None, overdue_since=today)
    forms.update({name: form for name, form in bound.items() if name in forms})
    return forms


def _cover_page(
    cover_id: int, bound: dict[str, FlaskForm] | None = None, status: int = 200
) -> tuple[str, int]:
    user = web_user()
    view = cover_view(db(), cover_id, viewer_of(user))
    payments = view.default.payments if view.default else ()
    due = next((p for p in payments if p.paid_on is None), None)
    forms = _cover_forms(view, due, user.role, bound or {})
    html = render_template(
        "guarantees/cover.html", cover=view, forms=forms, due=due, today=local_today(), exact=_exact
    )
    return html, status


def _exact(amount: Decimal | str | int) -> str:
    """An amount to the fen in 元, as the waterfall's arithmetic is written (never rounded to 万元)."""
    return _("%(n)s元", n=f"{Decimal(amount):,.2f}")


def _step(cover_id: int, name: str, form: FlaskForm, call: Callable[[], object], done: str) -> Any:
    """One step posted on the cover's page: the page again (422) with the reasons when the form or the
    service refuses the input, a flashed reason for a step refused in the cover's state, else `done`."""
    page = posted_step(
        form,
        call,
        again=lambda: _cover_page(cover_id, {name: form}, INVALID_FORM),
        refused=_not_now,
        done=done,
    )
    return page if page is not None else redirect(url_for(".cover", cover_id=cover_id))


@bp.route("/leads/<int:lead_id>/cover", methods=["GET", "POST"])
@role_required(OFFICER)
def request_cover(lead_id: int) -> Any:
    """The bank officer asks for cover of an approved lead (covers.request_cover)."""
    user, institution_id = _staff()
    options = lead_cover_options(db(), lead_id, institution_id=institution_id)
    form = CoverRequestForm()
    form.scheme_id.choices = pairs(
        ((str(o.id), o.name) for o in options.schemes if not o.paused and not o.reasons), blank=_("请选择")
    )
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                cover = covers.request_cover(
                    db(),
                    lead_id,
                    int(form.scheme_id.data),
                    officer_id=user.id,
                    institution_id=institution_id,
                    fee_rate=form.fee_rate.data / 100,
                )
            except InvalidInputError as exc:
                apply_errors(form, exc)
                chosen = next((o for o in options.schemes if str(o.id) == form.scheme_id.data), None)
                if chosen is not None and "above_cap" in exc.fields.get("fee_rate", []):
                    form.fee_rate.errors = [
                        _("不能超过该方案的费率上限 %(c)s", c=percent(chosen.fee_rate_cap))
                    ]
            except StateError:
                mark_failed()
                if options.cover_id is not None:
                    flash(_("该线索已申请过担保/补偿，未重复申请。"), "error")
                    return redirect(url_for(".cover", cover_id=options.cover_id))
                flash(_("线索审批通过后才能申请担保/补偿。"), "error")
                return redirect(url_for(".request_cover", lead_id=lead_id))
            except ConflictError as exc:
                flash_error(exc)
                return redirect(url_for(".request_cover", lead_id=lead_id))
            else:
                ok(_("已提交担保/补偿申请，等待担保机构审核"))
                return redirect(url_for(".cover", cover_id=cover.id))
        status = INVALID_FORM
    html = render_template(
        "guarantees/request.html",
        options=options,
        form=form,
        reason_texts=lambda codes: field_messages({"scheme_id": list(codes)})["scheme_id"],
    )
    return html, status


@bp.post("/covers/<int:cover_id>/decision")
@role_required(GUARANTOR)
def decide(cover_id: int) -> Any:
    """The guarantor approves or refuses a request, with a reason (covers.decide_cover)."""
    user, operator_id = _staff()
    covers.operator_cover(db(), cover_id, operator_id=operator_id)
    form = DecisionForm(prefix="decision")
    approve = form.decision.data == "approve"
    return _step(
        cover_id,
        "decision",
        form,
        lambda: covers.decide_cover(
            db(), cover_id, approve=approve, reason=form.reason.data, user_id=user.id, operator_id=operator_id
        ),
        _("已同意承保") if approve else _("已登记不予承保，银行和借款人将看到原因"),
    )


@bp.post("/covers/filings")
@role_required(GUARANTOR)
def file_covers() -> Any:
    """File (备案) the ticked active covers in one batch, all or none (covers.file_covers)."""
    user, operator_id = _staff()
    form = FilingForm()
    if form.validate_on_submit():
        try:
            batch = covers.file_covers(db(), form.cover_ids.data, operator_id=operator_id, user_id=user.id)
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            ok(_("已备案 %(n)s 笔，批次号 %(b)s", n=len(form.cover_ids.data), b=batch))
            ids = form.cover_ids.data
            return redirect(url_for(".cover", cover_id=ids[0]) if len(ids) == 1 else url_for(".queue"))
    return _queue_page(form, INVALID_FORM)


@bp.post("/covers/<int:cover_id>/release")
@role_required(OFFICER)
def release(cover_id: int) -> Any:
    """The bank reports the covered loan repaid (covers.release_cover)."""
    user, institution_id = _staff()
    covers.bank_cover(db(), cover_id, institution_id=institution_id)
    form = ReleaseForm(prefix="release")
    return _step(
        cover_id,
        "release",
        form,
        lambda: covers.release_cover(
            db(), cover_id, institution_id=institution_id, user_id=user.id, repaid_on=form.repaid_on.data
        ),
        _("已登记结清并解除担保"),
    )


def _default_limits(
    form: DefaultForm, exc: InvalidInputError, cover: Cover, data: defaults.DefaultInput
) -> None:
    """A figure typed in 元 instead of 万元 (or a zero too many): say what the loan allows, in its unit."""
    codes = {name: exc.fields.get(name, []) for name in ("principal", "interest", "collateral_realised")}
    if "above_covered_amount" in codes["principal"]:
        form.principal.errors = [
            _("逾期本金不能超过担保/补偿金额 %(a)s万元，请核对单位（万元）和位数", a=in_wan(cover.amount))
        ]
    if "above_overdue_principal" in codes["interest"]:
        form.interest.errors = [
            _("逾期利息不能超过逾期本金 %(a)s万元，请核对单位（万元）和位数", a=in_wan(data.principal))
        ]
    elif "above_interest_limit" in codes["interest"]:
        limit = defaults.interest_limit(cover, data.principal)
        form.interest.errors = [
            _(
                "逾期利息不能超过 %(a)s万元（逾期本金按年利率 36%% 自放款日计），请核对单位（万元）和位数",
                # A computed ceiling, read to the hundredth of a 万元 and never above the real one.
                a=(limit / 10000).quantize(Decimal("0.01"), rounding=ROUND_DOWN),
            )
        ]
    if "above_principal_and_interest" in codes["collateral_realised"]:
        form.collateral_realised.errors = [
            _(
                "抵质押物回收不能超过逾期本金与利息之和 %(a)s万元，请核对单位（万元）和位数",
                a=in_wan(data.principal + data.interest),
            )
        ]


@bp.post("/covers/<int:cover_id>/default")
@role_required(OFFICER)
def report_default(cover_id: int) -> Any:
    """The bank reports the covered loan in default with its figures (defaults.report_default)."""
    user, institution_id = _staff()
    cover = covers.bank_cover(db(), cover_id, institution_id=institution_id)
    form = DefaultForm(prefix="default")
    if not form.validate_on_submit():
        return _cover_page(cover_id, {"default": form}, INVALID_FORM)
    data = defaults.DefaultInput(
        form.overdue_since.data,
        form.principal.data,
        form.interest.data,
        form.collateral_realised.data or Decimal(0),
    )
    try:
        defaults.report_default(db(), cover_id, data, institution_id=institution_id, user_id=user.id)
    except InvalidInputError as exc:
        apply_errors(form, exc)
        _default_limits(form, exc, cover, data)
        return _cover_page(cover_id, {"default": form}, INVALID_FORM)
    except ConflictError as exc:
        _not_now(exc)
    else:
        ok(_("已报告逾期，损失分担已按方案计算"))
    return redirect(url_for(".cover", cover_id=cover_id, _anchor="waterfall"))


@bp.post("/compensations/<int:compensation_id>/payment")
@role_required(GUARANTOR)
def record_payment(compensation_id: int) -> Any:
    """Record a payer's 代偿 or share as paid in full (defaults.record_payment)."""
    user, operator_id = _staff()
    cover_id = defaults.operator_compensation_cover(db(), compensation_id, operator_id=operator_id)
    form = PaymentForm(prefix="payment")
    if not form.validate_on_submit():
        return _cover_page(cover_id, {"payment": form}, INVALID_FORM)
    try:
        defaults.record_payment(
            db(), compensation_id, operator_id=operator_id, user_id=user.id, paid_on=form.paid_on.data,
            amount=form.amount.data,
        )  # fmt: skip
    except InvalidInputError as exc:
        apply_errors(form, exc)
        return _cover_page(cover_id, {"payment": form}, INVALID_FORM)
    except StateError:
        mark_failed()
        flash(_("这笔款项已登记支付，未重复登记。"), "error")
    except ConflictError as exc:
        flash_error(exc)
    else:
        ok(_("已登记支付"))
    return redirect(url_for(".cover", cover_id=cover_id, _anchor="waterfall"))


@bp.post("/covers/<int:cover_id>/recoveries")
@role_required(GUARANTOR)
def record_recovery(cover_id: int) -> Any:
    """Record money recovered, returned to each party pro rata (defaults.record_recovery). The same
    recovery posted twice (a double click) is recorded once."""
    user, operator_id = _staff()
    covers.operator_cover(db(), cover_id, operator_id=operator_id)
    form = RecoveryForm(prefix="recovery")
    if not form.validate_on_submit():
        return _cover_page(cover_id, {"recovery": form}, INVALID_FORM)
    if not first_submission("cover_recovery"):
        repeated()
        return redirect(url_for(".cover", cover_id=cover_id, _anchor="waterfall"))
    try:
        defaults.record_recovery(
            db(), cover_id, operator_id=operator_id, user_id=user.id, amount=form.amount.data,
            recovered_on=form.recovered_on.data, method=form.method.data,
        )  # fmt: skip
    except InvalidInputError as exc:
        apply_errors(form, exc)
        return _cover_page(cover_id, {"recovery": form}, INVALID_FORM)
    except ConflictError as exc:
        _not_now(exc)
    else:
        ok(_("已登记回收 %(a)s万元，并按各方承担比例返还", a=in_wan(form.amount.data)))
    return redirect(url_for(".cover", cover_id=cover_id, _anchor="waterfall"))
