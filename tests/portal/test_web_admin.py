"""The administrator's pages: users (search, filters, pages, edit, disable, reset), institutions (edit,
deactivate), providers (list, rotate, deactivate, no duplicate on refresh) and the audit viewer."""

from __future__ import annotations

from sqlalchemy import func, select

from core.models import FormSubmission, StatusEvent, User
from credit_profile.models import DataProvider
from tests.factories import InstitutionFactory, ProductFactory, UserFactory
from tests.portal.test_web_support import login, text


def _admin(client, session):
    UserFactory(username="root", admin=True)
    session.flush()
    login(client, "root")


def test_users_list_searches_filters_and_pages(client, session):
    bank = InstitutionFactory(code="JXBANK", name="江西测试银行")
    for i in range(25):
        UserFactory(username=f"jx_officer{i:02d}", officer=True, institution_id=bank.id, active=i != 3)
    _admin(client, session)
    first = text(client.get("/admin/users?q=jx_officer"))
    assert "共 25 个" in first and "jx_officer19" in first and "jx_officer20" not in first
    assert "第 1 / 2 页" in first
    second = text(client.get("/admin/users?q=jx_officer&page=2"))
    assert "jx_officer24" in second and "jx_officer00" not in second
    disabled = text(client.get(f"/admin/users?institution={bank.id}&active=0"))
    assert "共 1 个" in disabled and "jx_officer03" in disabled and "已停用" in disabled
    assert client.get("/admin/users?page=abc").status_code == 200


def test_disabling_a_user_on_the_page_ends_their_session(client, app, session):
    bank = InstitutionFactory()
    officer = UserFactory(username="departing", officer=True, institution_id=bank.id)
    session.flush()
    theirs = app.test_client()
    login(theirs, "departing")
    assert theirs.get("/officer/leads").status_code == 200
    _admin(client, session)
    response = client.post(
        f"/admin/users/{officer.id}",
        data={"role": "officer", "institution_id": str(bank.id), "region_code": "", "active": "0"},
    )
    assert response.status_code == 302
    assert "/login" in theirs.get("/officer/leads").headers["Location"]
    audit = text(client.get("/admin/audit?actor=root&entity_type=user"))
    assert "停用账号" in audit and f"#{officer.id}" in audit


def test_reset_password_page_shows_the_temporary_password_once(client, session):
    user = UserFactory(username="needs_reset", finance=True)
    _admin(client, session)
    page = text(client.post(f"/admin/users/{user.id}/reset-password"))
    assert "临时密码只显示这一次" in page
    session.refresh(user)
    assert user.must_change_password is True
    assert "临时密码只显示这一次" not in text(client.get(f"/admin/users/{user.id}"))


def test_refreshing_the_provider_page_creates_no_second_provider(client, session):
    _admin(client, session)
    data = {"name": "国网吉安供电公司", "source": "electricity"}
    first = client.post("/admin/providers", data=data)
    assert first.status_code == 200 and "签名密钥只显示这一次" in text(first)
    again = client.post("/admin/providers", data=data)  # the browser's "resend the form"
    assert again.status_code == 302
    assert session.scalar(select(func.count()).select_from(DataProvider)) == 1
    assert "没有重复创建" in text(client.get("/admin/providers"))


def test_a_failed_creation_does_not_use_up_the_submission(client, session):
    _admin(client, session)
    InstitutionFactory(code="TAKEN1")
    session.flush()
    data = {"code": "TAKEN1", "name": "重复机构", "kind": "bank"}
    assert client.post("/admin/institutions", data=data).status_code == 422
    assert session.scalar(select(func.count()).select_from(FormSubmission)) == 0
    data["code"] = "FRESH1"
    assert client.post("/admin/institutions", data=data).status_code == 302
    assert client.post("/admin/institutions", data=data).status_code == 302  # a double click
    assert session.scalar(select(func.count()).select_from(FormSubmission)) == 1


def test_provider_list_rotate_and_deactivate(client, session):
    _admin(client, session)
    client.post("/admin/providers", data={"name": "吉安税务数据", "source": "tax"})
    provider = session.scalars(select(DataProvider)).one()
    old = provider.secret
    page = text(client.post(f"/admin/providers/{provider.id}/rotate"))
    assert "已轮换密钥" in page and "旧密钥已立即失效" in page
    session.refresh(provider)
    assert provider.secret != old and provider.secret in page and provider.rotated_at is not None
    listing = text(client.get("/admin/providers"))
    assert "从未使用" in listing and provider.secret not in listing
    assert client.post(f"/admin/providers/{provider.id}/deactivate").status_code == 302
    session.refresh(provider)
    assert provider.active is False
    actions = session.scalars(
        select(StatusEvent.to_status).where(StatusEvent.entity_type == "provider").order_by(StatusEvent.id)
    ).all()
    assert actions == ["created", "rotated", "deactivated"]


def test_deactivating_an_institution_removes_its_products_and_signs_its_staff_out(client, app, session):
    bank = InstitutionFactory(name="将停用银行")
    ProductFactory(institution=bank, name="将下架贷", published=True)
    UserFactory(username="bank_staff", officer=True, institution_id=bank.id)
    session.flush()
    staff = app.test_client()
    login(staff, "bank_staff")
    assert "将下架贷" in text(client.get("/products"))
    _admin(client, session)
    response = client.post(
        f"/admin/institutions/{bank.id}", data={"name": "将停用银行", "kind": "bank", "active": "0"}
    )
    assert response.status_code == 302
    assert "将下架贷" not in text(client.get("/products"))
    assert "/login" in staff.get("/officer/leads").headers["Location"]
    assert (
        staff.post("/login", data={"username": "bank_staff", "password": "Passw0rd!demo"}).status_code == 422
    )


def test_audit_viewer_filters_by_date(client, session):
    _admin(client, session)
    client.post("/admin/institutions", data={"code": "AUDIT1", "name": "审计测试机构", "kind": "bank"})
    assert "审计测试机构" not in text(client.get("/admin/audit"))  # the trail shows actions, not names
    page = text(client.get("/admin/audit?entity_type=institution"))
    assert "创建" in page and "root" in page
    assert "没有符合条件的记录" in text(client.get("/admin/audit?since=2000-01-01&until=2000-01-02"))
    bad = client.get("/admin/audit?since=2026-02-01&until=2026-01-01")
    assert bad.status_code == 200 and "结束日期不能早于开始日期" in text(bad)
    assert session.scalar(select(User.id).where(User.username == "root")) is not None


def test_an_import_uploaded_on_the_page_shows_its_progress_and_outcome(client, session):
    import io

    from credit_profile.models import DataImport, DataRecord
    from tests.credit_profile.helpers import month
    from tests.factories import BorrowerFactory, ConsentFactory

    _admin(client, session)
    borrower = BorrowerFactory()
    ConsentFactory(borrower_id=borrower.id, sources=["electricity"])
    session.flush()
    page = client.get("/admin/imports")
    assert page.status_code == 200 and "上传数据表" in text(page)

    good = f"统一社会信用代码,所属期,用电量,电费\n{borrower.uscc},{month(1)},10,6.8\n".encode()
    response = client.post(
        "/admin/imports",
        data={"source": "electricity", "file": (io.BytesIO(good), "用电.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, text(response)
    done = client.get(response.headers["Location"])
    assert "已导入" in text(done) and "1 / 1 行" in text(done)
    assert 'http-equiv="refresh"' not in done.get_data(as_text=True)  # finished: no more reloading
    assert session.scalar(select(func.count()).select_from(DataRecord)) == 1

    bad = f"uscc,period,kwh,bill_amount\n{borrower.uscc},{month(2)},abc,1\n".encode()
    response = client.post(
        "/admin/imports",
        data={"source": "electricity", "file": (io.BytesIO(bad), "bad.csv")},
        content_type="multipart/form-data",
    )
    failed = client.get(response.headers["Location"])
    assert "未导入任何数据" in text(failed) and "第 2 行：用电量：应为数字" in text(failed)
    assert session.scalar(select(func.count()).select_from(DataRecord)) == 1

    # While the job has not run, the page reloads itself.
    waiting = DataImport(source="tax", filename="t.csv", rows_total=5)
    session.add(waiting)
    session.flush()
    running = client.get(f"/admin/imports/{waiting.id}")
    assert 'http-equiv="refresh"' in running.get_data(as_text=True) and "排队中" in text(running)

    refused = client.post(
        "/admin/imports",
        data={"source": "electricity", "file": (io.BytesIO(b"%PDF"), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and "仅支持 .csv 或 .xlsx 文件" in text(refused)
