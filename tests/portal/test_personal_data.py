"""Personal data (issue 19, items 1 and 5): one masking function for every surface, and registration
that does not tell an anonymous caller faster than its rate limit whether an ID number is registered."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from core.identifiers import id_check_char
from core.masking import Personal, mask
from core.models import StatusEvent
from core.settings import Settings
from matching.alerts import raise_alert
from portal.app import create_app
from tests.conftest import make_settings
from tests.factories import PASSWORD, BorrowerFactory, NeedFactory, UserFactory
from tests.portal.api_helpers import token

VICTIM_FIRST17 = "36082419800517039"
VICTIM_ID = VICTIM_FIRST17 + id_check_char(VICTIM_FIRST17)


def test_masks_follow_jr_t_0171() -> None:
    assert mask(Personal.ID_NUMBER, VICTIM_ID) == VICTIM_ID[0] + "*" * 16 + VICTIM_ID[-1]
    assert mask(Personal.NAME, "张三丰") == "*三丰"
    assert mask(Personal.NAME, "李四") == "*四"
    assert mask(Personal.PHONE, "13907960000") == "139****0000"
    assert mask(Personal.USCC, "91360802MA0000001X") == "913608********001X"
    assert mask(Personal.BANK_CARD, "6222021234567890123") == "622202*********0123"
    assert mask(Personal.ID_NUMBER, None) is None


def _candidates(masked: str) -> list[str]:
    """Every ID of 1980 (the birth year the attacker knows) that the mask and the check digit allow."""
    found = []
    day = dt.date(1980, 1, 1)
    while day.year == 1980:
        for region in ("360824",) if masked.startswith("360824") else ():
            first17 = f"{region}{day:%Y%m%d}{masked[14:17]}"
            if masked[-1] == id_check_char(first17) and first17[:6] == masked[:6]:
                found.append(first17 + masked[-1])
        day += dt.timedelta(days=1)
    return found


def test_the_mask_leaves_too_little_to_enumerate() -> None:
    masked = mask(Personal.ID_NUMBER, VICTIM_ID)
    assert masked is not None
    # With region and sequence hidden as well as the birth date, the attack's candidate list is empty:
    # the attacker no longer knows the county or the sequence number to enumerate dates against.
    assert _candidates(masked) == []
    assert sum(c.isdigit() for c in masked) <= 2


def test_the_34_request_attack_is_stopped_by_the_register_limit(session_factory, session) -> None:
    victim = BorrowerFactory(farmer=True, id_number=VICTIM_ID, name="王秀英", region_code="360824")
    session.flush()
    old_mask = VICTIM_ID[:6] + "*" * 8 + VICTIM_ID[-4:]  # what drill-downs showed before
    candidates = _candidates(old_mask)
    assert VICTIM_ID in candidates and 25 <= len(candidates) <= 45
    default = Settings.__dataclass_fields__["register_rate_limit"].default
    settings = dataclasses.replace(make_settings(), register_rate_limit=default)
    client = create_app(settings, session_factory=session_factory).test_client()
    answers = {}
    for n, candidate in enumerate(candidates):
        body = {
            "username": f"probe{n}",
            "password": PASSWORD,
            "phone": "13907960000",
            "borrower": {"kind": "farmer", "name": "某某", "id_number": candidate,
                         "region_code": "360824", "industry_code": "A"},
        }  # fmt: skip
        response = client.post("/api/v1/register", json=body, environ_base={"REMOTE_ADDR": "10.9.9.9"})
        answers[candidate] = response.status_code
    answered = [c for c, status in answers.items() if status != 429]
    # The limiter bounds what one address learns: a handful of answers an hour, not 34.
    assert len(answered) <= 5, answers
    assert victim.id_number == VICTIM_ID


def test_alerts_mask_a_farmers_name_as_drill_downs_do(client, session) -> None:
    farmer = BorrowerFactory(farmer=True, name="王秀英", region_code="360824")
    need = NeedFactory(borrower=farmer)
    event = StatusEvent(entity_type="need", entity_id=need.id, to_status="matched", need_id=need.id)
    session.add(event)
    session.flush()
    raise_alert(session, need, event, {"rounds": 2, "leads": 3})
    session.flush()
    UserFactory(username="fin_county", finance=True, region_code="360824")
    body = client.get("/api/v1/alerts", headers=token(client, "fin_county", PASSWORD)).get_json()
    assert body["items"], body
    assert body["items"][0]["need"]["borrower"] == "*秀英"
    assert "王秀英" not in str(body)


@pytest.mark.parametrize("kind", list(Personal))
def test_one_function_masks_every_kind(kind) -> None:
    assert mask(kind, "x") is not None


VOLATILE_HEADERS = {"Date", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After", "Content-Length"}


def _farmer_body(username: str, id_number: str) -> dict:
    return {
        "username": username,
        "password": PASSWORD,
        "phone": "13907960000",
        "borrower": {"kind": "farmer", "name": "某某", "id_number": id_number,
                     "region_code": "360824", "industry_code": "A"},
    }  # fmt: skip


def _answer(response) -> tuple:
    body = response.get_json()
    headers = sorted((k, v) for k, v in response.headers.items() if k not in VOLATILE_HEADERS)
    return response.status_code, tuple(sorted(body)), body.get("verification"), tuple(headers)


def test_the_34_candidates_all_get_the_same_answer(client, session) -> None:
    """Issue 19's attack with the limiter out of the way: every candidate ID, the victim's among them,
    is answered alike (status, body fields, headers), so the answers rebuild nothing."""
    owner_borrower = BorrowerFactory(farmer=True, id_number=VICTIM_ID, name="王秀英", region_code="360824")
    UserFactory(username="wang_xiuying", borrower_id=owner_borrower.id, phone="13907961111")
    session.flush()
    candidates = _candidates(VICTIM_ID[:6] + "*" * 8 + VICTIM_ID[-4:])
    assert VICTIM_ID in candidates
    answers = {c: _answer(client.post("/api/v1/register", json=_farmer_body(f"probe{n}", c)))
               for n, c in enumerate(candidates)}  # fmt: skip
    assert len(set(answers.values())) == 1, {c: a for c, a in answers.items() if a != answers[VICTIM_ID]}
    assert answers[VICTIM_ID][0] == 201 and answers[VICTIM_ID][2] == "sms_sent"


def test_a_registered_id_costs_the_same_rows_and_is_caught_at_verification(client, session) -> None:
    from core.models import OutgoingMessage, User
    from tests.portal.api_helpers import sms_code, snapshot

    owner_borrower = BorrowerFactory(farmer=True, id_number=VICTIM_ID, name="王秀英", region_code="360824")
    owner = UserFactory(username="wang_xiuying", borrower_id=owner_borrower.id, phone="13907961111")
    session.flush()
    fresh_first17 = "36082419800518039"
    fresh = fresh_first17 + id_check_char(fresh_first17)
    messages = ("outgoing_messages", "outbox_jobs")

    before = snapshot(session)
    dup = client.post("/api/v1/register", json=_farmer_body("probe_dup", VICTIM_ID))
    middle = snapshot(session)
    new = client.post("/api/v1/register", json=_farmer_body("probe_new", fresh))
    after = snapshot(session)

    assert _answer(dup) == _answer(new)
    # Fresh ids from the same sequences, one apart: nothing points at the existing record.
    assert new.get_json()["user_id"] == dup.get_json()["user_id"] + 1
    assert new.get_json()["borrower_id"] == dup.get_json()["borrower_id"] + 1
    grew_dup = {t: middle[t] - before[t] for t in before if t not in messages}
    grew_new = {t: after[t] - middle[t] for t in before if t not in messages}
    assert grew_dup == grew_new
    # The only extra row is the owner's notice, to the owner's phone (the caller never sees it).
    notices = session.query(OutgoingMessage).filter_by(user_id=owner.id).all()
    assert len(notices) == 1 and "有人正在用您的证件号码注册" in notices[0].body

    refused = client.post("/api/v1/register/verify",
                          json={"username": "probe_dup", "code": sms_code(client, "probe_dup")})  # fmt: skip
    assert refused.status_code == 422
    assert "该证件号码已有账户" in str(refused.get_json()["error"]["fields"])
    signed_in = client.post("/api/v1/auth/token", json={"username": "probe_dup", "password": PASSWORD})
    assert signed_in.status_code == 403
    assert not session.query(User).filter_by(username="probe_dup").one().phone_verified
    accepted = client.post("/api/v1/register/verify",
                           json={"username": "probe_new", "code": sms_code(client, "probe_new")})  # fmt: skip
    assert accepted.status_code == 200


def test_the_registration_page_answers_alike_for_a_registered_id(client, session) -> None:
    from tests.portal.test_web_accounts import registration

    owner_borrower = BorrowerFactory(farmer=True, id_number=VICTIM_ID, name="王秀英", region_code="360824")
    UserFactory(username="wang_xiuying", borrower_id=owner_borrower.id, phone="13907961111")
    session.flush()
    fresh_first17 = "36082419800518039"
    answers = []
    for name, id_number in (
        ("page_dup", VICTIM_ID),
        ("page_new", fresh_first17 + id_check_char(fresh_first17)),
    ):
        data = registration(username=name, kind="farmer", uscc="", id_number=id_number, name="某某")
        response = client.post("/register", data=data)
        page = client.get(response.headers.get("Location", "/register"))
        answers.append((response.status_code, response.headers.get("Location"), page.get_data(as_text=True)
                        .replace(name, "NAME")))  # fmt: skip
        client.post("/logout")
    assert answers[0] == answers[1]
    assert answers[0][0] == 302


def test_password_reset_confirm_answers_alike_for_a_known_and_an_unknown_phone(client, session) -> None:
    UserFactory(username="known_phone", phone="13907962222")
    session.flush()
    weak = "known_phone-2026-Ji'an"  # strong but built on the username
    answers = []
    for phone in ("13907962222", "13907963333"):
        response = client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"phone": phone, "code": "000000", "new_password": weak},
        )
        answers.append((response.status_code, response.get_json()))
    assert answers[0] == answers[1], answers


def test_a_registration_that_loses_the_race_for_its_id_is_answered_alike(session, monkeypatch) -> None:
    """Another registration took the ID between the check and the insert: still an ordinary answer."""
    from credit_profile import registration
    from credit_profile.borrowers import BorrowerInput

    BorrowerFactory(farmer=True, id_number=VICTIM_ID, region_code="360824")
    session.flush()
    monkeypatch.setattr(registration, "validate_borrower", lambda _session, _data: {})  # the check missed it
    data = BorrowerInput(
        kind="farmer", name="某某", region_code="360824", industry_code="A", id_number=VICTIM_ID
    )
    done = registration.register_applicant(
        session, data, username="late_racer", password=PASSWORD, phone="13907960000"
    )
    session.flush()
    assert done.borrower.id_number is None and registration.is_unidentified(done.borrower)
