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
