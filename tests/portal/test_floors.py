"""portal.floors: the bench's floor pages answer as their pages do (same authentication, same rows), and
exist only with BENCH_FLOOR_ROUTES."""

from __future__ import annotations

import datetime as dt

import pytest

from matching.dispatch import match_need
from portal.app import create_app
from tests.conftest import make_settings
from tests.factories import PASSWORD, LeadFactory, ProductFactory, UserFactory
from tests.matching.helpers import applicant, bank, submit
from tests.portal.test_web_support import login


@pytest.fixture
def floor_app(session_factory, session):
    app = create_app(make_settings(bench_floor_routes=True), session_factory=session_factory)
    app.config.update(WTF_CSRF_ENABLED=False)
    return app


def test_the_floors_answer_for_the_pages_viewers_with_the_pages_rows(floor_app, session):
    institution, product, [officer] = bank()
    borrower, user = applicant()
    need = submit(session, borrower.id, user.id)
    session.flush()
    [lead] = match_need(session, need.id, top_n=3)
    session.flush()
    client = floor_app.test_client()

    assert client.get("/bench/floor/leads").status_code == 302  # to the login page, as the inbox
    assert client.get("/api/v1/bench/floor/leads").status_code == 401
    login(client, officer.username, PASSWORD)
    page = client.get("/bench/floor/leads")
    assert page.status_code == 200 and f'href="/officer/leads/{lead.id}"' in page.get_data(as_text=True)
    token = client.post("/api/v1/auth/token", json={"username": officer.username, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    api = client.get("/api/v1/bench/floor/leads", headers=headers)
    assert api.status_code == 200 and [item["id"] for item in api.get_json()["items"]] == [lead.id]
    assert client.get("/api/v1/leads", headers=headers).get_json()["items"][0]["id"] == lead.id

    products = client.get("/bench/floor/products")
    assert products.status_code == 200 and f'href="/products/{product.id}"' in products.get_data(as_text=True)
    listed = client.get("/api/v1/bench/floor/products").get_json()["items"]
    assert product.id in [item["id"] for item in listed]
    assert institution.id == lead.institution_id


def test_without_the_setting_there_are_no_floors(client):
    for path in ("/bench/floor/leads", "/bench/floor/products", "/api/v1/bench/floor/products"):
        assert client.get(path).status_code == 404


def test_the_leads_floor_reads_the_pages_rows_in_its_order(floor_app, session):
    product = ProductFactory(published=True)
    officer = UserFactory(officer=True, institution_id=product.institution_id)
    leads = [LeadFactory(product=product) for _ in range(3)]
    leads += [LeadFactory(product=product, claimed=True, claimed_by=officer.id), LeadFactory(product=product)]
    leads[1].sla_due_at = leads[0].sla_due_at - dt.timedelta(hours=1)  # due first: on top of the inbox
    LeadFactory()  # another institution's
    session.flush()
    client = floor_app.test_client()
    token = client.post("/api/v1/auth/token", json={"username": officer.username, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}

    page = client.get("/api/v1/leads", headers=headers).get_json()
    floor = client.get("/api/v1/bench/floor/leads", headers=headers).get_json()

    assert [item["id"] for item in floor["items"]] == [item["id"] for item in page["items"]]
    assert floor["total"] == page["total"] == 5 and page["items"][0]["id"] == leads[1].id


def test_each_leads_floor_runs_the_very_statement_its_route_runs(floor_app, session):
    """The floor is a lower bound only if it runs what its route runs: the same SQL text (the inbox page's
    statement without the loans' reports, the API's with them), not a cheaper or a costlier one."""
    from sqlalchemy import event

    product = ProductFactory(published=True)
    officer = UserFactory(officer=True, institution_id=product.institution_id)
    LeadFactory(product=product, disbursed=True, claimed_by=officer.id)
    LeadFactory(product=product)
    session.flush()
    engine = session.get_bind().engine
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "FROM leads" in statement and "count(" in statement.lower():  # the inbox's paged, counted read
            seen.append(statement)

    client = floor_app.test_client()
    token = client.post("/api/v1/auth/token", json={"username": officer.username, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    web = floor_app.test_client()
    login(web, officer.username)
    event.listen(engine, "before_cursor_execute", record)
    try:
        read = {}
        for name, (c, path, kwargs) in {
            "api": (client, "/api/v1/leads", {"headers": headers}),
            "api floor": (client, "/api/v1/bench/floor/leads", {"headers": headers}),
            "page": (web, "/officer/leads", {}),
            "page floor": (web, "/bench/floor/leads", {}),
        }.items():
            seen.clear()
            assert c.get(path, **kwargs).status_code == 200, name
            read[name] = list(seen)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(read["api floor"]) == len(read["page floor"]) == 1
    assert read["api floor"] == read["api"] and read["page floor"] == read["page"]
    assert read["api"] != read["page"]  # the API's carries the loans' reports
