"""A corpus of bad inputs in every field of every HTML form, the rest of the form valid.

For each (form, field, value): never a 5xx; a refused form says why in Chinese, in the field's error
list or a flashed error; injected markup never comes back unescaped (on the answer, nor on the page an
accepted form redirects to); a refused form writes nothing. Where a field can only hold a number, a
date, a choice or a code, every value of the corpus must be refused (blank only where the field is
optional); free text may keep what it is given, except NUL and what exceeds its length.

Each field gets the values every field must survive (NUL, oversize, markup) and a deterministic third of
the rest of the corpus (in turn by field), so that every value meets every kind of field while the file
stays affordable. Requests run in savepoints rolled back afterwards (tests/portal/web_world.py).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from wtforms import BooleanField, DateField, DecimalField, IntegerField, SelectField, SelectMultipleField
from wtforms.fields.core import UnboundField
from wtforms.validators import InputRequired

from core.models import User
from core.types import local_today
from credit_profile.models import Borrower
from portal.web.forms.account import (
    ForgotPasswordForm,
    LoginForm,
    PasswordChangeForm,
    PhoneChangeForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
    VerifyPhoneForm,
)
from portal.web.forms.admin import InstitutionEditForm, InstitutionForm, ProviderForm, UserEditForm, UserForm
from portal.web.forms.applicant import ConsentForm, NeedEditForm, NeedForm
from portal.web.forms.bridges import BridgeApplyForm, CommitmentForm
from portal.web.forms.calendars import CalendarForm
from portal.web.forms.fields import AtLeastOne
from portal.web.forms.finance import MonthlyReportForm
from portal.web.forms.guarantees import (
    CoverRequestForm,
    DecisionForm,
    DefaultForm,
    FilingForm,
    PaymentForm,
    RecoveryForm,
    ReleaseForm,
)
from portal.web.forms.manage import ProductForm
from portal.web.forms.monitoring import RuleForm, WarningActionForm, WarningCloseForm
from portal.web.forms.officer import (
    AssignForm,
    CorrectLoanForm,
    DeclineForm,
    DisburseForm,
    LeadNoteForm,
    NoteForm,
    PerformanceForm,
    RejectForm,
)
from portal.web.forms.schemes import PauseForm, SchemeForm
from portal.web.forms.scorecards import ActivateForm
from products.models import Institution
from tests.counts import report
from tests.portal.api_helpers import id_number, sms_code, uscc
from tests.portal.web_world import (
    A_PHONE,
    COUNTY_C,
    GUARANTOR_ROLES,
    ROLES,
    Route,
    build_world,
    changed_tables,
    form_data,
    html_routes,
    log_in,
    rolled_back,
    table_digests,
    url,
)

MARKUP = ('<script>alert("jht")</script>', '"><img src=x onerror=alert(1)>')
CORPUS: dict[str, str] = {
    "oversized": "x" * 100_000,
    "letters": "abc",
    "nan": "NaN",
    "infinity": "-Infinity",
    "minus_one": "-1",
    "huge_exponent": "1e309",
    "sql": "' OR '1'='1'; DROP TABLE users; --",
    "script": MARKUP[0],
    "attribute": MARKUP[1],
    "nul": "a\x00b",
    "mixed_scripts": "Ρaypal吉安ЅberБанк",
    "full_width_digits": "１２３４５６７８９０１２３４５６７９",  # no valid check character for either code
    "emoji": "💰🏦🚜",
    "rtl_override": "\u202egnp.exe吉安",
    "blank": "   ",
}
# Every field gets NUL, the oversized value and one of the two markup values (in turn); of the rest of
# the corpus, a third (in turn), so that every value still meets every kind of field.
ALWAYS = ("oversized", "nul")
MARKUP_VALUES = ("script", "attribute")
SAMPLED = [name for name in CORPUS if name not in ALWAYS + MARKUP_VALUES]

CJK = re.compile(r"[\u4e00-\u9fff]")
ERROR_LISTS = re.compile(r'<ul class="errors"[^>]*>(.*?)</ul>', re.S)
FLASHED_ERRORS = re.compile(r'<p class="flash flash-error">(.*?)</p>', re.S)


@dataclass(frozen=True)
class Form:
    """An HTML form: who posts it, its WTForms class and prefix, and steps that make it applicable."""

    route: str
    role: str
    cls: type
    prefix: str = ""
    setup: tuple[str, ...] = ()


FORMS = [
    Form("POST /login", "anonymous", LoginForm),
    Form("POST /register", "anonymous", RegisterForm),
    Form("POST /me/consents", "applicant_a", ConsentForm),
    Form("POST /me/needs/new", "applicant_a", NeedForm),
    Form("POST /me/needs/<need_id>/edit", "applicant_a", NeedEditForm),
    Form("POST /officer/leads/<lead_id>/contacted", "officer_x", NoteForm, "contacted-"),
    Form("POST /officer/leads/<lead_id>/approved", "officer_x", NoteForm, "approved-", ("contacted",)),
    Form("POST /officer/leads/<lead_id>/rejected", "officer_x", RejectForm, "rejected-"),
    Form("POST /officer/leads/<lead_id>/disbursed", "officer_x", DisburseForm, "disbursed-",
         ("contacted", "approved")),
    # the officer's workbench (issue 14)
    Form("POST /officer/leads/<lead_id>/decline", "officer_x", DeclineForm, "decline-"),
    Form("POST /officer/leads/<lead_id>/notes", "officer_x", LeadNoteForm, "note-"),
    Form("POST /officer/leads/<lead_id>/assign", "officer_x", AssignForm, "assign-"),
    Form("POST /officer/leads/<lead_id>/loan", "officer_x", CorrectLoanForm, "correct-",
         ("contacted", "approved", "disbursed")),
    Form("POST /officer/leads/<lead_id>/performance", "officer_x", PerformanceForm, "performance-",
         ("contacted", "approved", "disbursed")),
    Form("POST /manage/products/new", "pm_x", ProductForm),
    Form("POST /manage/products/<product_id>/edit", "pm_x", ProductForm),
    Form("POST /admin/institutions", "admin", InstitutionForm),
    Form("POST /admin/users", "admin", UserForm),
    Form("POST /admin/providers", "admin", ProviderForm),
    Form("POST /admin/calendar", "admin", CalendarForm),
    Form("POST /finance/reports", "finance_c", MonthlyReportForm),
    Form("POST /admin/scorecards", "admin", ActivateForm),
    # Issue 13: accounts and administration.
    Form("POST /account/password", "finance_c", PasswordChangeForm),
    Form("POST /password/forgot", "anonymous", ForgotPasswordForm),
    Form("POST /password/reset", "anonymous", ResetPasswordForm),
    Form("POST /account/phone", "applicant_a", PhoneChangeForm),
    Form("POST /account/profile", "applicant_a", ProfileForm),
    Form("POST /register/verify", "applicant_a", VerifyPhoneForm),
    Form("POST /admin/institutions/<institution_id>", "admin", InstitutionEditForm),
    Form("POST /admin/users/<user_id>", "admin", UserEditForm),
    Form("POST /officer/warnings/<warning_id>/action", "officer_x", WarningActionForm),
    Form("POST /officer/warnings/<warning_id>/close", "officer_x", WarningCloseForm),
    Form("POST /admin/monitoring/rules/<code>", "admin", RuleForm, "elec_drop-"),
    # The steps of a cover (issue 16).
    Form("POST /guarantees/leads/<lead_id>/cover", "officer_x", CoverRequestForm),
    Form("POST /guarantees/covers/<cover_id>/decision", "guarantor_g", DecisionForm, "decision-"),
    Form("POST /guarantees/covers/filings", "guarantor_g", FilingForm),
    Form("POST /guarantees/covers/<cover_id>/release", "officer_x", ReleaseForm, "release-"),
    Form("POST /guarantees/covers/<cover_id>/default", "officer_x", DefaultForm, "default-"),
    Form("POST /guarantees/compensations/<compensation_id>/payment", "guarantor_g", PaymentForm, "payment-"),
    Form("POST /guarantees/covers/<cover_id>/recoveries", "guarantor_g", RecoveryForm, "recovery-"),
    # Bridge funds and schemes (the operator's forms and the bank's later steps: BUTTONS below).
    Form("POST /me/bridges/new", "applicant_a", BridgeApplyForm),
    Form("POST /bridges/<bridge_id>/commitment", "officer_x", CommitmentForm),
    Form("POST /finance/schemes/new", "finance_city", SchemeForm),
    Form("POST /finance/schemes/<scheme_id>/edit", "finance_city", SchemeForm),
    Form("POST /finance/schemes/<scheme_id>/pause", "finance_city", PauseForm),
]  # fmt: skip
# POST routes that take a file (multipart): their text fields are a choice; the file's own refusals
# (type, size, limits, cells) are tested in tests/credit_profile/test_tables.py and the upload's in
# tests/portal/test_web_admin.py; who may post them, by the access matrix.
UPLOADS = {"POST /admin/imports"}
# POST routes whose form is only the CSRF token (a button): covered by the access matrix.
BUTTONS = {
    "POST /logout",
    "POST /me/consents/<consent_id>/revoke",
    "POST /me/needs/<need_id>/withdraw",
    "POST /officer/leads/<lead_id>/claim",
    "POST /manage/products/<product_id>/publish",
    "POST /manage/products/<product_id>/retire",
    "POST /register/resend",
    "POST /notifications/<notification_id>/read",
    "POST /notifications/read-all",
    "POST /admin/users/<user_id>/reset-password",
    "POST /admin/users/<user_id>/verify-phone",
    "POST /admin/providers/<provider_id>/deactivate",
    "POST /admin/providers/<provider_id>/rotate",
    "POST /manage/products/<product_id>/pause",
    "POST /manage/products/<product_id>/resume",
    "POST /manage/products/<product_id>/copy",
    "POST /officer/warnings/<warning_id>/acknowledge",
    "POST /me/consents/<consent_id>/pause",
    "POST /me/consents/<consent_id>/resume",
    "POST /me/loans/<loan_id>/monitoring-consent",
    "POST /finance/schemes/<scheme_id>/resume",
    "POST /bridges/<bridge_id>/approve",
    # Forms of the fund's operator (the guarantor role is not one of the world's) and the bank's steps
    # once the bridge is out: tests/portal/test_web_bridges.py posts this corpus into each of them.
    "POST /bridges/<bridge_id>/refuse",
    "POST /bridges/<bridge_id>/disburse",
    "POST /bridges/<bridge_id>/return",
    "POST /bridges/<bridge_id>/old-loan-repaid",
    "POST /bridges/<bridge_id>/renewal",
}
# Writes a refused form must make, by route: a wrong password counts towards the account's lock.
REFUSALS_RECORDED = {"POST /login": {"users"}}


def _prepare(form: Form, client: Any, world: Any) -> dict[str, str]:
    """Data that makes the owner side's form valid, where it needs a code just texted: a reset code
    for A's phone, or the code that verifies A's new phone number."""
    if form.route == "POST /password/reset":
        assert client.post("/password/forgot", data={"phone": A_PHONE}).status_code == 302
        return {"phone": A_PHONE, "code": sms_code(client, world.usernames["applicant_a"])}
    if form.route == "POST /register/verify":
        assert client.post("/account/phone", data={"phone": "13907963333"}).status_code == 302
        return {"code": sms_code(client, world.usernames["applicant_a"])}
    return {}


# Text fields that hold a code: nothing of the corpus is a valid one.
CODES = {"uscc", "id_number", "phone", "industries_excluded", "month", "code", "product_id"}
# The rest of the form where the default data would ignore the field (only farmers give an ID number).
CONTEXT = {
    ("POST /register", "id_number"): {"kind": "farmer", "uscc": ""},
}
TWINS = {
    ("POST /register", "password"): "password_again",
    ("POST /account/password", "new_password"): "new_password_again",
    ("POST /password/reset", "new_password"): "new_password_again",
}


def _fields(form: Form) -> list[tuple[str, type]]:
    """(name, field class) of every field a person fills in (check boxes take any value as ticked)."""
    found = []
    for name in sorted(dir(form.cls)):
        attr = getattr(form.cls, name)
        if isinstance(attr, UnboundField) and not issubclass(attr.field_class, BooleanField):
            found.append((name, attr.field_class))
    return found


def _strict(field_class: type, name: str) -> bool:
    """True where no value of the corpus can be valid: numbers, dates, choices and codes."""
    shaped = (DecimalField, IntegerField, DateField, SelectField, SelectMultipleField)
    return issubclass(field_class, shaped) or name in CODES


def _required(form: Form, name: str) -> bool:
    validators = getattr(form.cls, name).kwargs.get("validators") or []
    return any(isinstance(v, InputRequired | AtLeastOne) for v in validators)


def _base(form: Form, world: Any) -> dict[str, Any]:
    data = form_data(Route(*form.route.split(" ", 1), ""), world)
    if form.route == "POST /me/needs/new":
        # A renewal, so that the renewal fields are read rather than ignored.
        matures = (local_today() + dt.timedelta(days=60)).isoformat()
        data.update(is_renewal="y", renewal_current_amount="10", renewal_matures_on=matures)
    return data


def _cases() -> list[tuple[Form, str, type, str]]:
    cases, index = [], 0
    for form in FORMS:
        for name, field_class in _fields(form):
            sample = [value for i, value in enumerate(SAMPLED) if (i + index) % 3 == 0]
            values = (*ALWAYS, MARKUP_VALUES[index % 2], *sample)
            cases += [(form, name, field_class, value) for value in values]
            index += 1
    return cases


def _raw_markup(body: str) -> list[str]:
    return [markup for markup in (*MARKUP, "<img src=x") if markup in body]


def _chinese_errors(body: str) -> list[str]:
    shown = ERROR_LISTS.findall(body) + FLASHED_ERRORS.findall(body)
    return [text for text in shown if CJK.search(text)]


@pytest.fixture
def world(app, client, session):
    world = build_world(client, session)
    roles = {form.role for form in FORMS} | {role for _path, role, _names in FILTER_PAGES}
    world.clients = {role: log_in(app, world, role) for role in roles}
    return world


def test_every_post_route_is_a_form_here_or_a_button(app):
    posts = {route.key for route in html_routes(app) if route.method == "POST"}
    listed = {form.route for form in FORMS} | BUTTONS | UPLOADS
    assert posts == listed, f"new: {sorted(posts - listed)}, gone: {sorted(listed - posts)}"
    assert set(ROLES + GUARANTOR_ROLES) >= {form.role for form in FORMS}


def test_bad_input_in_every_field_of_every_form(app, world, connection):
    failures, sent, refused = [], 0, 0
    cases = _cases()
    # The sample still puts every value into a field of fixed shape and into a free-text field.
    for value_name in CORPUS:
        kinds = {_strict(field_class, name) for _form, name, field_class, v in cases if v == value_name}
        assert kinds == {True, False}, value_name
    for form in FORMS:
        client = world.clients[form.role]
        path = url(Route(*form.route.split(" ", 1), ""), world)
        with rolled_back(connection, client):
            for step in form.setup:
                step_route = Route("POST", f"/officer/leads/<lead_id>/{step}", "")
                moved = client.post(url(step_route, world), data=form_data(step_route, world))
                assert moved.status_code == 302
            prepared = _prepare(form, client, world)
            baseline = table_digests(connection)
            base = {**_base(form, world), **prepared}
            # The form as the owner side fills it in goes through: refusals below are the value's doing.
            with rolled_back(connection, client):
                accepted = client.post(path, data=base)
                assert changed_tables(baseline, table_digests(connection)), (form.route, accepted.status_code)
            for case_form, name, field_class, value_name in cases:
                if case_form is not form:
                    continue
                value = CORPUS[value_name]
                data = {**base, **CONTEXT.get((form.route, name), {}), form.prefix + name: value}
                if (form.route, name) in TWINS:
                    data[TWINS[(form.route, name)]] = value
                cell = f"{form.route} {name}={value_name}"
                with rolled_back(connection, client):
                    response = client.post(path, data=data)
                    written = changed_tables(baseline, table_digests(connection))
                    if response.status_code in (400, 422):
                        written -= REFUSALS_RECORDED.get(form.route, set())
                    body = response.get_data(as_text=True)
                    if written and response.status_code == 302:
                        body += client.get(response.headers["Location"]).get_data(as_text=True)
                sent += 1
                if response.status_code >= 500:
                    failures.append(f"{cell}: {response.status_code}")
                    continue
                if _raw_markup(body):
                    failures.append(f"{cell}: markup reflected unescaped")
                if written:
                    if response.status_code not in (200, 302):
                        failures.append(f"{cell}: {response.status_code} but wrote {sorted(written)}")
                    blank_and_optional = value_name == "blank" and not _required(form, name)
                    if value_name in ("nul", "oversized") or (
                        not blank_and_optional and (value_name == "blank" or _strict(field_class, name))
                    ):
                        failures.append(f"{cell}: accepted ({sorted(written)})")
                    continue
                refused += 1
                if response.status_code not in (400, 422):
                    failures.append(f"{cell}: refused with {response.status_code}")
                elif not _chinese_errors(body):
                    failures.append(f"{cell}: refused without a Chinese error message")
    assert failures == [], "\n".join(failures)
    report("form corpus", f"bad values posted into {len(FORMS)} forms (refused {refused})", sent)


def _full_width(value: str) -> str:
    """The value as typed with a Chinese input method in full-width mode: ０-９, Ａ-Ｚ."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value)


FULL_WIDTH_CASES = [
    ("POST /register", "anonymous", "uscc", uscc(302, COUNTY_C), {}),
    ("POST /register", "anonymous", "id_number", id_number(303, COUNTY_C), {"kind": "farmer", "uscc": ""}),
    ("POST /register", "anonymous", "phone", "13970000002", {}),
    ("POST /admin/users", "admin", "phone", "13970000003", {}),
    ("POST /admin/institutions", "admin", "code", "FWBANK1", {}),
]


def test_full_width_codes_are_accepted_and_stored_folded(world, session, connection):
    for key, role, field, value, extra in FULL_WIDTH_CASES:
        route = Route(*key.split(" ", 1), "")
        data = {**form_data(route, world), **extra, field: _full_width(value)}
        client = world.clients[role]
        with rolled_back(connection, client):
            response = client.post(url(route, world), data=data)
            assert response.status_code == 302, (key, field, _chinese_errors(response.get_data(as_text=True)))
            session.expire_all()
            if route.template == "/admin/institutions":
                stored = session.scalar(select(Institution.code).where(Institution.name == data["name"]))
            else:
                user = session.scalar(select(User).where(User.username == data["username"]))
                stored = (
                    user.phone
                    if field == "phone"
                    else getattr(session.get(Borrower, user.borrower_id), field)
                )
            assert stored == value, (key, field)


FILTER_PAGES = [
    (
        "/products",
        "anonymous",
        ("region_code", "borrower_kind", "amount", "tag", "institution", "collateral"),
    ),
    (
        "/officer/leads",
        "officer_x",
        ("status", "page", "q", "mine", "product", "region", "amount_min", "amount_max"),
    ),
    ("/finance/", "finance_city", ("from_date", "to_date", "region_code")),
    ("/finance/", "finance_city", ("period",)),
    ("/finance/drilldown", "finance_city", ("sort", "order", "q")),
    ("/login", "anonymous", ("next",)),
    ("/guarantees/schemes", "finance_city", ("from_date", "to_date", "region_code", "by")),
    ("/admin/users", "admin", ("q", "role", "institution", "active", "page")),
    ("/admin/audit", "admin", ("actor", "entity_type", "entity_id", "since", "until", "page")),
    ("/notifications", "officer_x", ("page", "unread")),
]


def test_bad_query_strings_on_the_filter_pages(world, connection):
    today = local_today()
    window = {"from_date": (today - dt.timedelta(days=30)).isoformat(), "to_date": today.isoformat()}
    before = table_digests(connection)
    checked = 0
    for path, role, names in FILTER_PAGES:
        base = {
            "/finance/": window,
            "/guarantees/schemes": window,
            "/finance/drilldown": {**window, "figure": "loans"},
        }.get(path, {})
        for name in names:
            for value_name, value in CORPUS.items():
                response = world.clients[role].get(path, query_string={**base, name: value})
                body = response.get_data(as_text=True)
                assert response.status_code < 500, (path, name, value_name)
                assert not _raw_markup(body), (path, name, value_name)
                if response.status_code == 422:
                    assert _chinese_errors(body), (path, name, value_name)
                checked += 1
    assert table_digests(connection) == before
    report("form corpus", f"bad query values on {len(FILTER_PAGES)} filter pages", checked)
