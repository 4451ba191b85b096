"""Mainland China mobile numbers, validated with the phonenumbers library (Google's libphonenumber data).

An account's phone receives SMS (verification codes, lead notices), so only a mobile number of the
mainland's numbering plan is accepted: full-width digits, spaces, hyphens and a +86 prefix are folded
away and the 11-digit national number is stored; `00000000000`, landlines and other countries refused.
"""

from __future__ import annotations

import unicodedata

import phonenumbers
from phonenumbers import PhoneNumberType

from core.errors import InvalidInputError

_MOBILE = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
MAX_TYPED = 32


def normalize_mobile(value: str) -> str:
    """The 11 ASCII digits of a mainland mobile number typed in any common way.

    Raises InvalidInputError({"phone": ["invalid_phone"]}) for anything else.
    """
    typed = unicodedata.normalize("NFKC", value or "").strip()
    if not typed or len(typed) > MAX_TYPED:
        raise InvalidInputError({"phone": ["invalid_phone"]})
    try:
        number = phonenumbers.parse(typed, "CN")
    except phonenumbers.NumberParseException as exc:
        raise InvalidInputError({"phone": ["invalid_phone"]}) from exc
    if (
        number.country_code != 86
        or not phonenumbers.is_valid_number_for_region(number, "CN")
        or phonenumbers.number_type(number) not in _MOBILE
    ):
        raise InvalidInputError({"phone": ["invalid_phone"]})
    return str(number.national_number)
