"""Property tests of the USCC (GB 32100-2015) and resident ID (GB 11643-1999) validators and masking."""

from __future__ import annotations

import datetime as dt
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from core.identifiers import (
    IDENTIFIER_PATTERN,
    USCC_ALPHABET,
    id_check_char,
    is_valid_id_number,
    is_valid_uscc,
    normalize_code,
    uscc_check_char,
)
from core.masking import Personal, mask

DIGITS = string.digits
# Every character someone might type into an identifier field: ASCII letters and digits, both cases.
TYPED = string.ascii_uppercase + string.ascii_lowercase + string.digits


@st.composite
def usccs(draw: st.DrawFn) -> str:
    head = draw(st.text(USCC_ALPHABET, min_size=2, max_size=2))
    region = draw(st.text(DIGITS, min_size=6, max_size=6))
    body = draw(st.text(USCC_ALPHABET, min_size=9, max_size=9))
    first17 = head + region + body
    return first17 + uscc_check_char(first17)


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    region = draw(st.text(DIGITS, min_size=6, max_size=6))
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date.today()))
    sequence = draw(st.text(DIGITS, min_size=3, max_size=3))
    first17 = f"{region}{born:%Y%m%d}{sequence}"
    return first17 + id_check_char(first17)


def _single_changes(draw: st.DrawFn, value: str) -> str:
    position = draw(st.integers(0, len(value) - 1))
    replacement = draw(st.sampled_from(TYPED.upper()).filter(lambda c: c != value[position]))
    return value[:position] + replacement + value[position + 1 :]


def _full_width(draw: st.DrawFn, value: str) -> str:
    """The same code as typed on a phone: some characters full-width, some lower-case, stray spaces."""
    out = []
    for c in value:
        if c.isalpha() and draw(st.booleans()):
            c = c.lower()
        if draw(st.booleans()):
            c = chr(ord(c) + 0xFEE0)
        out.append(c)
        if draw(st.integers(0, 9)) == 0:
            out.append(draw(st.sampled_from([" ", "\u3000"])))
    return "".join(out)


@settings(max_examples=300)
@given(usccs())
def test_generated_usccs_are_valid_and_match_the_identifier_pattern(code):
    assert is_valid_uscc(code)
    assert IDENTIFIER_PATTERN.fullmatch(code)


@settings(max_examples=300)
@given(id_numbers())
def test_generated_id_numbers_are_valid_and_match_the_identifier_pattern(code):
    assert is_valid_id_number(code)
    assert IDENTIFIER_PATTERN.fullmatch(code)


@settings(max_examples=500)
@given(st.data(), usccs())
def test_any_single_character_change_of_a_uscc_fails(data, code):
    changed = _single_changes(data.draw, code)
    assert not is_valid_uscc(changed), (code, changed)


@settings(max_examples=500)
@given(st.data(), id_numbers())
def test_any_single_character_change_of_an_id_number_fails(data, code):
    changed = _single_changes(data.draw, code)
    assert not is_valid_id_number(changed), (code, changed)


@settings(max_examples=200)
@given(st.data(), usccs())
def test_full_width_and_lower_case_uscc_normalises(data, code):
    typed = _full_width(data.draw, code)
    assert normalize_code(typed) == code
    assert is_valid_uscc(normalize_code(typed))


@settings(max_examples=200)
@given(st.data(), id_numbers())
def test_full_width_id_number_normalises(data, code):
    typed = _full_width(data.draw, code)
    assert normalize_code(typed) == code
    assert is_valid_id_number(normalize_code(typed))


@settings(max_examples=200)
@given(st.one_of(usccs(), id_numbers()))
def test_masked_identifiers_no_longer_match_the_identifier_pattern(code):
    kind = Personal.ID_NUMBER if code[:17].isdigit() else Personal.USCC
    masked = mask(kind, code)
    assert masked is not None and len(masked) == len(code)
    assert masked[0] == code[0] and masked[-1] == code[-1]
    assert not IDENTIFIER_PATTERN.search(masked)


def test_future_birth_dates_and_wrong_lengths_fail():
    tomorrow_plus = dt.date.today() + dt.timedelta(days=400)
    first17 = f"360821{tomorrow_plus:%Y%m%d}001"
    assert not is_valid_id_number(first17 + id_check_char(first17))
    assert not is_valid_uscc("91360802MA35")
    assert not is_valid_id_number("36082119800101001")
