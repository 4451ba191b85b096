"""The applicant's pages: profile, consents, credit profile, needs from submission to withdrawal."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.types import local_today
from credit_profile.consents import record_use
from credit_profile.models import Consent
from matching.models import Need
from tests.factories import (
    ConsentFactory,
    CreditScoreFactory,
    InstitutionFactory,
    LeadFactory,
    ProductFactory,
    UserFactory,
)
from tests.portal.test_web_support import applicant, login, text

NEED = {
    "amount": "20",  # 万元
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


def test_unmatched_need_shows_the_nearest_products_and_the_change_that_makes_each_fit(client, session):
    ProductFactory(name="小额贷", published=True, max_amount=50000)
    ProductFactory(name="惠农e贷", published=True, max_amount=150000)
    ProductFactory(name="长期贷", published=True, min_term_months=24, max_term_months=36)
    ProductFactory(name="备用贷", published=True, max_amount=190000, max_term_months=6)  # two changes
    ProductFactory(name="农户贷", published=True, borrower_kinds=["farmer"], max_amount=190000)
    user, borrower = applicant(session)
    login(client, user.username)
    client.post("/me/needs/new", data=NEED)
    need = session.scalar(select(Need).where(Need.borrower_id == borrower.id))
    session.refresh(need)
    assert need.status == "unmatched"

    detail = text(client.get(f"/me/needs/{need.id}"))

    assert "暂无匹配产品" in detail
    assert "怎样才能匹配到产品" in detail
    # The three nearest by one change, smallest first; two changes and a kind the applicant is not, left out.
    advice = re.findall(r'<p class="advice">([^<]+)</p>', detail)
    assert advice == [
        "把金额降到15万元即可申请惠农e贷",
        "把金额降到5万元即可申请小额贷",
        "把期限改为24个月即可申请长期贷",
    ]
    assert f"/me/needs/{need.id}/edit?amount=15" in detail
    assert f"/me/needs/{need.id}/edit?term_months=24" in detail


def test_need_form_errors_are_chinese_and_nothing_is_saved(client, session):
    user, borrower = applicant(session)
    login(client, user.username)
    for amount, message in (("NaN", "请输入有效的数字"), ("Infinity", "请输入有效的数字"), ("12.3456789", "万元后最多六位小数"),
                            ("0.05", "申请金额须在 0.1 万元至 10000 万元之间"), ("1.0000001", "万元后最多六位小数"), ("abc", "请输入数字")):  # fmt: skip
        response = client.post("/me/needs/new", data={**NEED, "amount": amount})
        assert response.status_code == 422, amount
        assert message in text(response), amount
    renewal = client.post("/me/needs/new", data={**NEED, "is_renewal": "y"})
    assert renewal.status_code == 422
    assert "此项必填" in text(renewal)
    late = (local_today() + dt.timedelta(days=400)).isoformat()
    renewal = client.post(
        "/me/needs/new",
        data={**NEED, "is_renewal": "y", "renewal_current_amount": "10", "renewal_matures_on": late},
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
            "amount": "１５",
            "is_renewal": "y",
            "renewal_current_amount": "12",
            "renewal_matures_on": soon,
        },
    )
    assert response.status_code == 302
    need = session.scalar(select(Need).where(Need.borrower_id == borrower.id))
    assert need.amount == 150000 and need.renewal_current_amount == 120000
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
    [("1e309", "请输入数字"), ("9" * 40, "申请金额须在 0.1 万元至 10000 万元之间"),
     ("1" + "0" * 30 + ".5", "申请金额须在 0.1 万元至 10000 万元之间")],
)  # fmt: skip
def test_a_huge_amount_is_out_of_range_not_a_server_error(client, session, amount, message):
    user, borrower = applicant(session)
    login(client, user.username)
    response = client.post("/me/needs/new", data={**NEED, "amount": amount})
    assert response.status_code == 422
    assert message in text(response)
    assert session.scalar(select(Need).where(Need.borrower_id == borrower.id)) is None


# --- the applicant's daily tools (issue 14) -------------------------------------------------------


def test_the_supermarket_reads_amounts_in_wan_and_filters_what_fits_me(client, session):
    farmer_ok = ProductFactory(name="惠农e贷", published=True, min_amount=10000, max_amount=500000,
                               rate_min=Decimal("4.20"))  # fmt: skip
    cheap = ProductFactory(name="普惠快贷", published=True, min_amount=30000, max_amount=3000000,
                           rate_min=Decimal("3.10"), description="纳税信用好的小微企业")  # fmt: skip
    ProductFactory(name="大额贷", published=True, min_amount=1000000, max_amount=9000000)
    firms_only = ProductFactory(name="企业专享贷", published=True, borrower_kinds=["enterprise"])
    user, _borrower = applicant(session, kind="farmer", industry_code="A01")
    login(client, user.username)

    page = text(client.get("/products"))
    assert "需要金额（万元）" in page
    # "适合我" is on by default for an applicant: the enterprise-only product is left out.
    assert 'name="fit" type="checkbox" value="y" checked' in page or "checked" in page
    assert firms_only.name not in page and farmer_ok.name in page

    page = text(client.get("/products", query_string={"amount": "5", "fit": "y"}))
    names = re.findall(r"<h2>([^<]+)</h2>", page)
    assert names == ["惠农e贷", "普惠快贷"]  # 5 means 5万元: the 100万 minimum is out
    assert "可贷 5万元" in page

    page = text(client.get("/products", query_string={"amount": "5", "sort": "rate", "fit": "y"}))
    assert re.findall(r"<h2>([^<]+)</h2>", page)[:2] == ["普惠快贷", "惠农e贷"]
    page = text(client.get("/products", query_string={"q": "纳税 小微"}))
    assert re.findall(r"<h2>([^<]+)</h2>", page) == [cheap.name]
    assert client.get("/products", query_string={"amount": "abc"}).status_code == 200


def test_applying_for_a_product_from_its_page(client, session):
    wanted = ProductFactory(name="蜜柚贷", published=True, max_amount=300000, rate_min=Decimal("5.00"))
    ProductFactory(name="便宜贷", published=True, rate_min=Decimal("3.00"))
    user, borrower = applicant(session)
    login(client, user.username)
    assert f'href="/me/needs/new?product_id={wanted.id}"' in text(client.get(f"/products/{wanted.id}"))
    form = text(client.get(f"/me/needs/new?product_id={wanted.id}"))
    assert "申请产品：" in form and "蜜柚贷" in form

    too_much = client.post("/me/needs/new", data={**NEED, "amount": "50", "product_id": str(wanted.id)})
    assert too_much.status_code == 422
    assert "申请金额高于该产品的最高额度" in text(too_much)
    assert session.scalar(select(Need).where(Need.borrower_id == borrower.id)) is None

    response = client.post("/me/needs/new", data={**NEED, "product_id": str(wanted.id)})
    assert response.status_code == 302
    need = session.scalar(select(Need).where(Need.borrower_id == borrower.id))
    session.refresh(need)
    assert need.requested_product_id == wanted.id
    assert need.leads[0].product_id == wanted.id

    again = client.post("/me/needs/new", data=NEED, follow_redirects=True)
    assert "无需重复提交" in text(again)


def test_editing_and_reposting_a_need(client, session):
    product = ProductFactory(name="蜜柚贷", published=True, max_amount=300000)
    user, borrower = applicant(session)
    login(client, user.username)
    client.post("/me/needs/new", data=NEED)
    need = session.scalar(select(Need).where(Need.borrower_id == borrower.id))
    page = text(client.get(f"/me/needs/{need.id}/edit"))
    assert 'value="20"' in page and "申请金额（万元）" in page

    response = client.post(f"/me/needs/{need.id}/edit", data={**NEED, "amount": "50"})
    assert response.status_code == 302
    session.expire_all()
    need = session.get(Need, need.id)
    assert (need.amount, need.status) == (Decimal("500000.00"), "unmatched")
    assert [lead.status for lead in need.leads] == ["closed"]
    detail = text(client.get(f"/me/needs/{need.id}"))
    assert "把金额降到30万元即可申请蜜柚贷" in detail
    assert "申请人修改了需求" in detail and "需求修改后已不符合" in detail

    assert 'value="35"' in text(client.get(f"/me/needs/{need.id}/edit?amount=35"))
    repost = text(client.get(f"/me/needs/new?from={need.id}"))
    assert 'value="50"' in repost and NEED["purpose"] in repost
    assert product.name


def test_the_need_shows_its_officer_and_its_loan(client, session):
    user, borrower = applicant(session)
    officer = UserFactory(username="zhang_officer", officer=True, phone="13907963333")
    lead = LeadFactory(disbursed=True, claimed_by=officer.id, need__borrower=borrower, loan__rate=Decimal("3.85"),
                       loan__amount=Decimal("450000"), loan__disbursed_on=dt.date(2026, 3, 31),
                       loan__term_months=11)  # fmt: skip
    officer.institution_id = lead.institution_id
    session.flush()
    login(client, user.username)
    detail = text(client.get(f"/me/needs/{lead.need_id}"))
    assert "客户经理：zhang_officer" in detail and "13907963333" in detail
    assert "贷款信息" in detail and "45万元" in detail and "3.85%" in detail
    assert "2027-02-28" in detail  # 11 months after 31 March, on the month's last day
    assert "修改需求" not in detail


def test_no_data_means_no_score_on_the_credit_page_and_in_matching(client, session):
    user, borrower = applicant(session)
    CreditScoreFactory(borrower_id=borrower.id, no_data=True, score=600, grade="D")
    ConsentFactory(borrower_id=borrower.id, sources=["tax"])
    login(client, user.username)
    page = text(client.get("/me/credit"))
    assert "暂无数据，授权后可评分" in page
    assert 'score-value">600' not in page
    assert "已授权纳税数据，数据提供方尚未报送" in page
    assert "尚未授权用电数据" in page

    ProductFactory(name="要评分的贷", published=True, min_score=550)
    client.post("/me/needs/new", data=NEED)
    need = session.scalar(select(Need).where(Need.borrower_id == borrower.id))
    session.refresh(need)
    assert need.status == "unmatched"
    assert "授权数据获得信用评分即可申请要评分的贷" in text(client.get(f"/me/needs/{need.id}"))


def test_consent_uses_name_the_bank_and_the_data_and_a_reload_is_not_a_new_row(client, session):
    user, borrower = applicant(session)
    consent = ConsentFactory(borrower_id=borrower.id, sources=["tax", "electricity"])
    bank = InstitutionFactory(name="吉安农商银行")
    for _ in range(3):
        record_use(session, borrower_id=borrower.id, consent_id=consent.id, action="institution_read",
                   institution_id=bank.id, detail="electricity,tax")  # fmt: skip
    session.flush()
    login(client, user.username)
    page = text(client.get("/me/consents"))
    assert page.count("吉安农商银行") == 1
    assert "当天共 3 次" in page
    assert "（用电数据、纳税数据）" in page
    assert "electricity,tax" not in page


def test_a_paused_monitoring_consent_is_resumed_on_the_consents_page_not_granted_again(client, session):
    """A loan whose 贷后监测 consent is paused offers 恢复 (resume), never a second grant."""
    from credit_profile.consents import pause_consent
    from tests.factories.monitoring import claimed_loan, monitoring_consent

    loan, _officer = claimed_loan()
    user = UserFactory(borrower_id=loan.borrower_id)
    consent = monitoring_consent(loan)
    session.flush()
    pause_consent(session, consent, actor_id=user.id)
    login(client, user.username)

    page = text(client.get("/me/consents"))
    assert "贷后监测已暂停" in page and "恢复贷后监测" in page
    assert f"/me/loans/{loan.id}/monitoring-consent" not in page
    # A grant posted anyway (an old tab, a replayed form) is refused with the way out, and writes nothing.
    consents_before = session.scalar(select(func.count()).select_from(Consent))
    refused = client.post(f"/me/loans/{loan.id}/monitoring-consent", follow_redirects=True)
    assert "贷后监测授权已暂停" in text(refused)
    assert session.scalar(select(func.count()).select_from(Consent)) == consents_before
    assert client.post(f"/me/consents/{consent.id}/resume").status_code == 302
    page = text(client.get("/me/consents"))
    assert "已授权贷后监测" in page and "贷后监测已暂停" not in page
