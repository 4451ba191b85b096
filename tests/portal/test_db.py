"""One commit per request, made by the portal (`portal.db.end_transaction`), never by a view."""

from __future__ import annotations

import ast
import contextlib
from pathlib import Path

import pytest
from flask import has_request_context
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from core.errors import ConflictError, InvalidInputError
from core.models import OutboxJob
from products.models import Institution, Product
from tests.factories import PASSWORD, InstitutionFactory, ProductFactory, UserFactory
from tests.portal.api_helpers import token
from tests.portal.test_web_support import login, text

PORTAL = Path(__file__).resolve().parents[2] / "portal"
INSTITUTION = {"code": "JARCB", "name": "吉安农商银行", "kind": "bank"}


def _institution(session) -> Institution | None:
    return session.scalar(select(Institution).where(Institution.code == INSTITUTION["code"]))


@pytest.fixture
def admin(session):
    return UserFactory(admin=True)


@contextlib.contextmanager
def connection_lost_at_commit(session_factory):
    """Requests made inside fail at their commit as with a lost connection (the test's session is spared)."""

    def lost(session):
        # The request's own commit, not a savepoint a service releases (that fires before_commit too).
        if has_request_context() and not session.in_nested_transaction():
            raise OperationalError("COMMIT", None, Exception("server closed the connection unexpectedly"))

    event.listen(session_factory, "before_commit", lost)
    try:
        yield
    finally:
        event.remove(session_factory, "before_commit", lost)


def test_no_view_commits():
    """The request handling commits (portal/db.py); a page or API module never does."""
    offenders = []
    for path in sorted([*PORTAL.glob("web/*.py"), *PORTAL.glob("api/*.py")]):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name == "commit":
                    offenders.append(f"{path.relative_to(PORTAL.parent)}:{node.lineno}")
        if "commit()" in source:  # also in comments: `grep -rn "commit()" portal/web portal/api` finds none
            offenders.append(str(path.relative_to(PORTAL.parent)))
    assert offenders == []


def test_a_page_post_is_committed_by_the_request(client, session, admin):
    login(client, admin.username)
    response = client.post("/admin/institutions", data=INSTITUTION)
    assert response.status_code == 302
    assert _institution(session).name == "吉安农商银行"
    assert "机构已创建" in text(client.get(response.headers["Location"]))


def test_an_api_post_is_committed_by_the_request(client, session, admin):
    headers = token(client, admin.username, PASSWORD)
    response = client.post("/api/v1/admin/institutions", json=INSTITUTION, headers=headers)
    assert response.status_code == 201
    assert _institution(session) is not None


def test_an_api_view_that_writes_then_raises_leaves_nothing(client, session, admin, monkeypatch):
    from portal.api import accounts

    real = accounts.create_institution

    def half_done(*args, **kwargs):
        real(*args, **kwargs)  # written and flushed: the row exists in the request's transaction
        raise ConflictError("refused after writing")

    monkeypatch.setattr(accounts, "create_institution", half_done)
    response = client.post(
        "/api/v1/admin/institutions", json=INSTITUTION, headers=token(client, admin.username, PASSWORD)
    )
    assert response.status_code == 409
    assert _institution(session) is None


def test_a_page_that_writes_then_shows_form_errors_leaves_nothing(client, session, admin, monkeypatch):
    from portal.web import admin as admin_pages

    real = admin_pages.create_institution

    def half_done(*args, **kwargs):
        real(*args, **kwargs)
        raise InvalidInputError({"code": ["taken"]})

    monkeypatch.setattr(admin_pages, "create_institution", half_done)
    login(client, admin.username)
    response = client.post("/admin/institutions", data=INSTITUTION)
    assert response.status_code == 422
    assert _institution(session) is None


def test_a_refusal_answered_with_a_redirect_leaves_nothing(client, session, monkeypatch):
    """A flashed conflict redirects (302, a status that commits); the request still rolls back."""
    from portal.web import manage

    institution = InstitutionFactory()
    product = ProductFactory(institution=institution)
    pm = UserFactory(product_manager=True, institution_id=institution.id)
    real, message = manage.STEPS["publish"]

    def half_done(*args, **kwargs):
        real(*args, **kwargs)
        raise ConflictError("refused after publishing")

    monkeypatch.setitem(manage.STEPS, "publish", (half_done, message))
    login(client, pm.username)
    jobs_before = session.scalar(select(func.count()).select_from(OutboxJob))
    response = client.post(f"/manage/products/{product.id}/publish")
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Product, product.id).status == "draft"
    assert session.scalar(select(func.count()).select_from(OutboxJob)) == jobs_before
    assert "产品已上架" not in text(client.get(response.headers["Location"]))


def test_a_failed_commit_replaces_the_api_response_with_503(client, session, admin, session_factory):
    headers = token(client, admin.username, PASSWORD)
    with connection_lost_at_commit(session_factory):
        response = client.post("/api/v1/admin/institutions", json=INSTITUTION, headers=headers)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "service_unavailable"
    # The hooks after the commit apply to the response that replaced the success.
    assert response.headers["Cache-Control"] == "no-store"
    assert _institution(session) is None


def test_a_failed_commit_replaces_the_page_and_drops_its_success_message(
    client, session, admin, session_factory
):
    login(client, admin.username)
    with connection_lost_at_commit(session_factory):
        response = client.post("/admin/institutions", data=INSTITUTION)
    assert response.status_code == 503
    assert "机构已创建" not in text(response)
    assert "机构已创建" not in text(client.get("/admin/institutions"))
    assert _institution(session) is None
