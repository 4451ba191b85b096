"""Mainland mobile numbers, validated with phonenumbers wherever an account gets a phone."""

from __future__ import annotations

import pytest

from core.accounts import create_user
from core.errors import InvalidInputError
from core.phones import normalize_mobile


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("13907960000", "13907960000"),
        ("１３９０７９６００００", "13907960000"),  # full-width digits, as typed on a phone
        ("+86 139 0796 0000", "13907960000"),
        ("139-0796-0000", "13907960000"),
        ("19912345678", "19912345678"),
    ],
)
def test_mobile_numbers_are_stored_as_eleven_ascii_digits(typed, stored) -> None:
    assert normalize_mobile(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["00000000000", "12345678901", "10000000000", "079612345678", "0796-8221234", "1390796000", "abc", "",
     "+1 202 555 0143", "1390796000０0"],
)  # fmt: skip
def test_anything_but_a_mainland_mobile_number_is_refused(typed) -> None:
    with pytest.raises(InvalidInputError) as caught:
        normalize_mobile(typed)
    assert caught.value.fields == {"phone": ["invalid_phone"]}


def test_create_user_refuses_a_bad_phone_and_stores_a_good_one_normalised(session) -> None:
    with pytest.raises(InvalidInputError):
        create_user(session, username="phone_a", password="Ji'an-2026-ok", role="admin", phone="00000000000")
    user = create_user(
        session, username="phone_b", password="Ji'an-2026-ok", role="admin", phone="１３９０７９６００００"
    )
    assert user.phone == "13907960000"
