"""Masks for personal financial information shown to anyone but its subject (JR/T 0171-2020, annex A).

One function, `mask`, for every response, page, export, report and alert. What stays visible is chosen
so that the remaining characters plus any public answer cannot rebuild the value: a resident ID keeps
its first and last characters only (region, birth date and sequence all hidden: tens of millions of
candidates, where keeping the first 6 and last 4 left only the birth date, about 34 candidates once the
birth year is known and the check digit applied); a natural person's name loses its first character
(the surname); a mobile number keeps the first 3 and last 4 digits. A unified social credit code names
an organisation in a public register and keeps its first 6 and last 4 characters. A bank card or
payment account number keeps its first 6 (the issuer's BIN, public) and last 4 digits.

Source. JR/T 0171-2020《个人金融信息保护技术规范》 (PBoC, 2020-02-13) puts display masking in its
annex A, 「附录A（资料性附录）信息屏蔽」: an informative annex, i.e. examples, not binding positions (table
of contents as published, e.g. https://web.tlawyer.cn/article/a55ba55da50bb414.html). The annex's own
text could not be retrieved from the sources available when this was written (December 2026), so the
positions kept here are the stricter of (a) the common practice it is usually quoted for in the
industry (bank card 6 + 4, mobile 3 + 4, resident ID 1 + 1 as e.g. Alipay's open-platform display rules
publish them, name without the surname) and (b) what the attack test in tests/portal/test_personal_data.py
requires: the digits left plus any public answer must not narrow an ID to a guessable set. Where a
reader of the annex finds a rule that keeps fewer characters, follow the annex; never keep more.
"""

from __future__ import annotations

import enum


class Personal(enum.StrEnum):
    ID_NUMBER = "id_number"
    USCC = "uscc"
    NAME = "name"
    PHONE = "phone"
    BANK_CARD = "bank_card"


# kind -> (characters kept at the start, characters kept at the end)
_KEPT: dict[Personal, tuple[int, int]] = {
    Personal.ID_NUMBER: (1, 1),
    Personal.USCC: (6, 4),
    Personal.PHONE: (3, 4),
    Personal.BANK_CARD: (6, 4),
    Personal.NAME: (0, -1),  # all but the first character
}


def mask(kind: Personal | str, value: str | None) -> str | None:
    """`value` masked as its kind requires; None and "" unchanged. Raises ValueError for an unknown kind."""
    if not value:
        return value
    head, tail = _KEPT[Personal(kind)]
    if tail < 0:  # a name: hide the first character, keep the rest (张三丰 -> *三丰, 李四 -> *四)
        return "*" + value[1:] if len(value) > 1 else "*"
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + (value[-tail:] if tail else "")


def borrower_name(name: str, *, is_person: bool) -> str:
    """A borrower's name as shown to others: a farmer's (a natural person's) masked, a firm's as is."""
    return (mask(Personal.NAME, name) or "") if is_person else name
