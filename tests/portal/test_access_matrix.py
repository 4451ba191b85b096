"""Every HTML route × every role: who may read or write what, no GET that writes, CSRF on every POST.

The world (tests/portal/web_world.py) has an owner side (applicant A in county C, bank X, county C's
finance office) and an other side (applicant B in county D, bank Y, county D's finance office); every URL
parameter names an object of the owner side. Each request runs in a savepoint rolled back afterwards, so
every cell of the table meets the same world, and a digest of every table before and after tells
whether it wrote anything. A new route fails `test_the_table_covers_every_route` until it has a row here.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from core.identifiers import IDENTIFIER_PATTERN, is_valid_id_number, is_valid_uscc
from core.types import local_today
from tests.counts import report
from tests.portal.web_world import (
    A_NAME,
    COUNTY_C,
    COUNTY_D,
    GUARANTOR_ROLES,
    ROLES,
    World,
    build_world,
    changed_tables,
    csrf_token,
    form_data,
    html_routes,
    log_in,
    rolled_back,
    table_digests,
    url,
)


@dataclass(frozen=True)
class Outcome:
    status: int
    writes: bool = False
    to_login: bool = False

    def __repr__(self) -> str:
        return next(name for name, value in globals().items() if value is self)


OK = Outcome(200)  # the page, nothing written
MADE = Outcome(200, writes=True)  # the page, after writing (a provider's secret is shown once, not flashed)
DONE = Outcome(302, writes=True)  # written, then redirected
AWAY = Outcome(302)  # redirected, nothing written (already logged in; a refused move, flashed)
LOGIN = Outcome(302, to_login=True)  # redirected to the login page, nothing written
DENY = Outcome(403)  # the wrong role, nothing written
HIDE = Outcome(404)  # the right role, but an object of the other side: it does not exist for them
FORM = Outcome(422)  # the form again with its errors, nothing written (a wrong password or code)
MOVED = Outcome(301)  # a page that moved for good to another address, after the same access check

# Columns: the roles of ROLES, in that order.
#                                                anon   A      B      offX   offY   pmX    pmY    city   finC   finD   admin
EXPECTED: dict[str, tuple[Outcome, ...]] = {
    "GET /":                                       (OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK),
    # The load balancer's probes: no data, no session needed.
    "GET /healthz":                                (OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK),
    "GET /readyz":                                 (OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK),
    "GET /favicon.ico":                            (OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK),
    "GET /products":                               (OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK),
    "GET /products/<product_id>":                  (OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK),
    "GET /login":                                  (OK,    AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY),
    # Logging in (as A) over a live session ends that session first: allowed to everyone.
    "POST /login":                                 (DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE),
    "POST /logout":                                (AWAY,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE),
    "GET /register":                               (OK,    AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY),
    # Registering over a live session ends that session first, as logging in does.
    "POST /register":                              (DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE),
    # Applicants: pages without a parameter show the caller's own data (B sees B's, never A's).
    "GET /me/":                                    (LOGIN, OK,    OK,    DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "GET /me/consents":                            (LOGIN, OK,    OK,    DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /me/consents":                           (LOGIN, DONE,  DONE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /me/consents/<consent_id>/revoke":       (LOGIN, DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "GET /me/credit":                              (LOGIN, OK,    OK,    DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "GET /me/needs":                               (LOGIN, OK,    OK,    DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "GET /me/needs/new":                           (LOGIN, OK,    OK,    DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /me/needs/new":                          (LOGIN, DONE,  DONE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "GET /me/needs/<need_id>":                     (LOGIN, OK,    HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /me/needs/<need_id>/withdraw":           (LOGIN, DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    # Editing a need (issue 14); the POST edits A's second need, which nobody has claimed.
    "GET /me/needs/<need_id>/edit":                (LOGIN, OK,    HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /me/needs/<need_id>/edit":               (LOGIN, DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    # Officers: the lead is A's, pushed to bank X and claimed by X's officer.
    "GET /officer/leads":                          (LOGIN, DENY,  DENY,  OK,    OK,    DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "GET /officer/leads/<lead_id>":                (LOGIN, DENY,  DENY,  OK,    HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "GET /officer/leads/<lead_id>/credit":         (LOGIN, DENY,  DENY,  OK,    HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    # A second lead of A's, still pushed to bank X.
    "POST /officer/leads/<lead_id>/claim":         (LOGIN, DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /officer/leads/<lead_id>/contacted":     (LOGIN, DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /officer/leads/<lead_id>/rejected":      (LOGIN, DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    # Not allowed from `claimed`: the page says so (flash) and nothing changes.
    "POST /officer/leads/<lead_id>/approved":      (LOGIN, DENY,  DENY,  AWAY,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /officer/leads/<lead_id>/disbursed":     (LOGIN, DENY,  DENY,  AWAY,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    # The workbench (issue 14). Declining takes A's second lead, still pushed; notes and the hand-over
    # (to officer_x's colleague) the claimed one; a loan correction and a repayment report on a lead that
    # has no loan yet are refused moves, flashed.
    "POST /officer/leads/<lead_id>/decline":       (LOGIN, DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /officer/leads/<lead_id>/notes":         (LOGIN, DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /officer/leads/<lead_id>/assign":        (LOGIN, DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /officer/leads/<lead_id>/loan":          (LOGIN, DENY,  DENY,  AWAY,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /officer/leads/<lead_id>/performance":   (LOGIN, DENY,  DENY,  AWAY,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    # Product managers: the product is bank X's, published.
    "GET /manage/products":                        (LOGIN, DENY,  DENY,  DENY,  DENY,  OK,    OK,    DENY,  DENY,  DENY,  DENY),
    "GET /manage/products/new":                    (LOGIN, DENY,  DENY,  DENY,  DENY,  OK,    OK,    DENY,  DENY,  DENY,  DENY),
    "POST /manage/products/new":                   (LOGIN, DENY,  DENY,  DENY,  DENY,  DONE,  DONE,  DENY,  DENY,  DENY,  DENY),
    "GET /manage/products/<product_id>/edit":      (LOGIN, DENY,  DENY,  DENY,  DENY,  OK,    HIDE,  DENY,  DENY,  DENY,  DENY),
    "POST /manage/products/<product_id>/edit":     (LOGIN, DENY,  DENY,  DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY),
    "POST /manage/products/<product_id>/publish":  (LOGIN, DENY,  DENY,  DENY,  DENY,  AWAY,  HIDE,  DENY,  DENY,  DENY,  DENY),
    "POST /manage/products/<product_id>/retire":   (LOGIN, DENY,  DENY,  DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY),
    # Pause, resume and copy (issue 14): the product is published, so resuming it is a refused move (AWAY).
    "POST /manage/products/<product_id>/pause":    (LOGIN, DENY,  DENY,  DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY),
    "POST /manage/products/<product_id>/resume":   (LOGIN, DENY,  DENY,  DENY,  DENY,  AWAY,  HIDE,  DENY,  DENY,  DENY,  DENY),
    "POST /manage/products/<product_id>/copy":     (LOGIN, DENY,  DENY,  DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY),
    # Finance offices: each sees its own region by default (scoping by query: test_county_offices_...).
    "GET /finance/":                               (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    DENY),
    "GET /finance/trend":                          (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    DENY),
    "GET /finance/breakdown":                      (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    DENY),
    "GET /finance/funnel":                         (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    DENY),
    "GET /finance/institutions":                   (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    DENY),
    "GET /finance/maturities":                     (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    DENY),
    "GET /finance/metrics":                        (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    DENY),
    "GET /finance/quality":                        (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    DENY),
    # The ranking compares every county: the city office's alone.
    "GET /finance/ranking":                        (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    DENY,  DENY,  DENY),
    "GET /finance/reports":                        (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    DENY),
    # The needs of the last 30 days, on a page and as a file: each office gets its own region's.
    "GET /finance/drilldown":                      (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    DENY),
    "GET /finance/export":                         (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    DENY),
    # County C's monthly report: the city office and C's may download it; D's does not see it.
    "GET /finance/reports/<report_id>":            (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    HIDE,  DENY),
    "GET /finance/reports/<report_id>/pdf":        (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    HIDE,  DENY),
    "GET /finance/reports/<report_id>/view":       (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    HIDE,  DENY),
    "GET /finance/reports/report.css":             (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    DENY),
    "POST /finance/reports":                       (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DONE,  DONE,  DONE,  DENY),
    "GET /admin/institutions":                     (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK),
    "POST /admin/institutions":                    (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DONE),
    "GET /admin/users":                            (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK),
    "POST /admin/users":                           (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DONE),
    "GET /admin/providers":                        (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK),
    "GET /admin/imports":                          (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK),
    "POST /admin/imports":                         (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DONE),
    "GET /admin/imports/<import_id>":              (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK),
    "POST /admin/providers":                       (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  MADE),
    "GET /admin/scorecards":                       (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK),
    "POST /admin/scorecards":                      (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DONE),
    # Guarantees (the guarantor role is not a column: tests/portal/test_web_guarantees.py covers it). A cover
    # asked for on A's lead with bank X, and a bridge application of A's with bank X, both in county C.
    "GET /guarantees/queue":                       (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "GET /guarantees/covers/<cover_id>":           (LOGIN, OK,    HIDE,  OK,    HIDE,  DENY,  DENY,  OK,    OK,    HIDE,  DENY),
    # Moved to /bridges/<bridge_id>; who may not see the application still gets 404.
    "GET /guarantees/bridges/<bridge_id>":         (LOGIN, MOVED, HIDE,  MOVED, HIDE,  DENY,  DENY,  MOVED, MOVED, HIDE,  DENY),
    "GET /guarantees/schemes":                     (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    DENY),
    # Issue 13: accounts, the notification centre and administration.
    # Verifying a phone: for whoever has a code pending (none here: the anonymous go to the login page).
    "GET /register/verify":                        (LOGIN, AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY),
    "POST /register/verify":                       (LOGIN, AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY),
    "POST /register/resend":                       (AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY),
    "GET /account/password":                       (LOGIN, OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK),
    # The posted current password is the staff's: the applicants' own is another, so theirs is refused.
    "POST /account/password":                      (LOGIN, FORM,  FORM,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE),
    # Asking for a reset code is open to anyone and answers the same whether the number is known or not.
    "GET /password/forgot":                        (OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK),
    "POST /password/forgot":                       (DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE,  DONE),
    "GET /password/reset":                         (OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK),
    "POST /password/reset":                        (FORM,  FORM,  FORM,  FORM,  FORM,  FORM,  FORM,  FORM,  FORM,  FORM,  FORM),
    "GET /account/profile":                        (LOGIN, OK,    OK,    DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /account/profile":                       (LOGIN, DONE,  DONE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "GET /account/phone":                          (LOGIN, OK,    OK,    DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /account/phone":                         (LOGIN, DONE,  DONE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "GET /notifications":                          (LOGIN, OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK,    OK),
    # Officer X's notification of the lead: nobody else's to mark.
    "POST /notifications/<notification_id>/read":  (LOGIN, HIDE,  HIDE,  DONE,  HIDE,  HIDE,  HIDE,  HIDE,  HIDE,  HIDE,  HIDE),
    "POST /notifications/read-all":                (LOGIN, DONE,  DONE,  DONE,  DONE,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY,  AWAY),
    "GET /admin/institutions/<institution_id>":    (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK),
    "POST /admin/institutions/<institution_id>":   (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DONE),
    "GET /admin/users/<user_id>":                  (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK),
    "POST /admin/users/<user_id>":                 (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DONE),
    # The temporary password is shown once, in the answer (as a provider's secret is).
    "POST /admin/users/<user_id>/reset-password":  (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  MADE),
    # Officer X's phone is verified already: nothing to do.
    "POST /admin/users/<user_id>/verify-phone":    (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  AWAY),
    "POST /admin/providers/<provider_id>/deactivate": (LOGIN, DENY, DENY, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DONE),
    "POST /admin/providers/<provider_id>/rotate":  (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  MADE),
    "GET /admin/audit":                            (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK),
    # Post-loan monitoring: a loan of A's at bank X, claimed by X's officer, with an open warning (and
    # an actioned one, for closing); A's consent paused (resuming an active one is refused, flashed).
    "GET /officer/warnings":                       (LOGIN, DENY,  DENY,  OK,    OK,    DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "GET /officer/warnings/<warning_id>":          (LOGIN, DENY,  DENY,  OK,    HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /officer/warnings/<warning_id>/acknowledge": (LOGIN, DENY, DENY, DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /officer/warnings/<warning_id>/action":  (LOGIN, DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /officer/warnings/<warning_id>/close":   (LOGIN, DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /me/consents/<consent_id>/pause":        (LOGIN, DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /me/consents/<consent_id>/resume":       (LOGIN, AWAY,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /me/loans/<loan_id>/monitoring-consent": (LOGIN, DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "GET /finance/warnings":                       (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    DENY),
    "GET /admin/monitoring/rules":                 (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK),
    "POST /admin/monitoring/rules/<code>":         (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DONE),
    "GET /admin/calendar":                         (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK),
    "POST /admin/calendar":                        (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DONE),
    # The steps of a cover (issue 16; the guarantor's own columns are GUARANTOR_EXPECTED below). Bank X asks
    # for cover of a disbursed lead of A's and reports an active cover repaid or in default; the decision,
    # filing, payments and recoveries are the guarantor's alone. Finance offices and borrowers only read.
    # The covers each reader may see: the borrower's own, the bank's, the county's (none for the other side).
    "GET /guarantees/covers":                      (LOGIN, OK,    OK,    OK,    OK,    DENY,  DENY,  OK,    OK,    OK,    DENY),
    "GET /guarantees/leads/<lead_id>/cover":       (LOGIN, DENY,  DENY,  OK,    HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /guarantees/leads/<lead_id>/cover":      (LOGIN, DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /guarantees/covers/<cover_id>/decision": (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /guarantees/covers/filings":             (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /guarantees/covers/<cover_id>/release":  (LOGIN, DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /guarantees/covers/<cover_id>/default":  (LOGIN, DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /guarantees/compensations/<compensation_id>/payment": (LOGIN, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY),
    "POST /guarantees/covers/<cover_id>/recoveries": (LOGIN, DENY, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    # Bridge funds (续贷周转金): A's bridge with bank X in county C, waiting for X's commitment; the fund's
    # operator (the guarantor role, not a column) is covered by tests/portal/test_web_bridges.py. The
    # renewal steps are X's, refused (flashed) before the bridge is out. Schemes: the cover's scheme.
    "GET /bridges/":                               (LOGIN, OK,    OK,    OK,    OK,    DENY,  DENY,  OK,    OK,    OK,    DENY),
    "GET /bridges/<bridge_id>":                    (LOGIN, OK,    HIDE,  OK,    HIDE,  DENY,  DENY,  OK,    OK,    HIDE,  DENY),
    "GET /me/bridges/new":                         (LOGIN, OK,    OK,    DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /me/bridges/new":                        (LOGIN, DONE,  DONE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /bridges/<bridge_id>/commitment":        (LOGIN, DENY,  DENY,  DONE,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /bridges/<bridge_id>/old-loan-repaid":   (LOGIN, DENY,  DENY,  AWAY,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /bridges/<bridge_id>/renewal":           (LOGIN, DENY,  DENY,  AWAY,  HIDE,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /bridges/<bridge_id>/approve":           (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /bridges/<bridge_id>/refuse":            (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /bridges/<bridge_id>/disburse":          (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    "POST /bridges/<bridge_id>/return":            (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DENY),
    # Schemes are the city's: its office and the admin change them, county offices read.
    "GET /finance/schemes/":                       (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    OK,    OK,    OK),
    "GET /finance/schemes/new":                    (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    DENY,  DENY,  OK),
    "POST /finance/schemes/new":                   (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DONE,  DENY,  DENY,  DONE),
    "GET /finance/schemes/<scheme_id>/edit":       (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  OK,    DENY,  DENY,  OK),
    "POST /finance/schemes/<scheme_id>/edit":      (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DONE,  DENY,  DENY,  DONE),
    "POST /finance/schemes/<scheme_id>/pause":     (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  DONE,  DENY,  DENY,  DONE),
    # The scheme runs already: nothing to resume (flashed).
    "POST /finance/schemes/<scheme_id>/resume":    (LOGIN, DENY,  DENY,  DENY,  DENY,  DENY,  DENY,  AWAY,  DENY,  DENY,  AWAY),
}  # fmt: skip

# The only writes a GET may make, by route, each required by a contract rather than tolerated:
READS_RECORDED = {
    # Every read of a credit profile by an officer is recorded as a use of the consent (api-v1.md,
    # "every read is recorded as a use of the consent"); the borrower sees it on the consents page.
    "GET /officer/leads/<lead_id>/credit": {"consent_uses", "status_events"},
    # The applicant's own read is recorded too (action `self_read`), listed with the uses on that page.
    "GET /me/credit": {"consent_uses", "status_events"},
}
# (status_events: the uses' receipt on the audit chain, credit_profile/receipts.py.)

# Who may see what of each side: A's name, need, phone and unmasked USCC; links to the owner side's
# objects. Everyone else must never get them, whatever the status of the answer.
A_READERS = {"applicant_a", "officer_x"}
B_READERS = {"applicant_b"}


def _links(world: World) -> dict[str, set[str]]:
    ids = world.ids
    return {
        f"/me/needs/{ids['need_id']}": {"applicant_a"},
        f"/me/consents/{ids['consent_id']}/revoke": {"applicant_a"},
        f"/officer/leads/{ids['lead_id']}": {"officer_x"},
        f"/officer/leads/{ids['spare_lead_id']}": {"officer_x"},
        f"/manage/products/{ids['product_id']}/edit": {"pm_x"},
    }


B_NAME = "泰和乙方测试有限公司"


def _b_markers(world: World) -> tuple[str, ...]:
    return (B_NAME, "乙方购置农机", world.codes["b"])


# A finance office sees the registered names of the firms in its region behind its figures
# (docs/metrics.md#masking), never their codes, phones or what they wrote in a need.
FIRM_NAME_READERS = {"finance_city": {A_NAME, B_NAME}, "finance_c": {A_NAME}, "finance_d": {B_NAME}}


def _leaks(world: World, role: str, body: str) -> list[str]:
    found = []
    names = FIRM_NAME_READERS.get(role, set())
    if role not in A_READERS:
        found += [marker for marker in world.private_markers() if marker in body and marker not in names]
    if role not in B_READERS:
        found += [marker for marker in _b_markers(world) if marker in body and marker not in names]
    found += [link for link, readers in _links(world).items() if role not in readers and link + '"' in body]
    entitled = {world.codes["a"]} if role in A_READERS else set()
    entitled |= {world.codes["b"]} if role in B_READERS else set()
    found += sorted(_identifiers(body) - entitled)
    return found


CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]*"')


def _identifiers(body: str) -> set[str]:
    """Unmasked USCCs and ID numbers on a page (as tests/portal/test_data_protection.py scans the API).

    CSRF tokens are random text in which 18 capitals and digits can line up by chance, so they are
    left out, and only codes with a valid check character count.
    """
    candidates = IDENTIFIER_PATTERN.findall(CSRF_VALUE.sub(r'\1"', body))
    return {code for code in candidates if is_valid_uscc(code) or is_valid_id_number(code)}


@pytest.fixture
def world(app, client, session):
    world = build_world(client, session)
    world.clients = {role: log_in(app, world, role) for role in ROLES}
    return world


def test_the_table_covers_every_route(app):
    routes = {route.key for route in html_routes(app)}
    missing, stale = sorted(routes - set(EXPECTED)), sorted(set(EXPECTED) - routes)
    assert not missing, f"routes without a row in EXPECTED (say who may do what): {missing}"
    assert not stale, f"rows in EXPECTED for routes that no longer exist: {stale}"
    assert all(len(row) == len(ROLES) for row in EXPECTED.values())
    assert set(READS_RECORDED) <= set(EXPECTED)


def _text_of(response: Any) -> str:
    """What a response shows, for the leak scan: the text of a downloaded PDF or workbook too."""
    data = response.get_data()
    if response.mimetype == "application/pdf":
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    if response.mimetype.endswith("spreadsheetml.sheet"):
        book = load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row)
    return data.decode()


def test_every_route_for_every_role(app, world, connection):
    baseline = table_digests(connection)
    failures, checked, recorded = [], 0, set()
    routes = html_routes(app)
    for route in routes:
        path = url(route, world)
        for role, expected in zip(ROLES, EXPECTED[route.key], strict=True):
            client = world.clients[role]
            with rolled_back(connection, client):
                response = client.open(path, method=route.method, data=form_data(route, world))
                written = changed_tables(baseline, table_digests(connection))
            body = _text_of(response)
            response.close()
            checked += 1
            cell = f"{route.key} as {role}"
            location = response.headers.get("Location", "")
            if response.status_code != expected.status:
                failures.append(f"{cell}: {response.status_code} {location}, expected {expected!r}")
                continue
            if expected.status == 302 and ("/login" in location) != expected.to_login:
                failures.append(f"{cell}: redirected to {location}, expected {expected!r}")
            exempt = READS_RECORDED.get(route.key, set()) if expected is OK else set()
            if expected.writes and not written:
                failures.append(f"{cell}: expected a write, nothing changed")
            elif not expected.writes and written - exempt:
                failures.append(f"{cell}: wrote {sorted(written - exempt)}")
            if written & exempt:
                recorded.add(route.key)
            leaks = _leaks(world, role, body)
            if leaks:
                failures.append(f"{cell}: shows {leaks}")
    assert failures == [], "\n".join(failures)
    # The exemptions are used (each of those reads does record itself), so none of them is stale.
    assert recorded == set(READS_RECORDED)
    # Sanity: the owner side's pages do show the owner side's data, so the leak scan is not vacuous.
    lead_page = (
        world.clients["officer_x"].get(f"/officer/leads/{world.ids['lead_id']}").get_data(as_text=True)
    )
    assert all(marker in lead_page for marker in world.private_markers()[:2])
    report("access matrix", f"requests checked ({len(routes)} routes × {len(ROLES)} roles)", checked)


def test_county_offices_see_only_their_county(world, connection):
    today = local_today()
    window = {"from_date": (today - dt.timedelta(days=30)).isoformat(), "to_date": today.isoformat()}
    city = world.clients["finance_city"].get("/finance/", query_string={**window, "region_code": COUNTY_C})
    assert city.status_code == 200
    assert "吉安县" in city.get_data(as_text=True) and "提交的融资需求" in city.get_data(as_text=True)
    for role, other, name in (("finance_d", COUNTY_C, "吉安县"), ("finance_c", COUNTY_D, "泰和县")):
        client = world.clients[role]
        before = table_digests(connection)
        response = client.get("/finance/", query_string={**window, "region_code": other})
        assert response.status_code == 403, role
        body = response.get_data(as_text=True)
        assert name not in body and "提交的融资需求" not in body and "放款" not in body, role
        assert "您没有权限执行此操作" in body
        assert table_digests(connection) == before
    own = world.clients["finance_c"].get("/finance/", query_string=window)
    assert own.status_code == 200 and "吉安县" in own.get_data(as_text=True)


def test_an_officer_of_another_bank_finds_no_lead_of_the_owner_side(world):
    for status in ("", "pushed", "claimed"):
        page = world.clients["officer_y"].get("/officer/leads", query_string={"status": status})
        assert page.status_code == 200
        assert _leaks(world, "officer_y", page.get_data(as_text=True)) == []
    mine = world.clients["officer_x"].get("/officer/leads").get_data(as_text=True)
    assert f"/officer/leads/{world.ids['lead_id']}" in mine


@pytest.fixture
def csrf_world(csrf_app, session):
    world = build_world(csrf_app.test_client(), session)  # through the JSON API, which takes no CSRF token
    world.clients = {role: log_in(csrf_app, world, role) for role in ROLES + GUARANTOR_ROLES}
    return world


def _doer(key: str) -> str:
    """The first role for whom the table says the POST succeeds (or at least gets past the checks); the
    guarantor's officer for its own steps."""
    roles, row = ROLES + GUARANTOR_ROLES, EXPECTED[key] + GUARANTOR_EXPECTED.get(key, (DENY, DENY))
    # DENY last: a route only the guarantor role may use and that has no guarantor row is checked with a
    # role the table refuses; the token is still checked first (CSRF runs before the role check).
    for wanted in (DONE, MADE, AWAY, FORM, DENY):
        if wanted in row:
            return roles[row.index(wanted)]
    raise AssertionError(f"nobody may {key}")


def test_every_post_without_a_valid_csrf_token_is_refused(csrf_app, csrf_world, connection):
    world = csrf_world
    baseline = table_digests(connection)
    posts = [route for route in html_routes(csrf_app) if route.method == "POST"]
    # A token of the attacker's own session: well-formed and signed, but not this session's.
    foreign = csrf_token(csrf_app.test_client().get("/login"))
    refused = 0
    for route in posts:
        role = _doer(route.key)
        client, path = world.clients[role], url(route, world)
        for token in (None, foreign, "not-a-token"):
            data = form_data(route, world)
            if token is not None:
                data["csrf_token"] = token
            with rolled_back(connection, client):
                response = client.post(path, data=data)
                written = changed_tables(baseline, table_digests(connection))
            assert response.status_code == 400, (route.key, role, token, response.status_code)
            assert "页面已过期或来源不明" in response.get_data(as_text=True)
            assert written == set(), (route.key, role, token, written)
        # The same post with the session's own token goes through: the refusal was the token's doing.
        expected = (EXPECTED[route.key] + GUARANTOR_EXPECTED.get(route.key, (DENY, DENY)))[
            (ROLES + GUARANTOR_ROLES).index(role)
        ]
        page = "/login" if role == "anonymous" else "/"
        with rolled_back(connection, client):
            data = {**form_data(route, world), "csrf_token": csrf_token(client.get(page))}
            response = client.post(path, data=data)
            written = changed_tables(baseline, table_digests(connection))
        assert response.status_code == expected.status, (route.key, role, response.status_code)
        assert bool(written) == expected.writes, (route.key, written)
        refused += 1
    report(
        "access matrix", "CSRF: POST routes refused without a valid token (none, foreign, garbage)", refused
    )


# --- the guarantor's officers (issue 16) ----------------------------------------------------------
# Columns: guarantor G (the operator of the world's cover scheme), guarantor H (another guarantor). Every
# route not listed here is (DENY, DENY): a guarantor's officer sees its own queue and covers, the public
# pages and its own account, nothing of the banks', the borrowers' or the finance offices'.
#                                                         G      H
GUARANTOR_EXPECTED: dict[str, tuple[Outcome, Outcome]] = {
    "GET /":                                              (OK,    OK),
    "GET /healthz":                                       (OK,    OK),
    "GET /readyz":                                        (OK,    OK),
    "GET /favicon.ico":                                   (OK,    OK),
    "GET /products":                                      (OK,    OK),
    "GET /products/<product_id>":                         (OK,    OK),
    "GET /login":                                         (AWAY,  AWAY),
    "POST /login":                                        (DONE,  DONE),
    "POST /logout":                                       (DONE,  DONE),
    "GET /register":                                      (AWAY,  AWAY),
    "POST /register":                                     (DONE,  DONE),
    "GET /register/verify":                               (AWAY,  AWAY),
    "POST /register/verify":                              (AWAY,  AWAY),
    "POST /register/resend":                              (AWAY,  AWAY),
    "GET /account/password":                              (OK,    OK),
    "POST /account/password":                             (DONE,  DONE),
    "GET /password/forgot":                               (OK,    OK),
    "POST /password/forgot":                              (DONE,  DONE),
    "GET /password/reset":                                (OK,    OK),
    "POST /password/reset":                               (FORM,  FORM),
    "GET /notifications":                                 (OK,    OK),
    "POST /notifications/<notification_id>/read":         (HIDE,  HIDE),
    "POST /notifications/read-all":                       (AWAY,  AWAY),
    "GET /guarantees/queue":                              (OK,    OK),
    "GET /guarantees/covers":                             (OK,    OK),
    "GET /guarantees/covers/<cover_id>":                  (OK,    HIDE),
    # The world's bridge fund is another operator's: 404 before the permanent move to /bridges/<bridge_id>.
    "GET /guarantees/bridges/<bridge_id>":                (HIDE,  HIDE),
    "POST /guarantees/covers/<cover_id>/decision":        (DONE,  HIDE),
    # Filing names the covers in the form: another operator's cover is refused as unknown, on the form.
    "POST /guarantees/covers/filings":                    (DONE,  FORM),
    "POST /guarantees/compensations/<compensation_id>/payment": (DONE, HIDE),
    "POST /guarantees/covers/<cover_id>/recoveries":      (DONE,  HIDE),
    # The bridge pages: the world's bridge fund is another operator's, so both see an empty list and neither
    # may see or move the bridge (its own operator's steps: tests/portal/test_web_bridges.py).
    "GET /bridges/":                                      (OK,    OK),
    "GET /bridges/<bridge_id>":                           (HIDE,  HIDE),
    "POST /bridges/<bridge_id>/approve":                  (HIDE,  HIDE),
    "POST /bridges/<bridge_id>/refuse":                   (HIDE,  HIDE),
    "POST /bridges/<bridge_id>/disburse":                 (HIDE,  HIDE),
    "POST /bridges/<bridge_id>/return":                   (HIDE,  HIDE),
}  # fmt: skip


def _guarantor_expected(key: str) -> tuple[Outcome, Outcome]:
    return GUARANTOR_EXPECTED.get(key, (DENY, DENY))


def test_the_guarantor_table_names_only_routes_that_exist(app):
    routes = {route.key for route in html_routes(app)}
    assert set(GUARANTOR_EXPECTED) <= routes, sorted(set(GUARANTOR_EXPECTED) - routes)
    # A guarantor-only step has somebody allowed to do it, for the CSRF test below.
    assert all(_doer(key) for key in routes if key.startswith("POST /guarantees/"))


def test_every_route_for_the_guarantors(app, world, connection):
    clients = {role: log_in(app, world, role) for role in GUARANTOR_ROLES}
    baseline = table_digests(connection)
    failures = []
    for route in html_routes(app):
        path = url(route, world)
        for role, expected in zip(GUARANTOR_ROLES, _guarantor_expected(route.key), strict=True):
            client = clients[role]
            with rolled_back(connection, client):
                response = client.open(path, method=route.method, data=form_data(route, world))
                written = changed_tables(baseline, table_digests(connection))
            body = _text_of(response)
            response.close()
            cell = f"{route.key} as {role}"
            location = response.headers.get("Location", "")
            if response.status_code != expected.status:
                failures.append(f"{cell}: {response.status_code} {location}, expected {expected!r}")
                continue
            if expected.status == 302 and ("/login" in location) != expected.to_login:
                failures.append(f"{cell}: redirected to {location}, expected {expected!r}")
            if expected.writes and not written:
                failures.append(f"{cell}: expected a write, nothing changed")
            elif not expected.writes and written:
                failures.append(f"{cell}: wrote {sorted(written)}")
            leaks = _leaks(world, role, body)
            if leaks:
                failures.append(f"{cell}: shows {leaks}")
    assert failures == [], "\n".join(failures)
    queue = clients["guarantor_g"].get("/guarantees/queue").get_data(as_text=True)
    assert f'/guarantees/covers/{world.ids["cover_id"]}"' in queue
    other = clients["guarantor_h"].get("/guarantees/queue").get_data(as_text=True)
    assert f'/guarantees/covers/{world.ids["cover_id"]}"' not in other
