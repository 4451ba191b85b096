"""Scheme maintenance pages: the city finance office (or an admin) creates and edits a scheme (shares in
percent summing to 100, amounts in 万元), pauses it with a reason and resumes it, audited; a county office
reads only; bad input and a double submit change nothing. Admin: guarantor staff for an institution of
the guarantor kind only, on the page and in the API."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from core.models import StatusEvent, User
from guarantees.models import Scheme, SchemeStatus
from guarantees.schemes import SCHEME_ENTITY
from tests.factories import PASSWORD, BorrowerFactory, InstitutionFactory, SchemeFactory, UserFactory
from tests.factories.guarantees import submitted_bridge
from tests.portal.api_helpers import token

pytestmark = pytest.mark.smoke


def _login(app, user):
    client = app.test_client()
    assert client.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302
    return client


def _form(operator_id, **extra):
    data = {
        "scheme_code": "JA-4321", "name": "吉安4321新方案", "kind": "guarantee", "sponsor": "吉安市财政局",
        "operator_id": str(operator_id), "capital": "20000", "leverage_limit": "10",
        "loss_bank": "20", "loss_guarantor": "40", "loss_reguarantor": "30", "loss_government": "10",
        "fee_rate_cap": "1", "single_cap": "2000", "comp_cap_rate": "5", "filing_deadline_days": "30",
        "claim_deadline_days": "90", "decision_sla_hours": "16", "region_codes": ["360821"],
        "industries_excluded": "K",
    }  # fmt: skip
    return {**data, **extra}


def _events(session, scheme_id):
    return session.scalar(
        select(func.count(StatusEvent.id)).where(
            StatusEvent.entity_type == SCHEME_ENTITY, StatusEvent.entity_id == scheme_id
        )
    )


@pytest.fixture
def offices(app, session):
    operator = InstitutionFactory(kind="guarantor", name="吉庐陵融资担保")
    city = UserFactory(finance=True)
    county = UserFactory(finance=True, region_code="360821")
    admin = UserFactory(admin=True)
    session.flush()
    return operator, _login(app, city), _login(app, county), _login(app, admin)


def test_city_office_creates_edits_pauses_and_resumes_a_scheme(offices, session):
    operator, city, _county, _admin = offices
    assert city.get("/finance/schemes/new").status_code == 200
    created = city.post("/finance/schemes/new", data=_form(operator.id))
    assert created.status_code == 302, created.get_data(as_text=True)
    scheme = session.scalar(select(Scheme).where(Scheme.code == "JA-4321"))
    assert scheme.capital == D("200000000.00") and scheme.single_cap == D("20000000.00")
    assert scheme.loss_shares == {
        "bank": "0.2",
        "guarantor": "0.4",
        "reguarantor": "0.3",
        "government": "0.1",
    }
    assert scheme.fee_rate_cap == D("0.01") and scheme.comp_cap_rate == D("0.05")
    assert scheme.eligibility == {"region_codes": ["360821"], "industries_excluded": ["K"]}
    # A refresh of the same form creates nothing more.
    assert city.post("/finance/schemes/new", data=_form(operator.id)).status_code == 302
    assert session.scalar(select(func.count(Scheme.id)).where(Scheme.code == "JA-4321")) == 1

    page = city.get(f"/finance/schemes/{scheme.id}/edit").get_data(as_text=True)
    assert 'value="20000"' in page and 'value="40"' in page
    edited = city.post(
        f"/finance/schemes/{scheme.id}/edit", data=_form(operator.id, loss_bank="30", loss_government="0")
    )
    assert edited.status_code == 302
    session.expire_all()
    assert session.get(Scheme, scheme.id).loss_shares["bank"] == "0.3"
    event = session.scalars(
        select(StatusEvent)
        .where(StatusEvent.entity_type == SCHEME_ENTITY, StatusEvent.entity_id == scheme.id)
        .order_by(StatusEvent.id.desc())
    ).first()
    assert event.note == "edited" and event.data["changes"]["loss_shares"][1]["bank"] == "0.3"
    history = city.get(f"/finance/schemes/{scheme.id}/edit").get_data(as_text=True)
    assert "修改了：损失分担比例" in history

    blank = city.post(f"/finance/schemes/{scheme.id}/pause", data={"reason": " "})
    assert blank.status_code == 422 and "请说明暂停原因" in blank.get_data(as_text=True)
    assert (
        city.post(f"/finance/schemes/{scheme.id}/pause", data={"reason": "代偿率超过上限"}).status_code == 302
    )
    session.expire_all()
    assert session.get(Scheme, scheme.id).status == SchemeStatus.PAUSED
    listing = city.get("/finance/schemes/").get_data(as_text=True)
    assert "暂停原因：代偿率超过上限" in listing
    before = _events(session, scheme.id)
    assert city.post(f"/finance/schemes/{scheme.id}/pause", data={"reason": "再次"}).status_code == 302
    assert _events(session, scheme.id) == before
    assert city.post(f"/finance/schemes/{scheme.id}/resume").status_code == 302
    session.expire_all()
    assert session.get(Scheme, scheme.id).status == SchemeStatus.ACTIVE


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"loss_bank": "25"}, "各方分担比例合计应为 100%（现为 105%）"),
        ({"loss_bank": "120"}, "应在 0 至 100 之间"),
        ({"fund_city": "50"}, "出资比例合计应为 100%"),
        ({"capital": "abc"}, "请输入数字"),
        ({"operator_id": "999999"}, "选项无效"),
        ({"kind": "bridge_fund"}, "续贷周转金须填写此项"),
        ({"industries_excluded": "ZZ"}, "行业代码无效"),
        ({"filing_deadline_days": "0"}, "应为 1 至 3650"),
        ({"scheme_code": "中文"}, "只能使用字母、数字"),
    ],
)
def test_bad_scheme_input_is_refused_in_chinese_and_saves_nothing(offices, session, change, message):
    operator, city, _county, _admin = offices
    response = city.post("/finance/schemes/new", data={**_form(operator.id), **change})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert session.scalar(select(func.count(Scheme.id)).where(Scheme.code == "JA-4321")) == 0


def test_a_bank_cannot_be_the_operator_and_a_taken_code_is_refused(offices, session):
    operator, _city, _county, admin = offices
    bank = InstitutionFactory(kind="bank")
    as_bank = admin.post("/finance/schemes/new", data=_form(bank.id))
    assert as_bank.status_code == 422 and "选项无效" in as_bank.get_data(as_text=True)
    taken = SchemeFactory(code="TAKEN")
    response = admin.post("/finance/schemes/new", data=_form(operator.id, scheme_code="TAKEN"))
    assert response.status_code == 422 and "已被占用" in response.get_data(as_text=True)
    # An edit of another scheme to a taken code, and a kind change once the scheme is in use.
    other = SchemeFactory(bridge=True, operator_id=operator.id)
    edit = admin.post(f"/finance/schemes/{other.id}/edit", data=_form(operator.id, scheme_code="TAKEN"))
    assert edit.status_code == 422 and "已被占用" in edit.get_data(as_text=True)
    assert (
        session.get(Scheme, taken.id).code == "TAKEN" and session.get(Scheme, other.id).kind == "bridge_fund"
    )


def test_bridge_fund_terms_round_trip(offices, session):
    operator, city, _county, _admin = offices
    data = _form(
        operator.id, kind="bridge_fund", scheme_code="BRIDGE-1", bridge_max_ratio="95", bridge_max_days="10",
        tier_days="5", tier_rate="0.02", later_rate="0.04", pause_overdue_ratio="40",
    )  # fmt: skip
    assert city.post("/finance/schemes/new", data=data).status_code == 302
    scheme = session.scalar(select(Scheme).where(Scheme.code == "BRIDGE-1"))
    assert scheme.fee_tiers == [
        {"up_to_day": 5, "daily_rate": "0.0002"},
        {"up_to_day": None, "daily_rate": "0.0004"},
    ]
    assert scheme.bridge_max_ratio == D("0.95") and scheme.pause_overdue_ratio == D("0.40")
    page = city.get(f"/finance/schemes/{scheme.id}/edit").get_data(as_text=True)
    assert 'value="0.02"' in page and 'value="95"' in page
    # Saving the form unchanged writes no event.
    before = _events(session, scheme.id)
    assert city.post(f"/finance/schemes/{scheme.id}/edit", data=data).status_code == 302
    assert _events(session, scheme.id) == before


def test_county_office_reads_only_and_others_are_refused(app, offices, session):
    operator, _city, county, _admin = offices
    scheme = SchemeFactory(operator_id=operator.id)
    listing = county.get("/finance/schemes/")
    assert listing.status_code == 200 and "方案由市金融办维护" in listing.get_data(as_text=True)
    assert "/edit" not in listing.get_data(as_text=True)
    assert county.get("/finance/schemes/new").status_code == 403
    assert county.post("/finance/schemes/new", data=_form(operator.id)).status_code == 403
    assert county.post(f"/finance/schemes/{scheme.id}/pause", data={"reason": "x"}).status_code == 403
    officer = _login(app, UserFactory(officer=True, institution_id=InstitutionFactory().id))
    assert officer.get("/finance/schemes/").status_code == 403
    assert session.get(Scheme, scheme.id).status == SchemeStatus.ACTIVE
    assert session.scalar(select(func.count(Scheme.id)).where(Scheme.code == "JA-4321")) == 0


def test_admin_creates_guarantor_staff_for_a_guarantee_institution_only(offices, session, client):
    operator, _city, _county, admin = offices
    bank = InstitutionFactory(kind="bank")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "所属担保机构/资金管理方" in page and operator.name in page
    base = {"username": "jll_staff", "password": "Ji'an-2026-ok", "role": "guarantor", "phone": ""}
    missing = admin.post("/admin/users", data={**base, "operator_id": ""})
    assert missing.status_code == 422 and "此项必填" in missing.get_data(as_text=True)
    wrong = admin.post("/admin/users", data={**base, "operator_id": str(bank.id)})
    assert wrong.status_code == 422 and "选项无效" in wrong.get_data(as_text=True)
    assert session.scalar(select(User).where(User.username == "jll_staff")) is None
    made = admin.post("/admin/users", data={**base, "operator_id": str(operator.id)})
    assert made.status_code == 302
    user = session.scalar(select(User).where(User.username == "jll_staff"))
    assert user.role == "guarantor" and user.institution_id == operator.id

    # The API: the same rule, the institution by its code.
    api_admin = UserFactory(admin=True, username="api_admin")
    session.flush()
    headers = token(client, api_admin.username, PASSWORD)
    body = {"username": "jll_api", "password": "Ji'an-2026-ok", "role": "guarantor"}
    refused = client.post(
        "/api/v1/admin/users", json={**body, "institution_code": bank.code}, headers=headers
    )
    assert refused.status_code == 422 and refused.get_json()["error"]["fields"]["institution_code"]
    ok = client.post("/api/v1/admin/users", json={**body, "institution_code": operator.code}, headers=headers)
    assert ok.status_code == 201 and ok.get_json()["role"] == "guarantor"


def test_scheme_patch_in_the_api(client, session):
    scheme = SchemeFactory(code="PATCHME")
    city, county_user = UserFactory(finance=True), UserFactory(finance=True, region_code="360821")
    session.flush()
    headers = token(client, city.username, PASSWORD)
    bad = client.patch(
        f"/api/v1/guarantees/schemes/{scheme.id}", json={"loss_shares": {"bank": "0.5"}}, headers=headers
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"]["loss_shares"] == [
        "各方比例应在 0 到 1 之间且合计为 1"
    ]
    good = client.patch(f"/api/v1/guarantees/schemes/{scheme.id}", json={"name": "改名方案"}, headers=headers)
    assert good.status_code == 200 and good.get_json()["name"] == "改名方案"
    assert good.get_json()["loss_shares"] == scheme.loss_shares
    county = token(client, county_user.username, PASSWORD)
    assert (
        client.patch(
            f"/api/v1/guarantees/schemes/{scheme.id}", json={"name": "x"}, headers=county
        ).status_code
        == 403
    )
    assert (
        client.patch("/api/v1/guarantees/schemes/999999", json={"name": "x"}, headers=headers).status_code
        == 404
    )


def test_a_scheme_in_use_keeps_its_kind(offices, session):
    operator, city, _county, _admin = offices
    fund = SchemeFactory(bridge=True, operator_id=operator.id, code="IN-USE")
    borrower = BorrowerFactory()
    submitted_bridge(
        fund, borrower_id=borrower.id, institution_id=InstitutionFactory().id, region_code="360802"
    )
    response = city.post(f"/finance/schemes/{fund.id}/edit", data=_form(operator.id, scheme_code="IN-USE"))
    assert response.status_code == 422
    assert "该方案已有担保或周转金业务，不能更改类型" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Scheme, fund.id).kind == "bridge_fund"


def test_admin_edits_a_guarantor_account_within_guarantee_institutions(offices, session, client):
    operator, _city, _county, admin = offices
    bank = InstitutionFactory(kind="bank")
    staff = UserFactory(role="guarantor", institution_id=operator.id)
    session.flush()
    assert admin.get(f"/admin/users/{staff.id}").status_code == 200
    moved = admin.post(
        f"/admin/users/{staff.id}", data={"role": "guarantor", "institution_id": str(bank.id), "active": "1"}
    )
    assert moved.status_code == 422 and "请选择融资担保机构或资金管理方" in moved.get_data(as_text=True)
    session.expire_all()
    assert session.get(User, staff.id).institution_id == operator.id
    disabled = admin.post(
        f"/admin/users/{staff.id}",
        data={"role": "guarantor", "institution_id": str(operator.id), "active": "0"},
    )
    assert disabled.status_code == 302
    session.expire_all()
    assert session.get(User, staff.id).active is False
    api_admin = UserFactory(admin=True)
    session.flush()
    headers = token(client, api_admin.username, PASSWORD)
    refused = client.patch(
        f"/api/v1/admin/users/{staff.id}", json={"institution_code": bank.code}, headers=headers
    )
    assert refused.status_code == 422 and refused.get_json()["error"]["fields"]["institution_code"]
