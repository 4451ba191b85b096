"""Password strength: length, the zxcvbn estimator, never the username."""

from __future__ import annotations

import pytest

from core.passwords import check_password_strength


@pytest.mark.parametrize(
    ("password", "username", "codes"),
    [
        ("short1!", None, ["too_short"]),
        ("password", None, ["too_simple"]),
        ("12345678", None, ["too_simple"]),
        ("qwertyuiop", None, ["too_simple"]),
        ("jiazhang2026!", "jiazhang", ["contains_username"]),
        ("JiaZhang-2026", "jiazhang", ["contains_username"]),
        ("Ganjiang-river-77", "jiazhang", []),
        ("井冈山的杜鹃花开了", None, []),
    ],
)
def test_strength(password, username, codes):
    assert check_password_strength(password, username=username) == codes


def test_a_very_long_password_is_judged_quickly_and_accepted():
    assert check_password_strength("Ganjiang-river-77" * 1000) == []
