"""Finance offices' dashboard (county scoping) and the administrators' pages."""

from __future__ import annotations

from sqlalchemy import select

from core.models import User
from credit_profile.models import DataProvider
from products.models import Institution
from tests.factories import InstitutionFactory, UserFactory
from tests.portal.test_web_support import login, text


def test_city_office_sees_every_field_with_chinese_labels(client, session):
    user = UserFactory(finance=True)
    login(client, user.username)
    page = client.get("/finance/")
    assert page.status_code == 200
    body = text(page)
    for label in ("提交的融资需求（笔）", "认领用时中位数（小时）", "首贷户占比", "续贷成功率", "加权平均年利率",
                  "普惠小微贷款笔数（人民银行口径", "农户贷款金额"):  # fmt: skip
        assert label in body
    county = client.get("/finance/", query_string={"from_date": "2026-01-01", "to_date": "2026-03-31",
                                                    "region_code": "360826"})  # fmt: skip
    assert county.status_code == 200
    assert "泰和县" in text(county)


def test_county_office_cannot_see_another_county(client, session):
    user = UserFactory(finance=True, region_code="360821")
    login(client, user.username)
    own = client.get("/finance/", query_string={"from_date": "2026-01-01", "to_date": "2026-01-31"})
    assert own.status_code == 200
    assert "吉安县" in text(own)
    other = client.get(
        "/finance/",
        query_string={"from_date": "2026-01-01", "to_date": "2026-01-31", "region_code": "360802"},
    )
    assert other.status_code == 403
    assert "您没有权限执行此操作" in text(other)
    city = client.get(
        "/finance/",
        query_string={"from_date": "2026-01-01", "to_date": "2026-01-31", "region_code": "360800"},
    )
    assert city.status_code == 403


def test_dashboard_rejects_reversed_window(client, session):
    login(client, UserFactory(finance=True).username)
    response = client.get("/finance/", query_string={"from_date": "2026-02-01", "to_date": "2026-01-01"})
    assert response.status_code == 422
    assert "结束日期不能早于开始日期" in text(response)


def test_admin_creates_institution_user_and_provider(client, session):
    admin = UserFactory(admin=True)
    login(client, admin.username)
    for path, words in (("/admin/institutions", "金融机构"), ("/admin/users", "新增机构或政府用户"),
                        ("/admin/providers", "新增数据提供方")):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 200
        assert words in text(response)

    assert (
        client.post(
            "/admin/institutions", data={"code": "ｊａｒｃｂ", "name": "吉安农商银行", "kind": "bank"}
        ).status_code
        == 302
    )
    institution = session.scalar(select(Institution).where(Institution.code == "JARCB"))
    assert institution.name == "吉安农商银行"
    taken = client.post("/admin/institutions", data={"code": "JARCB", "name": "重复", "kind": "bank"})
    assert taken.status_code == 422
    assert "机构代码已存在" in text(taken)

    missing = client.post(
        "/admin/users", data={"username": "kh01", "password": "Str0ng!pass", "role": "officer"}
    )
    assert missing.status_code == 422
    assert "此项必填" in text(missing)
    response = client.post(
        "/admin/users",
        data={
            "username": "kh01",
            "password": "Str0ng!pass",
            "role": "officer",
            "institution_id": str(institution.id),
        },
    )
    assert response.status_code == 302
    created = session.scalar(select(User).where(User.username == "kh01"))
    assert created.role == "officer" and created.institution_id == institution.id
    assert "kh01" in text(client.get("/admin/users"))

    provider = client.post("/admin/providers", data={"name": "国网吉安供电公司", "source": "electricity"})
    assert provider.status_code == 200
    row = session.scalar(select(DataProvider).where(DataProvider.name == "国网吉安供电公司"))
    assert row.secret in text(provider)
    assert "只显示这一次" in text(provider)
    assert provider.headers["Cache-Control"] == "no-store"
    assert row.secret not in text(client.get("/admin/providers"))


def test_admin_pages_are_admin_only(client, session):
    login(client, UserFactory(officer=True, institution_id=InstitutionFactory().id).username)
    for path in ("/admin/institutions", "/admin/users", "/admin/providers"):
        assert client.get(path).status_code == 403
    assert (
        client.post("/admin/institutions", data={"code": "X1", "name": "x", "kind": "bank"}).status_code
        == 403
    )
    assert session.scalar(select(Institution).where(Institution.code == "X1")) is None


def test_a_blank_institution_for_a_new_officer_is_missing_not_a_server_error(client, session):
    login(client, UserFactory(admin=True).username)
    InstitutionFactory()
    data = {"username": "kh02", "password": "Str0ng!pass", "role": "officer", "institution_id": "  "}
    response = client.post("/admin/users", data=data)
    assert response.status_code == 422
    assert "此项必填" in text(response)
    assert session.scalar(select(User).where(User.username == "kh02")) is None
