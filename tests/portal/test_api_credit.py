"""Consents, signed provider data, admin imports and scorecard versions through the JSON API."""

from __future__ import annotations

import datetime as dt
import io
import json
import time

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from core.types import local_today
from credit_profile.expert import expert_scorecard
from credit_profile.ingestion import create_provider, sign
from credit_profile.models import ConsentUse, DataRecord, ProviderNonce
from credit_profile.scorecards import register_scorecard
from tests.credit_profile.helpers import month
from tests.factories import PASSWORD, BorrowerFactory, InstitutionFactory, ProductFactory, UserFactory
from tests.portal.api_helpers import assert_error, need_as_read, snapshot, token

pytestmark = pytest.mark.smoke


class Provider:
    """A data provider's client: signs each body as api-v1 prescribes."""

    def __init__(self, client, key: str, secret: str, source: str) -> None:
        self.client, self.key, self.secret, self.source = client, key, secret, source

    def headers(self, raw: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {"X-Provider-Key": self.key, "X-Timestamp": ts, "X-Signature": sign(self.secret, ts, raw)}

    def post(self, records, *, source: str | None = None, headers=None, raw: bytes | None = None):
        body = raw if raw is not None else json.dumps({"records": records}).encode()
        return self.client.post(
            f"/api/v1/data/{source or self.source}/records",
            data=body,
            content_type="application/json",
            headers=headers or self.headers(body),
        )


@pytest.fixture
def world(session, client):
    bank = InstitutionFactory(code="BANKA", name="吉安测试银行")
    ProductFactory(institution=bank, published=True)
    borrower = BorrowerFactory()
    UserFactory(username="applicant1", borrower_id=borrower.id)
    UserFactory(username="officer_a", officer=True, institution_id=bank.id)
    UserFactory(username="admin1", admin=True)
    providers = {}
    for source in ("electricity", "tax"):
        row, secret = create_provider(session, name=f"{source} 提供方", source=source)
        providers[source] = Provider(client, row.key, secret, source)
    session.flush()
    return {"bank": bank, "borrower": borrower, "providers": providers}


def kwh(borrower, period: str, value="1000.00") -> dict:
    return {"uscc": borrower.uscc, "period": period, "kwh": value, "bill_amount": "680.00"}


def grant(client, headers, **overrides):
    body = {
        "sources": ["electricity", "tax"],
        "purpose": "融资需求匹配与授信参考",
        "expires_on": (local_today() + dt.timedelta(days=180)).isoformat(),
    }
    body.update(overrides)
    response = client.post("/api/v1/consents", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def claimed_lead(client, applicant) -> tuple[int, dict[str, str]]:
    response = client.post(
        "/api/v1/needs",
        json={
            "amount": 300000,
            "term_months": 12,
            "purpose": "购买设备",
            "collateral": "credit",
            "declared_prior_loan": False,
        },
        headers=applicant,
    )
    need = need_as_read(client, response, applicant)
    lead_id = need["leads"][0]["id"]
    officer = token(client, "officer_a", PASSWORD)
    assert client.post(f"/api/v1/leads/{lead_id}/claim", headers=officer).status_code == 200
    return lead_id, officer


def stored_kwh(session, borrower) -> dict[str, str]:
    rows = session.scalars(
        select(DataRecord).where(DataRecord.borrower_id == borrower.id, DataRecord.source == "electricity")
    ).all()
    return {r.period: str(r.kwh) for r in rows}


# --- revocation ------------------------------------------------------------------------------------


def test_after_revoking_reads_and_new_data_are_refused_and_the_refusals_are_visible(client, session, world):
    borrower, electricity = world["borrower"], world["providers"]["electricity"]
    applicant = token(client, "applicant1", PASSWORD)
    consent = grant(client, applicant)
    assert electricity.post([kwh(borrower, month(2))]).get_json() == {"accepted": 1, "rejected": []}
    lead_id, officer = claimed_lead(client, applicant)
    assert client.get(f"/api/v1/leads/{lead_id}/credit-profile", headers=officer).status_code == 200

    response = client.post(f"/api/v1/consents/{consent['id']}/revoke", json={}, headers=applicant)
    assert response.status_code == 200 and response.get_json()["status"] == "revoked"

    # 1. The officer's next read is refused.
    assert_error(
        client.get(f"/api/v1/leads/{lead_id}/credit-profile", headers=officer), 403, "consent_required"
    )
    # 2. The provider's next record for that source is rejected and not stored.
    response = electricity.post([kwh(borrower, month(1))])
    assert response.status_code == 200
    assert response.get_json() == {
        "accepted": 0,
        "rejected": [{"index": 0, "errors": ["consent:not_active"]}],
    }
    assert stored_kwh(session, borrower) == {month(2): "1000.00"}
    # 3. Both refused attempts are in the applicant's list of uses.
    uses = client.get("/api/v1/consents", headers=applicant).get_json()["uses"]
    refused = {(u["action"], u["source"], u["institution"]) for u in uses if u["allowed"] is False}
    assert refused == {("institution_read", None, "吉安测试银行"), ("ingest", "electricity", None)}


def test_consent_list_shows_period_recipients_and_reads(client, session, world):
    applicant = token(client, "applicant1", PASSWORD)
    consent = grant(client, applicant, period={"from": month(24), "to": month(1)})
    lead_id, officer = claimed_lead(client, applicant)
    client.get(f"/api/v1/leads/{lead_id}/credit-profile", headers=officer)
    client.get(f"/api/v1/leads/{lead_id}/credit-profile", headers=officer)

    (item,) = client.get("/api/v1/consents", headers=applicant).get_json()["items"]

    assert item["id"] == consent["id"]
    assert item["period"] == {"from": month(24), "to": month(1)}
    assert [(r["institution"]["code"], r["identified"], r["reads"]) for r in item["recipients"]] == [
        ("BANKA", True, 2)
    ]
    assert item["deletions"] == []
    assert {u["action"] for u in item["uses"]} == {"institution_read"}


def test_consent_period_is_validated(client, world):
    applicant = token(client, "applicant1", PASSWORD)
    for period, field in (
        ({"from": "2025-13"}, "period.from"),
        ({"from": month(1), "to": month(3)}, "period.to"),
    ):
        body = {"sources": ["tax"], "purpose": "x", "expires_on": local_today().isoformat(), "period": period}
        error = assert_error(client.post("/api/v1/consents", json=body, headers=applicant), 422)
        assert list(error["fields"]) == [field]


def test_records_outside_the_consented_months_are_rejected(client, session, world):
    borrower, electricity = world["borrower"], world["providers"]["electricity"]
    grant(client, token(client, "applicant1", PASSWORD), period={"from": month(3)})
    body = electricity.post([kwh(borrower, month(1)), kwh(borrower, month(4))]).get_json()
    assert body == {"accepted": 1, "rejected": [{"index": 1, "errors": ["consent:period_not_covered"]}]}


def test_profile_sources_carry_coverage(client, world):
    borrower, electricity = world["borrower"], world["providers"]["electricity"]
    applicant = token(client, "applicant1", PASSWORD)
    grant(client, applicant, sources=["electricity"])
    electricity.post([kwh(borrower, month(i)) for i in (1, 2, 5)])
    sources = client.get("/api/v1/credit-profile", headers=applicant).get_json()["sources"]
    assert sources["electricity"] == {
        "months": 3,
        "gaps": 2,
        "first_period": month(5),
        "latest_period": month(1),
        "consented": True,
    }
    assert sources["tax"]["consented"] is False and sources["tax"]["months"] == 0


# --- provider API ------------------------------------------------------------------------------------


@pytest.fixture
def consented(client, world):
    grant(client, token(client, "applicant1", PASSWORD))
    return world


def test_tampered_stale_replayed_and_foreign_key_requests_are_401(client, session, consented):
    borrower, electricity, tax = consented["borrower"], *consented["providers"].values()
    raw = json.dumps({"records": [kwh(borrower, month(1))]}).encode()
    signed = electricity.headers(raw)
    tampered = raw.replace(b"1000.00", b"9000.00")
    before = snapshot(session, ignore=())

    assert_error(electricity.post(None, raw=tampered, headers=signed), 401, "invalid_signature")
    assert_error(
        electricity.post(None, raw=raw, headers=electricity.headers(raw, timestamp=int(time.time()) - 301)),
        401,
        "invalid_signature",
    )
    # The tax provider's own, valid signature does not open the electricity endpoint.
    assert_error(tax.post(None, raw=raw, source="electricity"), 401, "invalid_signature")
    missing = {k: v for k, v in signed.items() if k != "X-Signature"}
    assert_error(electricity.post(None, raw=raw, headers=missing), 401, "invalid_signature")
    assert snapshot(session, ignore=()) == before

    assert electricity.post(None, raw=raw, headers=signed).status_code == 200
    after_first = snapshot(session, ignore=())
    assert_error(electricity.post(None, raw=raw, headers=signed), 401, "invalid_signature")
    assert snapshot(session, ignore=()) == after_first
    assert session.scalar(select(func.count()).select_from(ProviderNonce)) == 1


def test_a_malformed_record_is_named_and_the_good_ones_are_stored(client, session, consented):
    borrower, electricity = consented["borrower"], consented["providers"]["electricity"]
    records = [
        kwh(borrower, month(1)),
        {"uscc": borrower.uscc, "period": "2025-13", "kwh": "abc"},
        kwh(borrower, month(2), "1.50"),
        "not an object",
    ]
    body = electricity.post(records).get_json()
    assert body == {
        "accepted": 2,
        "rejected": [
            {"index": 1, "errors": ["period:invalid_format", "kwh:invalid_number", "bill_amount:required"]},
            {"index": 3, "errors": ["record:not_an_object"]},
        ],
    }
    assert stored_kwh(session, borrower) == {month(1): "1000.00", month(2): "1.50"}


def test_resending_a_subject_and_month_replaces_it(client, session, consented):
    borrower, electricity = consented["borrower"], consented["providers"]["electricity"]
    assert electricity.post([kwh(borrower, month(1), "100.00")]).get_json()["accepted"] == 1
    assert electricity.post([kwh(borrower, month(1), "250.00")]).get_json()["accepted"] == 1
    assert stored_kwh(session, borrower) == {month(1): "250.00"}


# --- admin import -----------------------------------------------------------------------------------


def upload(client, headers, source: str, filename: str, content: bytes):
    # Encoded here, in memory: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(content), filename)})
    return client.post(
        f"/api/v1/admin/data/{source}/import",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=headers,
    )


def test_import_csv_and_xlsx(client, session, consented):
    borrower = consented["borrower"]
    admin = token(client, "admin1", PASSWORD)
    csv_content = f"uscc,period,kwh,bill_amount\n{borrower.uscc},{month(1)},10,6.8\n".encode()
    response = upload(client, admin, "electricity", "用电.csv", csv_content)
    assert response.status_code == 202, response.get_json()
    accepted = response.get_json()
    assert (
        response.headers["Location"]
        == accepted["status_url"]
        == f"/api/v1/admin/data/imports/{accepted['id']}"
    )
    # The job ran after the upload's commit (here at once; in production on the worker).
    status = client.get(accepted["status_url"], headers=admin).get_json()
    assert status["status"] == "published" and status["imported"] == 1
    assert (status["rows_total"], status["rows_checked"], status["rows_done"]) == (1, 1, 1)

    workbook = Workbook()
    workbook.active.append(["统一社会信用代码", "所属期", "用电量", "电费"])
    workbook.active.append([borrower.uscc, month(1), 20, 13.6])
    workbook.active.append([borrower.uscc, month(2), 30, 20.4])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = upload(client, admin, "electricity", "用电.xlsx", buffer.getvalue())
    status = client.get(response.get_json()["status_url"], headers=admin).get_json()
    assert (status["status"], status["imported"]) == ("published", 2)
    assert stored_kwh(session, borrower) == {month(1): "20.00", month(2): "30.00"}


def test_import_with_a_bad_row_fails_and_stores_nothing(client, session, consented):
    borrower = consented["borrower"]
    admin = token(client, "admin1", PASSWORD)
    content = (
        f"uscc,period,kwh,bill_amount\n{borrower.uscc},{month(1)},10,6.8\n{borrower.uscc},{month(2)},abc,1\n"
    ).encode()
    before = snapshot(session)
    response = upload(client, admin, "electricity", "e.csv", content)
    assert response.status_code == 202, response.get_json()
    status = client.get(response.get_json()["status_url"], headers=admin).get_json()
    assert status["status"] == "failed" and status["imported"] is None
    assert status["errors"] == {"row 3": ["用电量：应为数字"]}
    # Nothing but the import's own record (and its finished job) was written.
    after = snapshot(session)
    assert {t: n - before[t] for t, n in after.items() if n != before[t]} == {
        "data_imports": 1,
        "outbox_jobs": 1,
    }
    assert_error(client.get("/api/v1/admin/data/imports/999999", headers=admin), 404)
    officer = token(client, "officer_a", PASSWORD)
    assert_error(client.get(response.get_json()["status_url"], headers=officer), 403)


def test_import_refusals(client, session, consented):
    admin = token(client, "admin1", PASSWORD)
    officer = token(client, "officer_a", PASSWORD)
    before = snapshot(session)
    error = assert_error(upload(client, admin, "tax", "t.pdf", b"%PDF"), 422)
    assert error["fields"] == {"file": ["仅支持 .csv 或 .xlsx 文件"]}
    error = assert_error(upload(client, admin, "tax", "t.csv", b"uscc,period\n1,2\n"), 422)
    assert error["fields"]["file"][0] == "申报销售额：缺少该列"
    assert_error(upload(client, admin, "tax", "t.csv", b"x" * (1024 * 1024 + 1)), 413, "payload_too_large")
    assert_error(client.post("/api/v1/admin/data/tax/import", json={}, headers=admin), 422)
    assert_error(upload(client, admin, "water", "t.csv", b"a"), 404)
    assert_error(upload(client, officer, "tax", "t.csv", b"a"), 403)
    assert snapshot(session) == before


# --- scorecard versions -------------------------------------------------------------------------------


def test_admin_lists_and_activates_scorecard_versions(client, session, world):
    for version in ("v1", "v2"):
        card = expert_scorecard()
        card["version"] = version
        register_scorecard(session, card, note=f"说明 {version}")
    session.flush()
    admin = token(client, "admin1", PASSWORD)

    listed = client.get("/api/v1/admin/scorecards", headers=admin).get_json()
    assert listed["active_version"] == expert_scorecard()["version"]
    assert (listed["total"], {i["version"]: i["active"] for i in listed["items"]}) == (
        2,
        {"v1": False, "v2": False},
    )

    response = client.post("/api/v1/admin/scorecards/v2/activate", headers=admin)
    assert response.status_code == 200 and response.get_json()["active"] is True
    listed = client.get("/api/v1/admin/scorecards", headers=admin).get_json()
    assert listed["active_version"] == "v2"
    assert {i["version"]: i["active"] for i in listed["items"]} == {"v1": False, "v2": True}
    assert "elec_yoy" in listed["items"][0]["characteristics"]

    applicant = token(client, "applicant1", PASSWORD)
    assert client.get("/api/v1/credit-profile", headers=applicant).get_json()["model_version"] == "v2"
    assert_error(
        client.post("/api/v1/admin/scorecards/v3/activate", headers=admin), 404, "scorecard_not_found"
    )
    assert_error(client.post("/api/v1/admin/scorecards/v1/activate", headers=applicant), 403)
    assert_error(client.get("/api/v1/admin/scorecards", headers=applicant), 403)


def test_only_the_claiming_officer_reads_the_profile_and_a_colleague_leaves_no_use(client, session, world):
    """The profile follows the borrower's identity: disclosed to the officer who claimed the lead, not
    to a colleague at the same bank (API and page alike), and the colleague's attempt is no use."""
    from tests.portal.test_web_support import login

    UserFactory(username="officer_b", officer=True, institution_id=world["bank"].id)
    applicant = token(client, "applicant1", PASSWORD)
    grant(client, applicant)
    lead_id, officer = claimed_lead(client, applicant)
    colleague = token(client, "officer_b", PASSWORD)
    uses = session.scalar(select(func.count(ConsentUse.id)))
    assert_error(client.get(f"/api/v1/leads/{lead_id}/credit-profile", headers=colleague), 403)
    login(client, "officer_b")
    # The page sends a colleague back to the lead, which says who holds it (issue 14), and reads nothing.
    page = client.get(f"/officer/leads/{lead_id}/credit")
    assert page.status_code == 302 and page.headers["Location"].endswith(f"/officer/leads/{lead_id}")
    assert session.scalar(select(func.count(ConsentUse.id))) == uses
    assert client.get(f"/api/v1/leads/{lead_id}/credit-profile", headers=officer).status_code == 200
    assert session.scalar(select(func.count(ConsentUse.id))) > uses
