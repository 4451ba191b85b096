"""No resident ID or USCC leaves the API or the logs unmasked unless the viewer is entitled to it.

Entitled: the applicant on their own `/me`, and the officer who claimed a lead, on that lead. Everything
else every role can GET, and every log line written meanwhile (SQL statements with their parameters
included), is scanned for an 18-character identifier (core.identifiers.IDENTIFIER_PATTERN).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time

import pytest
from sqlalchemy import event

from core.identifiers import IDENTIFIER_PATTERN
from core.masking import Personal, mask
from credit_profile.ingestion import create_provider, sign
from tests.counts import report
from tests.factories import PASSWORD, InstitutionFactory, ProductFactory, UserFactory, make_id_number
from tests.portal.api_helpers import need_as_read, register, register_body, sms_code, token, uscc

pytestmark = pytest.mark.smoke


def _need(client, headers):
    body = {"amount": 200000, "term_months": 12, "purpose": "购置农机", "collateral": "credit",
            "declared_prior_loan": False}  # fmt: skip
    return need_as_read(client, client.post("/api/v1/needs", json=body, headers=headers), headers)


@pytest.fixture
def world(client, session):
    bank, other = InstitutionFactory(code="PROTA"), InstitutionFactory(code="PROTB")
    product = ProductFactory(institution=bank, published=True)
    for username, traits in (
        ("claimant", {"officer": True, "institution_id": bank.id}),
        ("colleague", {"officer": True, "institution_id": bank.id}),
        ("outsider", {"officer": True, "institution_id": other.id}),
        ("pm", {"product_manager": True, "institution_id": bank.id}),
        ("city", {"finance": True}),
        ("root", {"admin": True}),
    ):
        UserFactory(username=username, **traits)
    session.flush()
    firm_code, farmer_code = uscc(61), make_id_number(62)
    assert register(client, register_body("firm", 61)).status_code == 201
    farmer_body = register_body(
        "farmer", 62, kind="farmer", uscc=None, id_number=farmer_code, industry_code="A"
    )
    assert register(client, farmer_body).status_code == 201
    headers = {name: token(client, name, PASSWORD) for name in
               ("claimant", "colleague", "outsider", "pm", "city", "root")}  # fmt: skip
    headers["firm"] = token(client, "firm")
    headers["farmer"] = token(client, "farmer")
    expires = (dt.date.today() + dt.timedelta(days=300)).isoformat()
    for applicant in ("firm", "farmer"):
        granted = client.post(
            "/api/v1/consents",
            json={"sources": ["tax"], "purpose": "融资匹配", "expires_on": expires},
            headers=headers[applicant],
        )
        assert granted.status_code == 201, granted.get_json()
    firm_need, farmer_need = _need(client, headers["firm"]), _need(client, headers["farmer"])
    firm_lead, farmer_lead = firm_need["leads"][0]["id"], farmer_need["leads"][0]["id"]
    assert client.post(f"/api/v1/leads/{firm_lead}/claim", headers=headers["claimant"]).status_code == 200
    provider, secret = create_provider(session, name="市税务局", source="tax")
    session.commit()
    return {
        "headers": headers,
        "codes": {"firm": firm_code, "farmer": farmer_code},
        "ids": {
            "lead_id": [firm_lead, farmer_lead],
            "need_id": [firm_need["id"], farmer_need["id"]],
            "product_id": [product.id],
            "consent_id": [1],
        },
        "provider": (provider.key, secret),
    }


def _get_paths(client, ids):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        if "get" not in operations or path == "/api/v1/openapi.json":
            continue
        names = re.findall(r"{(\w+)}", path)
        if not names:
            yield path, path
            continue
        for value in ids.get(names[0], [1]):
            yield path, path.replace(f"{{{names[0]}}}", str(value))


def _identifiers(text: str) -> set[str]:
    return set(IDENTIFIER_PATTERN.findall(text))


def test_scanner_sees_an_unmasked_identifier_and_not_a_masked_one():
    code = uscc(1)
    assert _identifiers(json.dumps({"uscc": code})) == {code}
    assert _identifiers(json.dumps({"uscc": mask(Personal.USCC, code)})) == set()
    # Eighteen digits inside a SHA-256 hex digest (seen in a logged token hash) are not an identifier.
    digest = "18636099f41b487af73dfa7eae577602351208499825bfcaf8145fb9f9d5d4e9"
    assert _identifiers(f"{{'token_hash': '{digest}'}}") == set()
    assert _identifiers(f"'{code}'") == {code}


def test_no_unmasked_identifier_in_any_get_response_or_log_line(client, world, caplog, connection):
    caplog.set_level(logging.DEBUG)
    sql_log = logging.getLogger("tests.sql")

    # What SQL logging would write: every statement with the parameters the database receives.
    @event.listens_for(connection, "before_cursor_execute")
    def log_sql(_conn, _cursor, statement, parameters, _context, _many):
        sql_log.info("%s %r", statement, parameters)

    codes = world["codes"]
    new_code = uscc(63)
    assert register(client, register_body("firm_three", 63)).status_code == 201
    entitled = {
        ("firm", "/api/v1/me"): {codes["firm"]},
        ("farmer", "/api/v1/me"): {codes["farmer"]},
        ("claimant", f"/api/v1/leads/{world['ids']['lead_id'][0]}"): {codes["firm"]},
        ("claimant", "/api/v1/leads"): {codes["firm"]},
    }
    # Data arriving for both subjects, and a refused duplicate registration, while the logs are captured.
    key, secret = world["provider"]
    body = json.dumps({"records": [
        {"uscc": codes["firm"], "period": "2026-01", "sales": "1000.00", "tax_paid": "30.00",
         "credit_rating": "A", "arrears": False},
        {"id_number": codes["farmer"], "period": "2026-01", "sales": "1.00", "tax_paid": "0.00",
         "credit_rating": "B", "arrears": False},
    ]}).encode()  # fmt: skip
    stamp = str(int(time.time()))
    response = client.post(
        "/api/v1/data/tax/records",
        data=body,
        content_type="application/json",
        headers={"X-Provider-Key": key, "X-Timestamp": stamp, "X-Signature": sign(secret, stamp, body)},
    )
    assert response.get_json()["accepted"] == 2, response.get_json()
    # A duplicate registration: accepted alike (no oracle), refused once its phone is verified.
    assert client.post("/api/v1/register", json=register_body("firm_again", 61)).status_code == 201
    again = {"username": "firm_again", "code": sms_code(client, "firm_again")}
    assert client.post("/api/v1/register/verify", json=again).status_code == 422

    leaks, scanned, shown = [], 0, set()
    for viewer, headers in [*world["headers"].items(), ("anonymous", {})]:
        for _template, path in _get_paths(client, world["ids"]):
            response = client.get(path, headers=headers)
            assert response.status_code < 500, (viewer, path, response.status_code)
            scanned += 1
            found = _identifiers(response.get_data(as_text=True))
            allowed = entitled.get((viewer, path), set())
            if found - allowed:
                leaks.append((viewer, path, found - allowed))
            shown |= found & allowed
    assert leaks == []
    # The entitled views really do show the identifiers (so the scan is not vacuous).
    assert shown == {codes["firm"], codes["farmer"]}

    lines = [record.getMessage() for record in caplog.records]
    lines += [caplog.text]
    assert any("INSERT INTO borrowers" in line for line in lines)  # SQL with parameters was captured
    logged = set().union(*(_identifiers(line) for line in lines))
    assert not logged & {codes["firm"], codes["farmer"], new_code}, logged
    assert logged == set(), logged
    report("data protection", "GET responses scanned (all roles)", scanned)
    report("data protection", "log records scanned", len(caplog.records))


def test_only_the_claiming_officer_sees_who_the_borrower_is(client, world):
    lead_id = world["ids"]["lead_id"][0]
    mine = client.get(f"/api/v1/leads/{lead_id}", headers=world["headers"]["claimant"]).get_json()
    theirs = client.get(f"/api/v1/leads/{lead_id}", headers=world["headers"]["colleague"]).get_json()
    assert mine["borrower"]["uscc"] == world["codes"]["firm"] and mine["contact_phone"]
    assert theirs["borrower"] is None and theirs["contact_phone"] is None and theirs["purpose"] is None
    assert theirs["claimed_by"] == "claimant" and theirs["profile"]["kind"] == "enterprise"
