"""Product managers: own institution's products in every status; create, edit, publish, retire."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from products.models import Institution, Product
from tests.factories import InstitutionFactory, ProductFactory, UserFactory
from tests.portal.test_web_support import login, text

PRODUCT = {
    "name": "井冈科创贷",
    "description": "面向科技型小微企业的信用贷款",
    "min_amount": "10",  # 万元
    "max_amount": "500",
    "min_term_months": "6",
    "max_term_months": "36",
    "rate_min": "3.45",
    "rate_max": "4.80",
    "collateral": ["credit", "guarantee"],
    "borrower_kinds": ["enterprise"],
    "region_codes": ["360802", "360803"],
    "industries_excluded": "K， C13 k",
    "min_score": "550",
    "tags": ["tech", "first_loan"],
    "sla_hours": "8",
}


@pytest.fixture
def manager(session):
    institution = InstitutionFactory(name="井冈山银行")
    return UserFactory(username="pm1", product_manager=True, institution_id=institution.id)


def test_create_publish_retire(client, session, manager):
    login(client, manager.username)
    assert "新建产品" in text(client.get("/manage/products/new"))

    invalid = client.post("/manage/products/new", data={**PRODUCT, "max_amount": "5", "collateral": []})
    assert invalid.status_code == 422
    assert "不能小于对应的最小值" in text(invalid)
    assert "至少选择一种担保方式" in text(invalid)

    bad_code = client.post("/manage/products/new", data={**PRODUCT, "industries_excluded": "ZZ9"})
    assert bad_code.status_code == 422
    assert "行业代码 ZZ9 无效" in text(bad_code)
    assert session.scalar(select(Product).where(Product.name == "井冈科创贷")) is None

    assert client.post("/manage/products/new", data=PRODUCT).status_code == 302
    product = session.scalar(select(Product).where(Product.name == "井冈科创贷"))
    assert product.institution_id == manager.institution_id
    assert product.status == "draft"
    assert product.industries_excluded == ["C13", "K"]
    assert (product.min_amount, product.max_amount) == (Decimal("100000.00"), Decimal("5000000.00"))
    assert product.collateral == ["credit", "guarantee"]
    assert product.min_score == 550
    assert "草稿" in text(client.get("/manage/products"))
    assert "井冈科创贷" not in text(client.get("/products"))

    assert client.post(f"/manage/products/{product.id}/publish").status_code == 302
    session.expire_all()
    assert session.get(Product, product.id).status == "published"
    assert "井冈科创贷" in text(client.get("/products"))

    assert client.post(f"/manage/products/{product.id}/retire").status_code == 302
    session.expire_all()
    assert session.get(Product, product.id).status == "retired"
    assert "井冈科创贷" not in text(client.get("/products"))
    assert "已下架" in text(client.get("/manage/products"))

    again = client.post(f"/manage/products/{product.id}/publish", follow_redirects=True)
    assert "该产品当前状态不允许此操作" in text(again)


def test_edit_prefills_and_updates(client, session, manager):
    institution = session.get(Institution, manager.institution_id)
    product = ProductFactory(institution=institution, name="旧名字", industries_excluded=["K"])
    login(client, manager.username)
    form = text(client.get(f"/manage/products/{product.id}/edit"))
    assert "旧名字" in form
    assert 'value="1"' in form  # 10000元 is 1万元
    assert 'value="K" checked' in form or ('value="K"' in form and "checked" in form)

    response = client.post(f"/manage/products/{product.id}/edit", data={**PRODUCT, "name": "新名字"})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Product, product.id).name == "新名字"


def test_other_institutions_products_are_invisible(client, session, manager):
    foreign = ProductFactory(name="别家产品")
    login(client, manager.username)
    assert "别家产品" not in text(client.get("/manage/products"))
    assert client.get(f"/manage/products/{foreign.id}/edit").status_code == 404
    assert client.post(f"/manage/products/{foreign.id}/publish").status_code == 404
    session.expire_all()
    assert session.get(Product, foreign.id).status == "draft"


def test_publishing_on_the_page_rematches_an_unmatched_need(client, session, manager):
    from sqlalchemy import update

    from core.models import OutboxJob
    from core.types import utcnow
    from matching.dispatch import match_need
    from matching.models import Need
    from matching.needs import NeedInput, submit_need
    from tests.factories import BorrowerFactory

    borrower = BorrowerFactory(region_code="360802")
    need = submit_need(
        session,
        borrower_id=borrower.id,
        actor_id=None,
        data=NeedInput(
            amount=Decimal("500000"),
            term_months=12,
            purpose="购置设备",
            collateral="credit",
            declared_prior_loan=False,
        ),
    )
    match_need(session, need.id, top_n=3)
    assert need.status == "unmatched"
    # The submission's own matching job has run (above): only a re-match can push the need now.
    session.execute(update(OutboxJob).values(enqueued_at=utcnow(), completed_at=utcnow()))
    product = ProductFactory(institution=session.get(Institution, manager.institution_id), min_score=None)
    session.flush()
    login(client, manager.username)
    assert client.post(f"/manage/products/{product.id}/publish").status_code == 302
    session.expire_all()
    assert session.get(Need, need.id).status == "matched"


@pytest.mark.parametrize("name", ["min_amount", "max_term_months", "sla_hours", "name"])
def test_blank_required_fields_are_missing_not_a_server_error(client, session, manager, name):
    login(client, manager.username)
    count = len(session.scalars(select(Product)).all())
    response = client.post("/manage/products/new", data={**PRODUCT, name: "   "})
    assert response.status_code == 422
    assert "此项必填" in text(response)
    assert len(session.scalars(select(Product)).all()) == count


@pytest.mark.parametrize("amount", ["1_000", "1E5", "١٢٣٤٥", "0x10"])
def test_an_amount_must_be_written_in_digits(client, session, manager, amount):
    login(client, manager.username)
    count = len(session.scalars(select(Product)).all())
    response = client.post("/manage/products/new", data={**PRODUCT, "min_amount": amount})
    assert response.status_code == 422
    assert "请输入数字" in text(response)
    assert len(session.scalars(select(Product)).all()) == count
    # Full-width digits and thousands separators are how people type on phones: still accepted (万元).
    assert (
        client.post(
            "/manage/products/new", data={**PRODUCT, "min_amount": "１，０００", "max_amount": "2,000"}
        ).status_code
        == 302
    )


def test_pause_resume_copy_and_the_industry_picker(client, session, manager):
    institution = session.get(Institution, manager.institution_id)
    product = ProductFactory(
        institution=institution, name="惠农e贷", published=True, industries_excluded=["K", "C13"]
    )
    login(client, manager.username)
    form = text(client.get(f"/manage/products/{product.id}/edit"))
    assert "K 房地产业" in form and 'value="C13"' in form

    assert client.post(f"/manage/products/{product.id}/pause").status_code == 302
    session.expire_all()
    assert session.get(Product, product.id).status == "paused"
    assert "惠农e贷" not in text(client.get("/products"))
    assert "已暂停" in text(client.get("/manage/products"))
    assert client.post(f"/manage/products/{product.id}/resume").status_code == 302
    session.expire_all()
    assert session.get(Product, product.id).status == "published"
    assert "惠农e贷" in text(client.get("/products"))
    again = client.post(f"/manage/products/{product.id}/resume", follow_redirects=True)
    assert "该产品当前状态不允许此操作" in text(again)

    copied = client.post(f"/manage/products/{product.id}/copy")
    assert copied.status_code == 302
    twin = session.scalar(select(Product).where(Product.name == "惠农e贷（副本）"))
    assert twin.status == "draft" and twin.industries_excluded == ["C13", "K"]
    assert copied.headers["Location"] == f"/manage/products/{twin.id}/edit"

    picked = client.post("/manage/products/new", data={**PRODUCT, "name": "挑选贷", "industries_excluded": "",
                                                       "industry_sections": ["A", "K"]})  # fmt: skip
    assert picked.status_code == 302
    assert session.scalar(select(Product).where(Product.name == "挑选贷")).industries_excluded == ["A", "K"]


def test_the_funnel_of_each_product_and_the_preview_of_its_rules(client, session, manager):
    from tests.factories import BorrowerFactory, LeadFactory, NeedFactory

    institution = session.get(Institution, manager.institution_id)
    product = ProductFactory(institution=institution, name="惠农e贷", published=True)
    LeadFactory(product=product, disbursed=True)
    LeadFactory(product=product, claimed=True)
    LeadFactory(product=product)
    for amount in ("50000", "300000", "2000000"):
        NeedFactory(borrower=BorrowerFactory(kind="farmer"), amount=Decimal(amount))
    session.flush()
    login(client, manager.username)
    page = text(client.get("/manage/products"))
    figures = [int(n) for n in __import__("re").findall(r"<strong>(\d+)</strong>", page)[:4]]
    assert figures == [3, 2, 1, 1]
    assert "1.0 小时" in page  # every factory lead is claimed an hour after its push

    before = session.scalar(select(Product.updated_at).where(Product.id == product.id))
    products = len(session.scalars(select(Product.id)).all())
    preview = client.post(f"/manage/products/{product.id}/edit", data={
        **PRODUCT, "borrower_kinds": ["farmer"], "region_codes": [], "industries_excluded": "", "min_score": "",
        "min_amount": "1", "max_amount": "50", "preview": "1"})  # fmt: skip
    assert preview.status_code == 200
    body = text(preview)
    assert "近 90 天提交的" in body
    import re

    needs, matched = map(int, re.search(r"近 90 天提交的 (\d+) 笔融资需求中，有 (\d+) 笔", body).groups())
    assert matched == 2 and needs >= 3
    session.expire_all()
    assert session.scalar(select(Product.updated_at).where(Product.id == product.id)) == before
    assert len(session.scalars(select(Product.id)).all()) == products  # a preview saves nothing
