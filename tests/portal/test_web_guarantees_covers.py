"""The pages of every step of a cover (portal/web/guarantees.py): the bank officer asks for cover of an
approved lead, the guarantor decides on its queue, files singly or in batches, the bank reports the loan
repaid or in default (amounts in 万元, checked against the covered amount), the guarantor records each
payment and the recoveries, split back pro rata. Each with bad input, the wrong role, another
institution and a second post of the same step."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from core.types import local_today
from guarantees.defaults import DefaultInput, report_default
from guarantees.models import Compensation, Cover, CoverStatus, DefaultReport, Recovery
from tests.factories import (
    PASSWORD,
    CoverFactory,
    InstitutionFactory,
    LeadFactory,
    LoanFactory,
    ProductFactory,
    SchemeFactory,
    UserFactory,
)

pytestmark = pytest.mark.smoke


def _login(app, user):
    client = app.test_client()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def _text(response):
    return response.get_data(as_text=True)


@pytest.fixture
def side(session):
    """A 4321 scheme with its guarantor's officer, a bank with its officer and an approved lead (30万元),
    another guarantor and another bank, the borrower and the finance offices."""
    scheme = SchemeFactory(name="吉安4321测试方案", comp_cap_rate=D("1"))
    bank = InstitutionFactory(name="吉安测试银行")
    product = ProductFactory(institution=bank, published=True)
    lead = LeadFactory(approved=True, product=product, need__amount=D("300000.00"), need__term_months=12)
    session.flush()
    people = {
        "guarantor": UserFactory(role="guarantor", institution_id=scheme.operator_id),
        "other_guarantor": UserFactory(
            role="guarantor", institution_id=InstitutionFactory(kind="guarantor").id
        ),
        "officer": UserFactory(officer=True, institution_id=bank.id),
        "other_officer": UserFactory(officer=True, institution_id=InstitutionFactory().id),
        "borrower": UserFactory(borrower_id=lead.borrower_id),
        "finance_city": UserFactory(finance=True),
    }
    lead.claimed_by = people["officer"].id
    session.flush()
    return {"scheme": scheme, "bank": bank, "lead": lead, "product": product, **people}


def _covers(session, lead_id):
    return session.scalar(select(func.count(Cover.id)).where(Cover.lead_id == lead_id))


# --- 1. the bank officer asks for cover --------------------------------------------------------------


def test_officer_requests_cover_from_the_lead_page(app, session, side):
    officer = _login(app, side["officer"])
    lead = side["lead"]
    lead_page = _text(officer.get(f"/officer/leads/{lead.id}"))
    assert f"/guarantees/leads/{lead.id}/cover" in lead_page
    page = officer.get(f"/guarantees/leads/{lead.id}/cover")
    body = _text(page)
    assert page.status_code == 200
    # The scheme with its fee cap, its shares and whether the loan fits; no codes shown.
    assert "吉安4321测试方案" in body and "1.00%" in body and "担保机构 40.00%" in body
    assert "本笔贷款符合该方案条件" in body and "guarantor" not in body

    url = f"/guarantees/leads/{lead.id}/cover"
    # Above the scheme's fee cap (1 %): refused where typed, nothing written.
    above = officer.post(url, data={"scheme_id": str(side["scheme"].id), "fee_rate": "1.5"})
    assert above.status_code == 422 and "不能超过该方案的费率上限 1.00%" in _text(above)
    assert _covers(session, lead.id) == 0
    missing = officer.post(url, data={"scheme_id": "", "fee_rate": "abc"})
    assert missing.status_code == 422 and "请选择方案" in _text(missing) and "请输入数字" in _text(missing)

    done = officer.post(url, data={"scheme_id": str(side["scheme"].id), "fee_rate": "0.8"})
    assert done.status_code == 302
    cover = session.scalar(select(Cover).where(Cover.lead_id == lead.id))
    assert cover.status == CoverStatus.REQUESTED and cover.fee_rate == D("0.008")
    assert "已提交担保/补偿申请" in _text(officer.get(done.headers["Location"]))

    # The same post again (a double click): a Chinese message, no second cover.
    again = officer.post(url, data={"scheme_id": str(side["scheme"].id), "fee_rate": "0.8"})
    assert again.status_code == 302 and _covers(session, lead.id) == 1
    assert "已申请过担保/补偿" in _text(officer.get(again.headers["Location"]))


def test_only_the_lead_s_bank_may_ask_for_cover(app, session, side):
    url = f"/guarantees/leads/{side['lead'].id}/cover"
    data = {"scheme_id": str(side["scheme"].id), "fee_rate": "0.8"}
    assert _login(app, side["other_officer"]).post(url, data=data).status_code == 404
    assert _login(app, side["guarantor"]).post(url, data=data).status_code == 403
    assert _login(app, side["borrower"]).get(url).status_code == 403
    assert _covers(session, side["lead"].id) == 0


def test_a_lead_not_yet_approved_cannot_be_covered(app, session, side):
    lead = LeadFactory(claimed=True, product=side["product"])
    officer = _login(app, side["officer"])
    page = _text(officer.get(f"/guarantees/leads/{lead.id}/cover"))
    assert "线索审批通过后才能申请" in page
    refused = officer.post(
        f"/guarantees/leads/{lead.id}/cover", data={"scheme_id": str(side["scheme"].id), "fee_rate": "0.8"}
    )
    assert refused.status_code == 302 and _covers(session, lead.id) == 0
    assert "线索审批通过后才能申请担保/补偿" in _text(officer.get(refused.headers["Location"]))


# --- 2. the guarantor decides ------------------------------------------------------------------------


def _requested(session, side):
    loan = LoanFactory(
        lead=LeadFactory(
            disbursed=True, loan=None, product=side["product"], need__borrower_id=side["lead"].borrower_id
        )
    )
    return CoverFactory(scheme=side["scheme"], loan=loan, requested=True)


def test_guarantor_approves_on_its_queue_and_a_second_post_changes_nothing(app, session, side):
    cover = _requested(session, side)
    guarantor = _login(app, side["guarantor"])
    queue = _text(guarantor.get("/guarantees/queue"))
    assert f"#{cover.id}<" in queue and "办理时限" in queue
    page = _text(guarantor.get(f"/guarantees/covers/{cover.id}"))
    assert "提交审核结论" in page and "同意承保" in page

    done = guarantor.post(f"/guarantees/covers/{cover.id}/decision", data={"decision-decision": "approve"})
    assert done.status_code == 302
    session.refresh(cover)
    # The loan is disbursed already: the approved cover is active at once, with its filing deadline.
    assert cover.status == CoverStatus.ACTIVE and cover.filing_due_on is not None
    assert "已同意承保" in _text(guarantor.get(done.headers["Location"]))

    again = guarantor.post(f"/guarantees/covers/{cover.id}/decision", data={"decision-decision": "refuse",
                                                                            "decision-reason": "重复提交"})  # fmt: skip
    assert again.status_code == 302
    session.refresh(cover)
    assert cover.status == CoverStatus.ACTIVE and cover.reason is None
    assert "该步骤已办理过或现在不能办理" in _text(guarantor.get(again.headers["Location"]))


def test_a_refusal_needs_a_reason(app, session, side):
    cover = _requested(session, side)
    guarantor = _login(app, side["guarantor"])
    url = f"/guarantees/covers/{cover.id}/decision"
    bare = guarantor.post(url, data={"decision-decision": "refuse", "decision-reason": "   "})
    assert bare.status_code == 422 and "不予承保时请填写原因" in _text(bare)
    nothing = guarantor.post(url, data={})
    assert nothing.status_code == 422 and "请选择审核结论" in _text(nothing)
    session.refresh(cover)
    assert cover.status == CoverStatus.REQUESTED
    done = guarantor.post(url, data={"decision-decision": "refuse", "decision-reason": "反担保措施不足"})
    assert done.status_code == 302
    session.refresh(cover)
    assert cover.status == CoverStatus.REFUSED and cover.reason == "反担保措施不足"
    # The borrower reads the refusal and its reason; the bank too.
    for who in ("borrower", "officer"):
        page = _text(_login(app, side[who]).get(f"/guarantees/covers/{cover.id}"))
        assert "反担保措施不足" in page and "已拒绝" in page and "提交审核结论" not in page


def test_only_the_scheme_s_guarantor_decides(app, session, side):
    cover = _requested(session, side)
    data = {"decision-decision": "approve"}
    url = f"/guarantees/covers/{cover.id}/decision"
    assert _login(app, side["other_guarantor"]).post(url, data=data).status_code == 404
    assert _login(app, side["other_guarantor"]).get(f"/guarantees/covers/{cover.id}").status_code == 404
    assert f"#{cover.id}<" not in _text(_login(app, side["other_guarantor"]).get("/guarantees/queue"))
    for who in ("officer", "borrower", "finance_city"):
        assert _login(app, side[who]).post(url, data=data).status_code == 403, who
    session.refresh(cover)
    assert cover.status == CoverStatus.REQUESTED


# --- 3. filing ---------------------------------------------------------------------------------------


def _active(side, **kwargs):
    loan = LoanFactory(
        lead=LeadFactory(
            disbursed=True, loan=None, product=side["product"], need__borrower_id=side["lead"].borrower_id
        )
    )
    return CoverFactory(scheme=side["scheme"], loan=loan, **kwargs)


def test_batch_filing_from_the_queue_all_or_none(app, session, side):
    first, second = _active(side), _active(side)
    late = _active(side, filing_due_on=local_today() - dt.timedelta(days=1))
    guarantor = _login(app, side["guarantor"])
    queue = _text(guarantor.get("/guarantees/queue"))
    assert f'name="cover_ids" value="{first.id}"' in queue
    assert f"备案期限 {first.filing_due_on}" in queue and "已超期" in queue

    mixed = guarantor.post("/guarantees/covers/filings", data={"cover_ids": [first.id, late.id]})
    assert mixed.status_code == 422 and "含有已超过备案期限的业务" in _text(mixed)
    session.refresh(first)
    assert first.filed_on is None
    empty = guarantor.post("/guarantees/covers/filings", data={})
    assert empty.status_code == 422 and "请至少勾选一笔要备案的业务" in _text(empty)
    junk = guarantor.post("/guarantees/covers/filings", data={"cover_ids": ["abc"]})
    assert junk.status_code == 422 and "选项无效" in _text(junk)

    done = guarantor.post("/guarantees/covers/filings", data={"cover_ids": [first.id, second.id]})
    assert done.status_code == 302 and done.headers["Location"].endswith("/guarantees/queue")
    session.refresh(first), session.refresh(second)
    assert first.filed_on == second.filed_on == local_today() and first.filing_batch == second.filing_batch
    assert f"已备案 2 笔，批次号 {first.filing_batch}" in _text(guarantor.get("/guarantees/queue"))

    again = guarantor.post("/guarantees/covers/filings", data={"cover_ids": [first.id, second.id]})
    assert again.status_code == 422 and "含有不在保或已备案的业务" in _text(again)
    session.refresh(first)
    assert first.filing_batch == second.filing_batch


def test_single_filing_from_the_cover_page_and_another_guarantor_s(app, session, side):
    cover = _active(side)
    page = _text(_login(app, side["guarantor"]).get(f"/guarantees/covers/{cover.id}"))
    assert "备案这笔业务" in page and f"备案期限：{cover.filing_due_on}" in page
    other = _login(app, side["other_guarantor"]).post(
        "/guarantees/covers/filings", data={"cover_ids": [cover.id]}
    )
    assert other.status_code == 422 and "不存在或无权使用" in _text(other)
    assert (
        _login(app, side["officer"])
        .post("/guarantees/covers/filings", data={"cover_ids": [cover.id]})
        .status_code
        == 403
    )
    session.refresh(cover)
    assert cover.filed_on is None
    done = _login(app, side["guarantor"]).post("/guarantees/covers/filings", data={"cover_ids": [cover.id]})
    assert done.headers["Location"].endswith(f"/guarantees/covers/{cover.id}")
    session.refresh(cover)
    assert cover.filed_on == local_today()


# --- 4. release ----------------------------------------------------------------------------------------


def test_bank_releases_on_repayment(app, session, side):
    cover = _active(side)
    officer = _login(app, side["officer"])
    url = f"/guarantees/covers/{cover.id}/release"
    future = officer.post(url, data={"release-repaid_on": (local_today() + dt.timedelta(days=3)).isoformat()})
    assert future.status_code == 422 and "不能晚于今天" in _text(future)
    bad = officer.post(url, data={"release-repaid_on": "2026-13-45"})
    assert bad.status_code == 422 and "日期格式应为" in _text(bad)
    assert (
        _login(app, side["other_officer"])
        .post(url, data={"release-repaid_on": local_today().isoformat()})
        .status_code
        == 404
    )
    assert (
        _login(app, side["guarantor"])
        .post(url, data={"release-repaid_on": local_today().isoformat()})
        .status_code
        == 403
    )
    session.refresh(cover)
    assert cover.status == CoverStatus.ACTIVE
    done = officer.post(url, data={"release-repaid_on": local_today().isoformat()})
    assert done.status_code == 302
    session.refresh(cover)
    assert cover.status == CoverStatus.RELEASED
    again = officer.post(url, data={"release-repaid_on": local_today().isoformat()})
    assert again.status_code == 302 and "“已解保”" in _text(officer.get(again.headers["Location"]))


# --- 5. default: figures in 万元 -------------------------------------------------------------------------


def _default_data(**overrides):
    data = {"default-overdue_since": local_today().isoformat(), "default-principal": "10",
            "default-interest": "0.5", "default-collateral_realised": ""}  # fmt: skip
    return {**data, **overrides}


def test_bank_reports_default_in_wan_and_a_tenfold_slip_is_refused_where_typed(app, session, side):
    cover = _active(side)  # 50万元 (the need's amount)
    officer = _login(app, side["officer"])
    url = f"/guarantees/covers/{cover.id}/default"
    page = _text(officer.get(f"/guarantees/covers/{cover.id}"))
    assert "逾期本金（万元）" in page and "单位：万元" in page
    # 500 (万元) for 50: ten times the covered amount; a zero too many in the interest (50 for 5 万元 on 10
    # 万元, or 5 for 0.5) or in the collateral recovered: each refused on the field typed, with the limit
    # in 万元, nothing written.
    for field, typed, says in (
        ("principal", "500", "逾期本金不能超过担保/补偿金额 50万元"),
        ("interest", "50", "逾期利息不能超过逾期本金 10万元"),
        (
            "interest",
            "5",
            "逾期利息不能超过 0.88万元（逾期本金按年利率 36% 自放款日计），请核对单位（万元）",
        ),
        ("collateral_realised", "100", "抵质押物回收不能超过逾期本金与利息之和 10.5万元"),
    ):
        slip = officer.post(url, data=_default_data(**{f"default-{field}": typed}))
        body = _text(slip)
        assert slip.status_code == 422 and says in body, (field, typed)
        assert f'id="default-{field}-errors"' in body
    assert session.scalar(select(func.count(DefaultReport.id))) == 0
    letters = officer.post(url, data=_default_data(**{"default-interest": "abc"}))
    assert letters.status_code == 422 and "请输入数字" in _text(letters)
    fen = officer.post(url, data=_default_data(**{"default-principal": "1.0000001"}))
    assert fen.status_code == 422 and "金额最多精确到分" in _text(fen)
    assert _login(app, side["other_officer"]).post(url, data=_default_data()).status_code == 404
    assert _login(app, side["guarantor"]).post(url, data=_default_data()).status_code == 403
    assert session.scalar(select(func.count(DefaultReport.id))) == 0

    done = officer.post(url, data=_default_data())
    assert done.status_code == 302
    report = session.scalar(select(DefaultReport).where(DefaultReport.cover_id == cover.id))
    assert (
        report.principal == D("100000.00")
        and report.interest == D("5000.00")
        and report.loss == D("100000.00")
    )
    page = _text(officer.get(f"/guarantees/covers/{cover.id}"))
    # The waterfall with the arithmetic per party, in 元 to the fen.
    assert "100000.00 × 0.40" in page and "40,000.00元" in page and "再担保机构承担" in page
    assert "已报告逾期" in page
    again = officer.post(url, data=_default_data())
    assert again.status_code == 302 and session.scalar(select(func.count(DefaultReport.id))) == 1
    assert "该步骤已办理过或现在不能办理" in _text(officer.get(again.headers["Location"]))


# --- 6. payments and recoveries -------------------------------------------------------------------------


def _defaulted(session, side):
    cover = _active(side)
    report_default(
        session, cover.id, DefaultInput(local_today(), D("100000.00"), D("0"), D("0")),
        institution_id=cover.institution_id, user_id=side["officer"].id,
    )  # fmt: skip
    return cover


def _due(session, cover):
    return session.scalars(
        select(Compensation)
        .join(DefaultReport, DefaultReport.id == Compensation.default_id)
        .where(DefaultReport.cover_id == cover.id, Compensation.paid_on.is_(None))
        .order_by(Compensation.id)
    ).all()


def test_each_payer_s_payment_then_the_claims(app, session, side):
    cover = _defaulted(session, side)
    guarantor = _login(app, side["guarantor"])
    [compensation] = _due(session, cover)
    assert compensation.amount_due == D("80000.00")
    page = _text(guarantor.get(f"/guarantees/covers/{cover.id}"))
    assert "登记担保机构的支付：应付 80,000.00元" in page and 'value="8"' in page
    url = f"/guarantees/compensations/{compensation.id}/payment"
    today = local_today().isoformat()
    wrong = guarantor.post(url, data={"payment-paid_on": today, "payment-amount": "0.8"})
    assert wrong.status_code == 422 and "金额应与应付金额一致" in _text(wrong)
    assert (
        _login(app, side["other_guarantor"])
        .post(url, data={"payment-paid_on": today, "payment-amount": "8"})
        .status_code
        == 404
    )
    assert (
        _login(app, side["officer"])
        .post(url, data={"payment-paid_on": today, "payment-amount": "8"})
        .status_code
        == 403
    )
    session.refresh(compensation)
    assert compensation.paid_on is None

    done = guarantor.post(url, data={"payment-paid_on": today, "payment-amount": "8"})
    assert done.status_code == 302
    session.refresh(compensation)
    assert compensation.amount_paid == D("80000.00")
    # The 代偿 files the claims on the re-guarantor (30 %) and the fund (10 %).
    claims = {c.party: c.amount_due for c in _due(session, cover)}
    assert claims == {"reguarantor": D("30000.00"), "fund": D("10000.00")}
    again = guarantor.post(url, data={"payment-paid_on": today, "payment-amount": "8"})
    assert again.status_code == 302 and "这笔款项已登记支付，未重复登记" in _text(
        guarantor.get(again.headers["Location"])
    )
    assert session.scalar(select(func.count(Compensation.id))) == 3


def test_recovery_split_back_pro_rata_and_recorded_once(app, session, side):
    cover = _defaulted(session, side)
    guarantor = _login(app, side["guarantor"])
    today = local_today().isoformat()
    for row in _due(session, cover):
        guarantor.post(f"/guarantees/compensations/{row.id}/payment",
                       data={"payment-paid_on": today, "payment-amount": str(row.amount_due / 10000)})  # fmt: skip
    for row in _due(session, cover):
        guarantor.post(f"/guarantees/compensations/{row.id}/payment",
                       data={"payment-paid_on": today, "payment-amount": str(row.amount_due / 10000)})  # fmt: skip
    assert _due(session, cover) == []
    url = f"/guarantees/covers/{cover.id}/recoveries"
    data = {"recovery-recovered_on": today, "recovery-amount": "1", "recovery-method": "litigation"}
    bad = guarantor.post(url, data={**data, "recovery-method": "magic", "recovery-amount": "-1"})
    assert (
        bad.status_code == 422 and "选项无效" in _text(bad) and "金额应在 0 至 10000 万元之间" in _text(bad)
    )
    assert _login(app, side["other_guarantor"]).post(url, data=data).status_code == 404
    assert _login(app, side["officer"]).post(url, data=data).status_code == 403
    assert session.scalar(select(func.count(Recovery.id))) == 0

    done = guarantor.post(url, data=data)
    assert done.status_code == 302
    # 1万元 back pro rata to what each bore: bank 20 %, guarantor 40 %, re-guarantor 30 %, fund 10 %.
    recovery = session.scalar(select(Recovery))
    assert recovery.split == {
        "bank": "2000.00",
        "guarantor": "4000.00",
        "reguarantor": "3000.00",
        "fund": "1000.00",
    }
    page = _text(guarantor.get(done.headers["Location"]))
    assert "已登记回收 1万元" in page and "再担保机构 3,000.00元" in page
    again = guarantor.post(url, data=data)
    assert again.status_code == 302 and session.scalar(select(func.count(Recovery.id))) == 1
    assert "这份表单刚刚已经提交过" in _text(guarantor.get(again.headers["Location"]))


def test_finance_and_borrower_read_the_waterfall_without_forms(app, session, side):
    cover = _defaulted(session, side)
    for who in ("finance_city", "borrower"):
        page = _text(_login(app, side[who]).get(f"/guarantees/covers/{cover.id}"))
        assert "损失分担计算" in page and '<form method="post" action="/guarantees' not in page, who
    county_d = UserFactory(finance=True, region_code="360826")
    if cover.region_code != "360826":
        assert _login(app, county_d).get(f"/guarantees/covers/{cover.id}").status_code == 404


def test_each_reader_lists_the_covers_that_concern_them(app, session, side):
    cover = _requested(session, side)
    stranger = UserFactory(borrower_id=LeadFactory().borrower_id)
    for who, sees in (
        ("borrower", True),
        ("officer", True),
        ("finance_city", True),
        ("other_officer", False),
    ):
        page = _login(app, side[who]).get("/guarantees/covers")
        assert page.status_code == 200, who
        assert (f'/guarantees/covers/{cover.id}"' in _text(page)) is sees, who
    assert f'/guarantees/covers/{cover.id}"' not in _text(_login(app, stranger).get("/guarantees/covers"))
    assert "我的担保" in _text(_login(app, side["borrower"]).get("/guarantees/covers"))
