"""Bridge-fund (续贷周转金) pages: the applicant applies from a renewal need, the bank records its signed
commitment (an uploaded document's SHA-256), the operator approves (refused without a commitment, or
beyond the scheme's share) and dates each step; the fee by the tiers with its arithmetic, the days-left
clock, overdue in red, a paused fund's reason. Bad input, the wrong role, another institution and a
double submit change nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from core.models import StatusEvent
from core.types import local_today
from guarantees import bridges
from guarantees.models import BridgeApplication, BridgeStatus, SchemeStatus
from tests.factories import PASSWORD, InstitutionFactory, NeedFactory, SchemeFactory, UserFactory
from tests.factories.credit_profile import BorrowerFactory
from tests.portal.web_world import csrf_token

pytestmark = pytest.mark.smoke


def _login(app, user):
    client = app.test_client()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


@pytest.fixture
def cast(app, session):
    """A bridge fund, bank X with its officer, an applicant with a renewal need at X (30万 maturing),
    the fund's operator; and the others: bank Y's officer, another operator, another applicant."""
    fund = SchemeFactory(bridge=True, name="吉安续贷周转金")
    bank = InstitutionFactory(code="JAXBANK", name="吉安X银行")
    borrower = BorrowerFactory()
    need = NeedFactory(
        borrower_id=borrower.id, renewal=True, amount=D("300000.00"), renewal_institution_code=bank.code
    )
    people = {
        "applicant": UserFactory(borrower_id=borrower.id),
        "officer": UserFactory(officer=True, institution_id=bank.id),
        "operator": UserFactory(role="guarantor", institution_id=fund.operator_id),
        "other_officer": UserFactory(officer=True, institution_id=InstitutionFactory().id),
        "other_operator": UserFactory(
            role="guarantor", institution_id=SchemeFactory(bridge=True).operator_id
        ),
        "other_applicant": UserFactory(borrower_id=BorrowerFactory().id),
        "finance": UserFactory(finance=True),
    }
    session.flush()
    return {"fund": fund, "bank": bank, "need": need, **{k: _login(app, u) for k, u in people.items()}}


def _apply(cast, amount="25"):
    return cast["applicant"].post(
        "/me/bridges/new",
        data={"scheme_id": str(cast["fund"].id), "origin": f"need:{cast['need'].id}", "amount": amount},
    )


def _bridge(session) -> BridgeApplication:
    session.expire_all()
    return session.scalars(select(BridgeApplication).order_by(BridgeApplication.id.desc())).first()


def _events(session) -> int:
    return session.scalar(select(func.count(StatusEvent.id)))


def _commit(cast, bridge_id, amount="30", document=b"signed commitment", sha=""):
    data = {
        "amount": amount,
        "renewal_on": (local_today() + dt.timedelta(days=3)).isoformat(),
        "signer": "李行长",
        "document_sha256": sha,
    }
    if document is not None:
        data["document"] = (io.BytesIO(document), "承诺书.pdf")
    return cast["officer"].post(
        f"/bridges/{bridge_id}/commitment", data=data, content_type="multipart/form-data"
    )


def test_the_whole_round_trip_on_the_pages(cast, session):
    # The renewal need's page leads to the application, the need already chosen.
    need_page = cast["applicant"].get(f"/me/needs/{cast['need'].id}").get_data(as_text=True)
    assert f"/me/bridges/new?origin=need:{cast['need'].id}" in need_page
    form = cast["applicant"].get(f"/me/bridges/new?origin=need:{cast['need'].id}").get_data(as_text=True)
    assert f'<option selected value="need:{cast["need"].id}">' in form
    applied = _apply(cast)
    assert applied.status_code == 302, applied.get_data(as_text=True)
    app_row = _bridge(session)
    assert app_row.amount == D("250000.00") and app_row.status == BridgeStatus.SUBMITTED
    assert app_row.maturing_principal == D("300000.00")

    # No commitment on file: the operator's approval is refused, with the reason in Chinese.
    refused = cast["operator"].post(f"/bridges/{app_row.id}/approve", follow_redirects=True)
    assert "银行书面续贷承诺尚未入档，周转金不能审批" in refused.get_data(as_text=True)
    assert _bridge(session).status == BridgeStatus.SUBMITTED

    # The bank's commitment: the uploaded document's SHA-256 is what is stored.
    assert _commit(cast, app_row.id).status_code == 302
    app_row = _bridge(session)
    assert app_row.commitment_doc_hash == hashlib.sha256(b"signed commitment").hexdigest()
    assert app_row.commitment_amount == D("300000.00") and app_row.status == BridgeStatus.COMMITTED

    assert cast["operator"].post(f"/bridges/{app_row.id}/approve").status_code == 302
    assert _bridge(session).status == BridgeStatus.APPROVED
    # Dated steps, the bridge out 7 days ago (the clock runs from it).
    out = local_today() - dt.timedelta(days=7)
    session.execute(
        BridgeApplication.__table__.update()
        .where(BridgeApplication.id == app_row.id)
        .values(approved_on=out - dt.timedelta(days=1))
    )
    moved = cast["operator"].post(f"/bridges/{app_row.id}/disburse", data={"disburse-on": out.isoformat()})
    assert moved.status_code == 302
    page = cast["applicant"].get(f"/bridges/{app_row.id}").get_data(as_text=True)
    # 7 days of 250,000: days 1–5 at 0.02 % (250.00), days 6–7 at 0.04 % (200.00): 450.00, 3 days left.
    assert "剩余3天" in page and "450.00元" in page
    assert "第1–5天：25万元 × 0.02%/日 × 5 天 = 250.00" in page
    assert "第6–7天：25万元 × 0.04%/日 × 2 天 = 200.00" in page

    assert (
        cast["officer"]
        .post(f"/bridges/{app_row.id}/old-loan-repaid", data={"old-on": local_today().isoformat()})
        .status_code
        == 302
    )
    assert (
        cast["officer"]
        .post(
            f"/bridges/{app_row.id}/renewal",
            data={"renewal-on": local_today().isoformat(), "renewal-amount": "30"},
        )
        .status_code
        == 302
    )
    assert (
        cast["operator"]
        .post(f"/bridges/{app_row.id}/return", data={"return-on": local_today().isoformat()})
        .status_code
        == 302
    )
    app_row = _bridge(session)
    assert app_row.status == BridgeStatus.RETURNED and app_row.fee == D("450.00") and app_row.days_used == 7
    assert app_row.renewal_amount == D("300000.00")

    # Each step posted again meets the state machine: refused with a flash, nothing written.
    before = _events(session)
    again = cast["operator"].post(
        f"/bridges/{app_row.id}/return", data={"return-on": local_today().isoformat()}, follow_redirects=True
    )
    assert "当前办理状态不允许该操作" in again.get_data(as_text=True)
    assert _events(session) == before and _bridge(session).fee == D("450.00")


def test_applying_twice_creates_one_and_bad_amounts_are_refused(cast, session):
    assert _apply(cast).status_code == 302
    repeat = _apply(cast)
    assert repeat.status_code == 302
    assert session.scalar(select(func.count(BridgeApplication.id))) == 1
    # Above the share of the renewal (95 % of 30万 = 28.5万), above the principal, not a number.
    for amount, message in (
        ("29", "周转金最多为续贷金额（到期本金）乘以方案比例"),
        ("31", "不能超过到期本金"),
        ("abc", "请输入数字"),
        ("-1", "金额须在"),
    ):
        response = _apply(cast, amount)
        assert response.status_code == 422, amount
        assert message in response.get_data(as_text=True), amount
    assert session.scalar(select(func.count(BridgeApplication.id))) == 1
    # Another applicant cannot name this applicant's need.
    other = cast["other_applicant"].post(
        "/me/bridges/new",
        data={"scheme_id": str(cast["fund"].id), "origin": f"need:{cast['need'].id}", "amount": "10"},
    )
    assert other.status_code == 422 and "选项无效" in other.get_data(as_text=True)


def test_a_paused_fund_says_why_and_takes_no_application(cast, session):
    fund = cast["fund"]
    fund.status, fund.paused_reason = SchemeStatus.PAUSED, "逾期未还周转金占资金规模 45.00%，超过暂停阈值"
    session.flush()
    page = cast["applicant"].get("/me/bridges/new").get_data(as_text=True)
    assert "已暂停受理新申请：逾期未还周转金占资金规模 45.00%" in page
    assert _apply(cast).status_code == 422
    assert session.scalar(select(func.count(BridgeApplication.id))) == 0


def test_commitment_bad_input_and_other_bank(cast, session):
    _apply(cast)
    app_row = _bridge(session)
    before = _events(session)
    # Neither a document nor a hash; a typed hash that is not one; a hash that does not match the file.
    none = _commit(cast, app_row.id, document=None)
    assert none.status_code == 422 and "请上传承诺书文件或填写其 SHA-256 摘要" in none.get_data(as_text=True)
    bad = _commit(cast, app_row.id, document=None, sha="xyz")
    assert bad.status_code == 422 and "应为 64 位十六进制 SHA-256 摘要" in bad.get_data(as_text=True)
    mismatch = _commit(cast, app_row.id, sha="a" * 64)
    assert mismatch.status_code == 422 and "不一致" in mismatch.get_data(as_text=True)
    typed = _commit(cast, app_row.id, document=None, sha="AB" * 32, amount="0")
    assert typed.status_code == 422 and "金额须在" in typed.get_data(as_text=True)
    assert _events(session) == before and _bridge(session).status == BridgeStatus.SUBMITTED
    # Another bank's officer, another operator, the applicant: not theirs.
    other = cast["other_officer"].post(
        f"/bridges/{app_row.id}/commitment",
        data={
            "amount": "30",
            "renewal_on": local_today().isoformat(),
            "signer": "王",
            "document_sha256": "a" * 64,
        },
    )
    assert other.status_code == 404
    assert cast["other_operator"].post(f"/bridges/{app_row.id}/approve").status_code == 404
    assert cast["other_operator"].get(f"/bridges/{app_row.id}").status_code == 404
    assert cast["other_applicant"].get(f"/bridges/{app_row.id}").status_code == 404
    assert cast["applicant"].post(f"/bridges/{app_row.id}/approve").status_code == 403
    assert cast["finance"].post(f"/bridges/{app_row.id}/refuse", data={"reason": "x"}).status_code == 403
    assert _events(session) == before
    # The typed hash alone is enough.
    assert _commit(cast, app_row.id, document=None, sha="AB" * 32).status_code == 302
    assert _bridge(session).commitment_doc_hash == "ab" * 32


def test_approval_beyond_the_share_of_the_commitment_is_refused_with_the_reason(cast, session):
    _apply(cast)
    app_row = _bridge(session)
    assert _commit(cast, app_row.id, amount="20").status_code == 302  # 95 % of 20万 < 25万
    page = cast["operator"].post(f"/bridges/{app_row.id}/approve", follow_redirects=True)
    assert "周转金金额超过银行承诺续贷金额乘以方案比例后的上限，不能批准" in page.get_data(as_text=True)
    assert _bridge(session).status == BridgeStatus.COMMITTED
    # Refusing needs a reason; with one, the applicant reads it.
    blank = cast["operator"].post(f"/bridges/{app_row.id}/refuse", data={"reason": "  "})
    assert blank.status_code == 422 and "请说明原因" in blank.get_data(as_text=True)
    assert (
        cast["operator"].post(f"/bridges/{app_row.id}/refuse", data={"reason": "承诺金额不足"}).status_code
        == 302
    )
    assert "承诺金额不足" in cast["applicant"].get(f"/bridges/{app_row.id}").get_data(as_text=True)


def test_step_dates_not_in_the_future_nor_before_the_previous_step(cast, session):
    _apply(cast)
    app_row = _bridge(session)
    _commit(cast, app_row.id)
    cast["operator"].post(f"/bridges/{app_row.id}/approve")
    tomorrow = (local_today() + dt.timedelta(days=1)).isoformat()
    future = cast["operator"].post(f"/bridges/{app_row.id}/disburse", data={"disburse-on": tomorrow})
    assert future.status_code == 422 and "不能晚于今天" in future.get_data(as_text=True)
    early = (local_today() - dt.timedelta(days=1)).isoformat()
    before = cast["operator"].post(f"/bridges/{app_row.id}/disburse", data={"disburse-on": early})
    assert before.status_code == 422 and "不能早于上一步的日期" in before.get_data(as_text=True)
    garbage = cast["operator"].post(f"/bridges/{app_row.id}/disburse", data={"disburse-on": "31/12/2026"})
    assert garbage.status_code == 422 and "日期格式应为" in garbage.get_data(as_text=True)
    assert _bridge(session).status == BridgeStatus.APPROVED and _bridge(session).disbursed_on is None


def test_overdue_shown_in_red(cast, session, app):
    _apply(cast)
    app_row = _bridge(session)
    _commit(cast, app_row.id)
    app_row = _bridge(session)
    operator_id = cast["fund"].operator_id
    user_id = session.scalar(select(BridgeApplication.submitted_by).where(BridgeApplication.id == app_row.id))
    bridges.approve_bridge(session, app_row.id, operator_id=operator_id, user_id=user_id)
    app_row.approved_on = local_today() - dt.timedelta(days=12)
    bridges.disburse_bridge(
        session, app_row.id, operator_id=operator_id, user_id=user_id, on=app_row.approved_on
    )
    bridges.sweep_overdue(session)
    session.flush()
    page = cast["officer"].get(f"/bridges/{app_row.id}").get_data(as_text=True)
    assert "已逾期2天" in page and 'class="kpi overdue"' in page
    listing = cast["operator"].get("/bridges/").get_data(as_text=True)
    assert "overdue-item" in listing and "已逾期2天" in listing


def _at(session, status, cast, **dates):
    """A bridge of the applicant's in `status` (with the commitment on file), the dates given."""
    app_row = BridgeApplication(
        scheme_id=cast["fund"].id, borrower_id=cast["need"].borrower_id, region_code="360802",
        institution_id=cast["bank"].id, contract_no="JX-CORPUS", maturing_principal=D("300000.00"),
        matures_on=local_today() + dt.timedelta(days=10), amount=D("250000.00"), status=status,
        commitment_amount=D("300000.00"), commitment_date=local_today(), commitment_signer="李行长",
        commitment_doc_hash="ab" * 32, approved_on=local_today() - dt.timedelta(days=3), **dates,
    )  # fmt: skip
    session.add(app_row)
    session.flush()
    return app_row.id


def test_the_corpus_in_the_operator_and_bank_step_forms(cast, session, connection):
    """The forms the access matrix and the form corpus cannot post (the guarantor role is not one of the
    world's; the bank's later steps need a bridge that is out): every bad value refused in Chinese,
    nothing written, never a 5xx, markup never reflected."""
    from tests.portal.test_form_corpus import CORPUS, _chinese_errors, _raw_markup
    from tests.portal.web_world import changed_tables, rolled_back, table_digests

    out = local_today() - dt.timedelta(days=2)
    approved = _at(session, BridgeStatus.APPROVED, cast)
    disbursed = _at(
        session, BridgeStatus.DISBURSED, cast, disbursed_on=out, due_on=out + dt.timedelta(days=10)
    )
    repaid = _at(
        session, BridgeStatus.OLD_LOAN_REPAID, cast, disbursed_on=out, due_on=out + dt.timedelta(days=10),
        old_loan_repaid_on=out,
    )  # fmt: skip
    today = local_today().isoformat()
    forms = [
        # (client, path, valid data, fields that only a date or an amount fits, free-text fields)
        ("operator", f"/bridges/{approved}/refuse", {"reason": "承诺不足"}, [], ["reason"]),
        ("operator", f"/bridges/{approved}/disburse", {"disburse-on": today}, ["disburse-on"], []),
        ("operator", f"/bridges/{disbursed}/return", {"return-on": today}, ["return-on"], []),
        ("officer", f"/bridges/{disbursed}/old-loan-repaid", {"old-on": today}, ["old-on"], []),
        ("officer", f"/bridges/{repaid}/renewal", {"renewal-on": today, "renewal-amount": "30"},
         ["renewal-on", "renewal-amount"], []),
    ]  # fmt: skip
    session.flush()
    baseline = table_digests(connection)
    failures, sent = [], 0
    for who, path, valid, strict, free in forms:
        client = cast[who]
        with rolled_back(connection, client):
            accepted = client.post(path, data=valid)
            assert accepted.status_code == 302 and changed_tables(baseline, table_digests(connection)), path
        for name in strict + free:
            for value_name, value in CORPUS.items():
                with rolled_back(connection, client):
                    response = client.post(path, data={**valid, name: value})
                    written = changed_tables(baseline, table_digests(connection))
                body = response.get_data(as_text=True)
                sent += 1
                cell = f"{path} {name}={value_name}"
                if response.status_code >= 500 or _raw_markup(body):
                    failures.append(f"{cell}: {response.status_code} or markup reflected")
                elif written and (name in strict or value_name in ("nul", "oversized", "blank")):
                    failures.append(f"{cell}: accepted")
                elif not written and (response.status_code != 422 or not _chinese_errors(body)):
                    failures.append(f"{cell}: refused without a Chinese error ({response.status_code})")
    assert failures == [], "\n".join(failures)
    assert sent > 80


def test_operator_posts_without_a_csrf_token_are_refused(csrf_app, session):
    fund = SchemeFactory(bridge=True)
    operator = UserFactory(role="guarantor", institution_id=fund.operator_id)
    session.flush()
    client = csrf_app.test_client()
    token = csrf_token(client.get("/login"))
    assert (
        client.post(
            "/login", data={"username": operator.username, "password": PASSWORD, "csrf_token": token}
        ).status_code
        == 302
    )
    for step in ("approve", "refuse", "disburse", "return"):
        # The token is checked before anything else: no bridge needs to exist.
        response = client.post(f"/bridges/1/{step}", data={"reason": "x"})
        assert response.status_code == 400 and "页面已过期或来源不明" in response.get_data(as_text=True), step
