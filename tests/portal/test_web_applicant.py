"""The applicant's pages: profile, consents, credit profile, needs from submission to withdrawal."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.types import local_today
from credit_profile.models import Consent
from matching.models import Need
from tests.factories import InstitutionFactory, ProductFactory
from tests.portal.test_web_support import applicant, login, text

NEED = {
    "amount": "200000",
    "term_months": "12",
    "purpose": "采购蜜柚种苗和有机肥",
    "collateral": "credit",
    "declared_prior_loan": "y",
}


def test_main_pages_render_in_chinese(client, session):
    user, _borrower = applicant(session)
    login(client, user.username)
    for path, words in (
        ("/me/", "我的资料"),
        ("/me/consents", "数据采集授权书"),
        ("/me/credit", "我的信用画像"),
        ("/me/needs", "我的融资需求"),
        ("/me/needs/new", "发布融资需求"),
        ("/products", "金融超市"),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert words in text(response), path
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_identifiers_masked_outside_own_profile(client, session):
    user, borrower = applicant(session)
    login(client, user.username)
    assert borrower.uscc in text(client.get("/me/"))
    for path in ("/me/needs", "/me/consents", "/me/credit"):
        assert borrower.uscc not in text(client.get(path)), path


def test_grant_list_and_revoke_consent(client, session):
    user, borrower = applicant(session)
    login(client, user.username)
    expires = (local_today() + dt.timedelta(days=200)).isoformat()

    missing = client.post("/me/consents", data={"purpose": "授信参考", "expires_on": expires, "agree": "y"})
    assert missing.status_code == 422
    assert "至少选择一类数据" in text(missing)

    too_far = (local_today() + dt.timedelta(days=4 * 365)).isoformat()
    far = client.post(
        "/me/consents", data={"sources": ["tax"], "purpose": "授信参考", "expires_on": too_far, "agree": "y"}
    )
    assert far.status_code == 422
    assert "授权期限最长三年" in text(far)

    response = client.post(
        "/me/consents",
        data={"sources": ["electricity", "tax"], "purpose": "授信参考", "expires_on": expires, "agree": "y"},
    )
    assert response.status_code == 302
    consent = session.scalar(select(Consent).where(Consent.borrower_id == borrower.id))
    assert consent.sources == ["electricity", "tax"]

    # The applicant's own read of the profile is listed as a use.
    assert "我的信用画像" in text(client.get("/me/credit"))
    page = text(client.get("/me/consents"))
    assert "生效中" in page
    assert "本人查看信用画像" in page

    assert client.post(f"/me/consents/{consent.id}/revoke").status_code == 302
    session.expire_all()
    assert session.get(Consent, consent.id).status == "revoked"
    assert "已撤回" in text(client.get("/me/consents"))


def test_cannot_revoke_someone_elses_consent(client, session):
    from tests.factories import ConsentFactory

    _other_user, other = applicant(session)
    consent = ConsentFactory(borrower_id=other.id)
    user, _borrower = applicant(session)
    login(client, user.username)
    assert client.post(f"/me/consents/{consent.id}/revoke").status_code == 404
    session.expire_all()
    assert session.get(Consent, consent.id).status == "active"


def test_need_is_matched_then_withdrawn(client, session):
    institution = InstitutionFactory(name="吉安农商银行")
    ProductFactory(institution=institution, name="蜜柚贷", published=True)
    user, borrower = applicant(session)
    login(client, user.username)

    response = client.post("/me/needs/new", data=NEED)

    assert response.status_code == 302
    need = session.scalar(select(Need).where(Need.borrower_id == borrower.id))
    assert response.headers["Location"] == f"/me/needs/{need.id}"
    detail = text(client.get(f"/me/needs/{need.id}"))
    assert "已推送银行" in detail
    assert "吉安农商银行" in detail
    assert "蜜柚贷" in detail
    assert "融资需求已提交" in detail  # the timeline, through describe_event
    assert "撤回需求" in detail
    assert "20万元" in text(client.get("/me/needs"))

    assert client.post(f"/me/needs/{need.id}/withdraw").status_code == 302
    session.expire_all()
    assert session.get(Need, need.id).status == "withdrawn"
    detail = text(client.get(f"/me/needs/{need.id}"))
    assert "已撤回" in detail
    assert "撤回需求" not in detail

    again = client.post(f"/me/needs/{need.id}/withdraw", follow_redirects=True)
    assert "该融资需求当前状态不允许此操作" in text(again)


def test_unmatched_need_shows_reasons_in_chinese(client, session):
    ProductFactory(name="小额贷", published=True, max_amount=50000)
    user, borrower = applicant(session)
    login(client, user.username)
    client.post("/me/needs/new", data=NEED)
    need = session.scalar(select(Need).where(Need.borrower_id == borrower.id))
    session.refresh(need)
    assert need.status == "unmatched"
    reason = need.match_summary["exclusions"][0]["reasons"][0]["text"]

    detail = text(client.get(f"/me/needs/{need.id}"))

    assert "暂无匹配产品" in detail
    assert "为什么没有匹配到产品" in detail
    assert reason in detail


def test_need_form_errors_are_chinese_and_nothing_is_saved(client, session):
    user, borrower = applicant(session)
    login(client, user.username)
    for amount, message in (("NaN", "请输入有效的数字"), ("Infinity", "请输入有效的数字"), ("12.345", "最多保留两位小数"),
                            ("500", "申请金额须在 1000 元至 1 亿元之间"), ("abc", "请输入数字")):  # fmt: skip
        response = client.post("/me/needs/new", data={**NEED, "amount": amount})
        assert response.status_code == 422, amount
        assert message in text(response), amount
    renewal = client.post("/me/needs/new", data={**NEED, "is_renewal": "y"})
    assert renewal.status_code == 422
    assert "此项必填" in text(renewal)
    late = (local_today() + dt.timedelta(days=400)).isoformat()
    renewal = client.post(
        "/me/needs/new",
        data={**NEED, "is_renewal": "y", "renewal_current_amount": "100000", "renewal_matures_on": late},
    )
    assert renewal.status_code == 422
    assert "到期日须在今天至一年之内" in text(renewal)
    assert session.scalar(select(Need).where(Need.borrower_id == borrower.id)) is None


def test_full_width_amount_and_renewal_are_accepted(client, session):
    ProductFactory(published=True, tags=["renewal"])
    user, borrower = applicant(session)
    login(client, user.username)
    soon = (local_today() + dt.timedelta(days=30)).isoformat()
    response = client.post(
        "/me/needs/new",
        data={
            **NEED,
            "amount": "１５００００",
            "is_renewal": "y",
            "renewal_current_amount": "120000",
            "renewal_matures_on": soon,
        },
    )
    assert response.status_code == 302
    need = session.scalar(select(Need).where(Need.borrower_id == borrower.id))
    assert need.amount == 150000
    assert need.is_renewal


def test_another_applicants_need_is_not_found(client, session):
    ProductFactory(published=True)
    owner, _borrower = applicant(session)
    login(client, owner.username)
    client.post("/me/needs/new", data=NEED)
    need = session.scalar(select(Need).order_by(Need.id.desc()))
    client.post("/logout")

    intruder, _other = applicant(session)
    login(client, intruder.username)
    assert client.get(f"/me/needs/{need.id}").status_code == 404
    assert client.post(f"/me/needs/{need.id}/withdraw").status_code == 404
    session.expire_all()
    assert session.get(Need, need.id).status != "withdrawn"


@pytest.mark.parametrize(
    ("amount", "message"),
    [("1e309", "请输入数字"), ("9" * 40, "申请金额须在 1000 元至 1 亿元之间"),
     ("1" + "0" * 30 + ".5", "申请金额须在 1000 元至 1 亿元之间")],
)  # fmt: skip
def test_a_huge_amount_is_out_of_range_not_a_server_error(client, session, amount, message):
    user, borrower = applicant(session)
    login(client, user.username)
    response = client.post("/me/needs/new", data={**NEED, "amount": amount})
    assert response.status_code == 422
    assert message in text(response)
    assert session.scalar(select(Need).where(Need.borrower_id == borrower.id)) is None
