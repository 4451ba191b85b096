"""A two-sided world for the HTML page tests (no tests here): an "owner" side and an "other" side.

Owner side: applicant A (county C, 吉安县), bank X (its officer claimed a lead of A's need, its product
manager owns a product), the finance office of county C. Other side: applicant B (county D, 泰和县),
bank Y (officer, product manager, a product that only county D can get), the finance office of county D.
Plus anonymous, the city finance office and an administrator. Each role browses with its own logged-in
test client.

Also here: every HTML route of the app (`html_routes`), each URL filled with the owner side's objects,
valid form data for every state-changing POST, and a digest of every table to prove that a request
changed nothing. The world is built through the JSON API and the factories, as
tests/portal/test_data_protection.py builds its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from core.db import Base
from core.models import Notification, User
from core.types import local_today
from credit_profile.ingestion import create_provider
from credit_profile.models import DataImport
from guarantees.defaults import DefaultInput, report_default
from guarantees.models import Compensation
from matching.models import Lead
from stats.exports import to_xlsx
from stats.tables import Column, Table
from tests.factories import (
    PASSWORD,
    EarlyWarningFactory,
    InstitutionFactory,
    LeadFactory,
    LoanFactory,
    ProductFactory,
    ReportFactory,
    UserFactory,
)
from tests.factories.guarantees import CoverFactory, SchemeFactory, requested_cover, submitted_bridge
from tests.portal import api_helpers
from tests.portal.api_helpers import register, register_body, token, uscc

COUNTY_C, COUNTY_D, CITY = "360821", "360826", "360800"
ROLES = (
    "anonymous",
    "applicant_a",
    "applicant_b",
    "officer_x",
    "officer_y",
    "pm_x",
    "pm_y",
    "finance_city",
    "finance_c",
    "finance_d",
    "admin",
)
# The guarantor's officers (issue 16): G works for the operator of the world's cover scheme, H for
# another guarantor. Their own table in tests/portal/test_access_matrix.py (GUARANTOR_EXPECTED).
GUARANTOR_ROLES = ("guarantor_g", "guarantor_h")
# What only applicant A and the officer who claimed A's lead may ever read: written into A's profile and
# need so that any page showing them to someone else is caught.
A_NAME = "甲方井冈蜜柚专属标记有限公司"
A_PURPOSE = "甲方专属用途标记：购置冷库"
A_PHONE = "13907961111"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class World:
    ids: dict[str, int]
    codes: dict[str, str]
    usernames: dict[str, str]
    clients: dict[str, Any] = field(default_factory=dict)

    def private_markers(self) -> tuple[str, ...]:
        """Texts of A's that only A and the claiming officer may see."""
        return (A_NAME, A_PURPOSE, self.codes["a"], A_PHONE)


def _need(client: Any, headers: dict[str, str], purpose: str, term_months: int = 12) -> dict[str, Any]:
    # A second need of the same amount, term and collateral would be a duplicate (409 duplicate_need).
    body = {"amount": 200000, "term_months": term_months, "purpose": purpose, "collateral": "credit",
            "declared_prior_loan": False}  # fmt: skip
    return api_helpers.need_as_read(client, client.post("/api/v1/needs", json=body, headers=headers), headers)


def build_world(client: Any, session: Any) -> World:
    """Both sides, through the API (real matching, consents and claims) and the factories."""
    bank_x, bank_y = (
        InstitutionFactory(code="MATRIXX", name="吉安X银行"),
        InstitutionFactory(code="MATRIXY", name="泰和Y银行"),
    )
    product_x = ProductFactory(institution=bank_x, name="X行甲贷", published=True, region_codes=[COUNTY_C])
    product_y = ProductFactory(institution=bank_y, name="Y行乙贷", published=True, region_codes=[COUNTY_D])
    staff = {
        "officer_x": {"officer": True, "institution_id": bank_x.id},
        "officer_y": {"officer": True, "institution_id": bank_y.id},
        "pm_x": {"product_manager": True, "institution_id": bank_x.id},
        "pm_y": {"product_manager": True, "institution_id": bank_y.id},
        "finance_city": {"finance": True, "region_code": CITY},
        "finance_c": {"finance": True, "region_code": COUNTY_C},
        "finance_d": {"finance": True, "region_code": COUNTY_D},
        "admin": {"admin": True},
    }
    users = {role: UserFactory(username=f"m_{role}", **traits) for role, traits in staff.items()}
    # officer_x's colleague, whom a lead can be handed over to (issue 14).
    UserFactory(username="m_colleague_x", officer=True, institution_id=bank_x.id)
    session.flush()

    a_code, b_code = uscc(71, COUNTY_C), uscc(72, COUNTY_D)
    body_a = register_body("m_applicant_a", 71, name=A_NAME, uscc=a_code, region_code=COUNTY_C)
    body_a["phone"] = A_PHONE
    body_b = register_body(
        "m_applicant_b", 72, name="泰和乙方测试有限公司", uscc=b_code, region_code=COUNTY_D
    )
    for body in (body_a, body_b):
        response = register(client, body)
        assert response.status_code == 201, response.get_json()
    headers = {
        "a": token(client, "m_applicant_a"),
        "b": token(client, "m_applicant_b"),
        "officer_x": token(client, "m_officer_x", PASSWORD),
    }
    expires = (local_today() + dt.timedelta(days=300)).isoformat()
    consents = {}
    for side in ("a", "b"):
        granted = client.post(
            "/api/v1/consents",
            json={"sources": ["tax", "electricity"], "purpose": "融资匹配", "expires_on": expires},
            headers=headers[side],
        )
        assert granted.status_code == 201, granted.get_json()
        consents[side] = granted.get_json()["id"]
    need_a = _need(client, headers["a"], A_PURPOSE)
    spare_a = _need(client, headers["a"], A_PURPOSE + "（第二笔）", term_months=24)
    need_b = _need(client, headers["b"], "乙方购置农机")
    for need, bank in ((need_a, bank_x), (spare_a, bank_x), (need_b, bank_y)):
        assert [lead["institution"]["code"] for lead in need["leads"]] == [bank.code], need
    lead_a, spare_lead = need_a["leads"][0]["id"], spare_a["leads"][0]["id"]
    claimed = client.post(f"/api/v1/leads/{lead_a}/claim", headers=headers["officer_x"])
    assert claimed.status_code == 200, claimed.get_json()
    workbook = to_xlsx([Table("summary", "汇总", [Column("n", "笔数")], [{"n": 1}])], [("区域", COUNTY_C)])
    report = ReportFactory(
        done=True, month=last_month(), region_code=COUNTY_C, content=workbook, filename="c.xlsx"
    )
    # A cover asked for on A's lead and a bridge application of A's with bank X (guarantees pages).
    lead_row = session.get(Lead, lead_a)
    # No compensation cap in the way of the default's figures (its own tests are in tests/guarantees).
    scheme = SchemeFactory(comp_cap_rate=Decimal(1))
    cover = requested_cover(lead_row, scheme)
    bridge = submitted_bridge(
        SchemeFactory(bridge=True),
        borrower_id=lead_row.borrower_id,
        institution_id=bank_x.id,
        region_code=COUNTY_C,
    )
    # Issue 13: a data provider (to rotate and deactivate) and officer X's notification of the lead.
    provider, _secret = create_provider(session, name="矩阵数据提供方", source="tax")
    data_import = DataImport(source="tax", filename="矩阵.csv", rows_total=1, status="failed", errors={})
    session.add(data_import)
    session.flush()
    notification_id = session.scalar(
        select(Notification.id).where(Notification.user_id == users["officer_x"].id).order_by(Notification.id)
    )
    monitored = _monitoring(session, users["officer_x"].id, product_x)
    covered = _covers(session, scheme, users["officer_x"].id, product_x)
    guarantors = {
        "guarantor_g": UserFactory(
            username="m_guarantor_g", role="guarantor", institution_id=scheme.operator_id
        ),
        "guarantor_h": UserFactory(
            username="m_guarantor_h", role="guarantor", institution_id=InstitutionFactory(kind="guarantor").id
        ),
    }
    session.expire_all()
    return World(
        ids={
            "product_id": product_x.id,
            "product_y": product_y.id,
            "need_id": need_a["id"],
            "need_b": need_b["id"],
            "consent_id": consents["a"],
            "consent_b": consents["b"],
            # The claimed lead, for the pages and moves; a second lead of A's, still pushed, for claiming.
            "lead_id": lead_a,
            "spare_lead_id": spare_lead,
            # A's second need: nobody has claimed it, so A may still edit it.
            "spare_need_id": spare_a["id"],
            "lead_b": need_b["leads"][0]["id"],
            "institution_x": bank_x.id,
            "report_id": report.id,
            "cover_id": cover.id,
            "scheme_id": scheme.id,
            "bridge_id": bridge.id,
            # Bridge-fund and scheme pages: the guarantee scheme of the cover (to edit, pause, resume), its
            # operator (scheme_id above), the bridge fund, and bank X (the maturing loan's bank, stated by hand).
            "scheme_operator_id": cover.operator_id,
            "bridge_scheme_id": bridge.scheme_id,
            "user_id": users["officer_x"].id,
            "provider_id": provider.id,
            "import_id": data_import.id,
            "notification_id": notification_id,
            **monitored,
            **covered,
        },
        codes={"a": a_code, "b": b_code},
        usernames={
            "applicant_a": "m_applicant_a",
            "applicant_b": "m_applicant_b",
            **{role: user.username for role, user in users.items()},
            **{role: user.username for role, user in guarantors.items()},
        },
    )


def _monitoring(session: Any, officer_id: int, product: Any) -> dict[str, Any]:
    """Post-loan monitoring: a loan of A's at bank X on a lead X's officer claimed, an open warning on
    it and one already actioned (for closing), and the rule the admin edits."""
    borrower_id = session.scalar(select(User.borrower_id).where(User.username == "m_applicant_a"))
    lead = LeadFactory(disbursed=True, loan=None, product=product, need__borrower_id=borrower_id)
    lead.claimed_by = officer_id
    loan = LoanFactory(lead=lead)
    warning = EarlyWarningFactory(loan=loan, red=True)
    actioned = EarlyWarningFactory(loan=loan, period="2020-01", status="actioned", action="contacted")
    session.flush()
    return {
        "loan_id": loan.id,
        "warning_id": warning.id,
        "actioned_warning_id": actioned.id,
        "rule_code": "elec_drop",
    }


def _covers(session: Any, scheme: Any, officer_id: int, product: Any) -> dict[str, int]:
    """Covers at each step (issue 16), all of A's loans at bank X under the world's scheme: a disbursed
    lead of A's that officer X claimed and nobody has asked cover for, an active cover (to file,
    release or report in default) and a cover in default with the guarantor's 代偿 due."""
    borrower_id = session.scalar(select(User.borrower_id).where(User.username == "m_applicant_a"))

    def loan() -> Any:
        lead = LeadFactory(disbursed=True, loan=None, product=product, need__borrower_id=borrower_id)
        lead.claimed_by = officer_id
        return LoanFactory(lead=lead)

    coverable = loan()
    active = CoverFactory(scheme=scheme, loan=loan())
    defaulted = CoverFactory(scheme=scheme, loan=loan())
    session.flush()
    report = report_default(
        session, defaulted.id, DefaultInput(local_today(), defaulted.amount / 2, Decimal(0), Decimal(0)),
        institution_id=defaulted.institution_id, user_id=officer_id,
    )  # fmt: skip
    compensation_id = session.scalar(select(Compensation.id).where(Compensation.default_id == report.id))
    return {
        "coverable_lead_id": coverable.lead_id,
        "active_cover_id": active.id,
        "defaulted_cover_id": defaulted.id,
        "compensation_id": compensation_id,
    }


def passwords(role: str) -> str:
    return api_helpers.PASSWORD if role.startswith("applicant") else PASSWORD


def csrf_token(response: Any) -> str:
    match = CSRF_INPUT.search(response.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)


def log_in(app: Any, world: World, role: str) -> Any:
    """A test client logged in as the role through the login form (with its CSRF token when it is on)."""
    client = app.test_client()
    if role == "anonymous":
        return client
    data = {"username": world.usernames[role], "password": passwords(role)}
    if app.config.get("WTF_CSRF_ENABLED", True):
        data["csrf_token"] = csrf_token(client.get("/login"))
    response = client.post("/login", data=data)
    assert response.status_code == 302, (role, response.status_code)
    return client


# --- routes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One HTML rule and method, with any `<any(...)>` part spelt out: `POST /officer/leads/<lead_id>/claim`."""

    method: str
    template: str
    endpoint: str

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


ANY_PART = re.compile(r"<any\(([^)]*)\):(\w+)>")
TYPED_PART = re.compile(r"<(?:\w+:)?(\w+)>")


def html_routes(app: Any) -> list[Route]:
    """Every GET and POST of every rule outside the JSON API and the static files."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/api/"):
            continue
        templates = [rule.rule]
        match = ANY_PART.search(rule.rule)
        if match:
            options = [o.strip().strip("'\"") for o in match.group(1).split(",")]
            templates = [rule.rule[: match.start()] + o + rule.rule[match.end() :] for o in sorted(options)]
        for template in templates:
            plain = TYPED_PART.sub(lambda m: f"<{m.group(1)}>", template)
            for method in sorted((rule.methods or set()) & {"GET", "POST"}):
                routes.append(Route(method, plain, rule.endpoint))
    return sorted(routes, key=lambda r: (r.template, r.method))


# Which of the world's objects fills each URL parameter (all on the owner side).
PARAMETERS = {
    "<product_id>": "product_id",
    "<need_id>": "need_id",
    "<consent_id>": "consent_id",
    "<lead_id>": "lead_id",
    "<report_id>": "report_id",
    "<cover_id>": "cover_id",
    "<bridge_id>": "bridge_id",
    "<user_id>": "user_id",
    "<provider_id>": "provider_id",
    "<import_id>": "import_id",
    "<notification_id>": "notification_id",
    "<institution_id>": "institution_x",
    "<warning_id>": "warning_id",
    "<loan_id>": "loan_id",
    "<code>": "rule_code",
    "<compensation_id>": "compensation_id",
    "<scheme_id>": "scheme_id",
}
# Claiming needs a lead nobody has claimed yet: A's second lead, also pushed to bank X.
PARAMETER_OVERRIDES = {
    "POST /officer/leads/<lead_id>/claim": {"<lead_id>": "spare_lead_id"},
    # Declining too needs a lead nobody has claimed (issue 14).
    "POST /officer/leads/<lead_id>/decline": {"<lead_id>": "spare_lead_id"},
    # Editing needs a need nobody has claimed yet: A's second need.
    "POST /me/needs/<need_id>/edit": {"<need_id>": "spare_need_id"},
    # Closing needs a warning whose action is recorded.
    "POST /officer/warnings/<warning_id>/close": {"<warning_id>": "actioned_warning_id"},
    # Cover steps (issue 16): each on a cover at the step before it (the world's own cover is requested).
    "GET /guarantees/leads/<lead_id>/cover": {"<lead_id>": "coverable_lead_id"},
    "POST /guarantees/leads/<lead_id>/cover": {"<lead_id>": "coverable_lead_id"},
    "POST /guarantees/covers/<cover_id>/release": {"<cover_id>": "active_cover_id"},
    "POST /guarantees/covers/<cover_id>/default": {"<cover_id>": "active_cover_id"},
    "POST /guarantees/covers/<cover_id>/recoveries": {"<cover_id>": "defaulted_cover_id"},
}


def last_month() -> str:
    return (local_today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")


def _window() -> str:
    today = local_today()
    return f"from_date={(today - dt.timedelta(days=30)).isoformat()}&to_date={today.isoformat()}"


# Pages that need a query to show anything: the rows behind a figure, and a table as a file.
QUERIES = {
    "GET /finance/drilldown": lambda: f"?figure=needs&{_window()}",
    "GET /finance/export": lambda: f"?table=drilldown&figure=needs&file_format=csv&{_window()}",
}


def url(route: Route, world: World) -> str:
    path = route.template
    names = {**PARAMETERS, **PARAMETER_OVERRIDES.get(route.key, {})}
    for placeholder, name in names.items():
        path = path.replace(placeholder, str(world.ids[name]))
    assert "<" not in path, f"no object for a parameter of {route.key}"
    query = QUERIES.get(route.key)
    return path + (query() if query else "")


def form_data(route: Route, world: World) -> dict[str, Any]:
    """Data the owner side's form would post, valid on the world as built (each request is rolled back,
    so new names need not differ between requests)."""
    today, n = local_today(), 1  # the dates people see are Shanghai's, whatever the machine's zone
    product = {
        "name": f"矩阵测试贷{n}", "description": "测试产品", "min_amount": "1", "max_amount": "50",
        "min_term_months": "3", "max_term_months": "36", "rate_min": "3.45", "rate_max": "6.00",
        "collateral": ["credit"], "borrower_kinds": ["enterprise"], "region_codes": [COUNTY_C],
        "industries_excluded": "K", "min_score": "", "tags": ["first_loan"], "sla_hours": "8",
    }  # fmt: skip
    data: dict[str, dict[str, Any]] = {
        "POST /login": {"username": "m_applicant_a", "password": api_helpers.PASSWORD},
        "POST /register": {
            "username": f"matrix_new{n}", "password": "Ji'an-2026-ok", "password_again": "Ji'an-2026-ok",
            "phone": "13970000001", "kind": "enterprise", "name": f"吉安矩阵新企业{n}有限公司",
            "uscc": uscc(900 + n, COUNTY_C), "id_number": "", "region_code": COUNTY_C, "industry_code": "A",
            "established_on": "2018-05-01", "employees": "8",
        },
        "POST /me/consents": {
            "sources": ["tax"], "purpose": "生成信用画像", "expires_on": (today + dt.timedelta(days=200)).isoformat(),
            "agree": "y",
        },
        "POST /me/needs/new": {
            "amount": "15", "term_months": "12", "purpose": "采购原材料", "collateral": "credit",
            "renewal_institution_code": "", "renewal_current_amount": "", "renewal_matures_on": "",
        },
        "POST /me/needs/<need_id>/edit": {
            "amount": "25", "term_months": "12", "purpose": "采购原材料", "collateral": "credit",
        },
        "POST /officer/leads/<lead_id>/contacted": {"contacted-note": "已电话联系"},
        "POST /officer/leads/<lead_id>/approved": {"approved-note": "审批通过"},
        "POST /officer/leads/<lead_id>/rejected": {
            "rejected-reason_code": "incomplete_materials", "rejected-note": "材料不全",
        },
        "POST /officer/leads/<lead_id>/disbursed": {
            "disbursed-amount": "15", "disbursed-rate": "4.35", "disbursed-term_months": "12",
            "disbursed-collateral": "credit", "disbursed-disbursed_on": today.isoformat(), "disbursed-note": "",
        },
        # the officer's workbench (issue 14); the loan and performance forms need a disbursed lead
        "POST /officer/leads/<lead_id>/decline": {
            "decline-reason_code": "policy_restricted", "decline-note": "限制类行业",
        },
        "POST /officer/leads/<lead_id>/notes": {"note-text": "客户约周三面谈"},
        "POST /officer/leads/<lead_id>/assign": {"assign-username": "m_colleague_x"},
        "POST /officer/leads/<lead_id>/loan": {
            "correct-amount": "14", "correct-rate": "4.35", "correct-term_months": "12",
            "correct-collateral": "credit", "correct-disbursed_on": today.isoformat(),
            "correct-reason": "合同金额有误",
        },
        "POST /officer/leads/<lead_id>/performance": {"performance-as_of": today.isoformat()},
        "POST /manage/products/new": product,
        "POST /manage/products/<product_id>/edit": product,
        "POST /admin/institutions": {"code": f"NEWBANK{n}", "name": f"新机构{n}", "kind": "bank"},
        "POST /admin/calendar": {
            "year": str(today.year + 1), "holidays": f"{today.year + 1}-10-01~{today.year + 1}-10-07", "workdays": "",
        },
        "POST /admin/users": {
            "username": f"matrix_staff{n}", "password": "Ji'an-2026-ok", "role": "officer",
            "institution_id": str(world.ids["institution_x"]), "region_code": "", "phone": "",
        },
        "POST /admin/providers": {"name": f"矩阵数据提供方{n}", "source": "tax"},
        # A file the job accepts as a file (its one row names nobody, so the import then fails).
        "POST /admin/imports": {
            "source": "tax",
            "file": (io.BytesIO(b"uscc,period,sales,tax_paid,credit_rating,arrears\n1,2026-01,1,1,A,0\n"), "t.csv"),
        },
        "POST /finance/reports": {"month": last_month(), "region_code": ""},
        "POST /admin/scorecards": {"version": "expert-2026.11", "reason": ""},
        # Issue 13: accounts and administration. The current password is the staff's (an applicant's
        # is another, so theirs is refused); the reset code is never right.
        "POST /account/password": {
            "current_password": PASSWORD, "new_password": "Ganjiang-river-77", "new_password_again": "Ganjiang-river-77",
        },
        "POST /password/forgot": {"phone": A_PHONE},
        "POST /password/reset": {
            "phone": "13907969999", "code": "000000", "new_password": "Ganjiang-river-77",
            "new_password_again": "Ganjiang-river-77",
        },
        "POST /register/verify": {"code": "000000"},
        "POST /account/phone": {"phone": "13907962222"},
        "POST /account/profile": {"name": "吉安资料更正测试有限公司", "established_on": "2018-05-01", "employees": "9"},
        "POST /admin/institutions/<institution_id>": {"name": "吉安X银行（更名）", "kind": "bank", "active": "1"},
        "POST /admin/users/<user_id>": {
            "role": "officer", "institution_id": str(world.ids["institution_x"]), "region_code": "", "active": "0",
        },
        "POST /officer/warnings/<warning_id>/action": {"action": "contacted", "note": "已电话联系"},
        "POST /officer/warnings/<warning_id>/close": {"outcome": "resolved", "note": "已续贷"},
        # Cover steps (issue 16): amounts in 万元; the active cover is 50万元, the 代偿 due 20万元.
        "POST /guarantees/leads/<lead_id>/cover": {"scheme_id": str(world.ids["scheme_id"]), "fee_rate": "0.8"},
        "POST /guarantees/covers/<cover_id>/decision": {"decision-decision": "refuse", "decision-reason": "反担保不足"},
        "POST /guarantees/covers/filings": {"cover_ids": [str(world.ids["active_cover_id"])]},
        "POST /guarantees/covers/<cover_id>/release": {"release-repaid_on": today.isoformat()},
        "POST /guarantees/covers/<cover_id>/default": {
            "default-overdue_since": today.isoformat(), "default-principal": "40", "default-interest": "1",
            "default-collateral_realised": "5",
        },
        "POST /guarantees/compensations/<compensation_id>/payment": {
            "payment-paid_on": today.isoformat(), "payment-amount": "20",
        },
        "POST /guarantees/covers/<cover_id>/recoveries": {
            "recovery-recovered_on": today.isoformat(), "recovery-amount": "2", "recovery-method": "litigation",
        },
        "POST /admin/monitoring/rules/<code>": {
            "elec_drop-yellow": "-0.25", "elec_drop-red": "-0.5", "elec_drop-persist_months": "1",
            "elec_drop-window_months": "1", "elec_drop-peer_pct_max": "", "elec_drop-enabled": "y",
        },
        # Bridge funds and schemes: A applies for a bridge of a loan at bank X stated by hand; bank X's
        # officer records the commitment by its hash; the city office creates and edits a 4321 scheme.
        "POST /me/bridges/new": {
            "scheme_id": str(world.ids["bridge_scheme_id"]), "origin": "manual",
            "institution_id": str(world.ids["institution_x"]), "contract_no": "JX-MATRIX-2",
            "maturing_principal": "30", "matures_on": (today + dt.timedelta(days=20)).isoformat(), "amount": "20",
        },
        "POST /bridges/<bridge_id>/commitment": {
            "amount": "30", "renewal_on": (today + dt.timedelta(days=5)).isoformat(), "signer": "李行长",
            "document_sha256": "ab" * 32,
        },
        "POST /bridges/<bridge_id>/refuse": {"reason": "承诺金额不足"},
        "POST /bridges/<bridge_id>/disburse": {"disburse-on": today.isoformat()},
        "POST /bridges/<bridge_id>/return": {"return-on": today.isoformat()},
        "POST /bridges/<bridge_id>/old-loan-repaid": {"old-on": today.isoformat()},
        "POST /bridges/<bridge_id>/renewal": {"renewal-on": today.isoformat(), "renewal-amount": "30"},
        "POST /finance/schemes/new": _scheme_form(world, "MATRIX-NEW"),
        "POST /finance/schemes/<scheme_id>/edit": _scheme_form(world, "MATRIX-EDIT"),
        "POST /finance/schemes/<scheme_id>/pause": {"reason": "代偿率超过上限，暂停新业务"},
    }  # fmt: skip
    return dict(data.get(route.key, {}))


def _scheme_form(world: World, code: str) -> dict[str, Any]:
    """A 4321 guarantee scheme as the city finance office types it (percent, 万元)."""
    return {
        "scheme_code": code, "name": f"矩阵方案{code}", "kind": "guarantee", "sponsor": "吉安市财政局",
        "operator_id": str(world.ids["scheme_operator_id"]), "capital": "20000", "leverage_limit": "10",
        "loss_bank": "20", "loss_guarantor": "40", "loss_reguarantor": "30", "loss_government": "10",
        "fee_rate_cap": "1", "single_cap": "2000", "comp_cap_rate": "5", "filing_deadline_days": "30",
        "claim_deadline_days": "90", "decision_sla_hours": "16", "industries_excluded": "K",
    }  # fmt: skip


# --- state ----------------------------------------------------------------------------------------


def table_digests(connection: Connection) -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of its rows: equal digests mean nothing was written.

    On PostgreSQL one statement digests every table (the matrix takes a snapshot per request).
    """
    tables = Base.metadata.sorted_tables
    if connection.dialect.name == "postgresql":
        statement = " UNION ALL ".join(
            f"SELECT '{t.name}', count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), ''))"
            f' FROM "{t.name}" AS r'
            for t in tables
        )
        return {name: (count, digest) for name, count, digest in connection.execute(text(statement))}
    digests = {}
    for table in tables:
        rows = sorted(repr(tuple(row)) for row in connection.execute(select(table)))
        digests[table.name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return digests


def changed_tables(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> set[str]:
    return {name for name in before if before[name] != after.get(name)}


@contextmanager
def rolled_back(connection: Connection, client: Any) -> Iterator[None]:
    """Run what the block does inside a savepoint of the test's connection, then roll it back: every
    request meets the world exactly as built, and the client keeps the session cookie it had."""
    cookie = client.get_cookie("session")
    savepoint = connection.begin_nested()
    try:
        yield
    finally:
        savepoint.rollback()
        if cookie is not None:
            client.set_cookie("session", cookie.value)
        else:
            client.delete_cookie("session")
