"""Chinese identifier checks (GB 32100-2015 USCC, GB 11643-1999 resident ID) and masking."""

from __future__ import annotations

import datetime as dt
import re

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
# Bounded by anything but a letter or digit: eighteen digits inside a hex digest (a token's hash, a blind
# index) are not an identifier, and the log scans must not take them for one.
IDENTIFIER_PATTERN = re.compile(r"(?<![0-9A-Za-z])[0-9A-Z]{17}[0-9A-Z](?![0-9A-Za-z])")


def normalize_code(value: str) -> str:
    """Upper-case, strip spaces and fold full-width ASCII (common when typed on a phone)."""
    folded = "".join(chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c for c in value)
    return folded.replace(" ", "").replace("\u3000", "").strip().upper()


# C0 controls but tab and newlines, DEL, C1 controls, and the bidirectional embeddings, overrides and
# isolates: text that could hide or reorder what another user reads (a name shown reversed).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def has_control_characters(value: str) -> bool:
    """Whether user text holds a control or text-direction character (refused in every field)."""
    return _CONTROL.search(value) is not None


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(value: str) -> bool:
    """True when value is an 18-character unified social credit code with a correct check character."""
    if not _USCC_SHAPE.match(value):
        return False
    return uscc_check_char(value[:17]) == value[17]


def id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def is_valid_id_number(value: str) -> bool:
    """True for an 18-digit resident ID whose birth date exists and whose check digit is right."""
    if not _ID_SHAPE.match(value):
        return False
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1):
        return False
    return id_check_char(value[:17]) == value[17]
