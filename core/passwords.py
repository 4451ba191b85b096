"""How strong a password is: length, a maintained strength estimator (zxcvbn), never the username."""

from __future__ import annotations

from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 8
# zxcvbn's score 0-4; 2 is "somewhat guessable: protection from unthrottled online attacks". Common
# passwords, keyboard walks, dates, repeats and dictionary words with digits score below it.
MIN_SCORE = 2
# zxcvbn's time grows with the length; what lies past this many characters only makes it stronger.
_ESTIMATED_PREFIX = 64


def check_password_strength(password: str, *, username: str | None = None) -> list[str]:
    """Error codes for a password that is too weak: `too_short`, `contains_username`, `too_simple`."""
    errors = []
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append("too_short")
    if username and username.casefold() in password.casefold():
        errors.append("contains_username")
    elif len(password) >= MIN_PASSWORD_LENGTH:
        inputs = [username] if username else []
        if zxcvbn(password[:_ESTIMATED_PREFIX], user_inputs=inputs)["score"] < MIN_SCORE:
            errors.append("too_simple")
    return errors
