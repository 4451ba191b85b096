"""Usernames: one spelling per account, nothing that looks like another account.

A username is normalised to NFKC (full-width letters become ASCII) and must then consist of ASCII
letters, digits, `_`, `.`, `-` and CJK ideographs only. That refuses whitespace anywhere (`admin `),
invisible characters (zero-width spaces and joiners, the BOM, soft hyphens) and letters of other
scripts that mimic Latin ones (Cyrillic `а`, Greek `α`): the confusables of UTS #39 that matter here
are exactly those, since Latin and CJK ideographs do not mimic each other. Uniqueness ignores case, so
`Admin2` is taken once `admin2` exists: `users.username_key` holds `casefold_username` under a unique
index, so two sign-ups racing each other cannot both win. Sign-in looks a typed name up by the same key
after `typed_username` (NFKC, invisible characters and surrounding spaces dropped).
"""

from __future__ import annotations

import re
import unicodedata

from core.errors import InvalidInputError

MIN_LENGTH, MAX_LENGTH = 3, 64
_ALLOWED = re.compile(r"[A-Za-z0-9_.\-\u4e00-\u9fff\u3400-\u4dbf]+")


def normalize_username(value: str) -> str:
    """The username as stored. Raises InvalidInputError({"username": [code]}) with `invalid_username`
    (a character outside the allowed set) or `out_of_range` (length)."""
    name = unicodedata.normalize("NFKC", value or "")
    if not MIN_LENGTH <= len(name) <= MAX_LENGTH:
        raise InvalidInputError({"username": ["out_of_range"]})
    if not _ALLOWED.fullmatch(name):
        raise InvalidInputError({"username": ["invalid_username"]})
    return name


def typed_username(value: str) -> str | None:
    """What a person typed at sign-in (or to name a colleague), normalised as usernames are stored: NFKC,
    invisible (format) characters and surrounding whitespace dropped. None when what is left could not
    be anybody's username (empty, too long, a lone surrogate), so the caller looks nothing up.
    """
    text = unicodedata.normalize("NFKC", value or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip()
    # Length and characters are not judged here: accounts older than those rules keep signing in.
    if not text or len(text) > MAX_LENGTH or any(unicodedata.category(ch) == "Cs" for ch in text):
        return None
    return text


def casefold_username(value: str) -> str:
    """The key two usernames are compared by: equal keys are the same account name."""
    return unicodedata.normalize("NFKC", value).casefold()
