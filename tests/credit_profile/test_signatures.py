"""Provider signatures: a timestamp ahead of the clock by more than a small skew is refused, and a
signature is remembered for as long as it could be accepted, so it can never be replayed."""

from __future__ import annotations

import datetime as dt

import pytest

from credit_profile import ingestion
from credit_profile.errors import SignatureError
from credit_profile.ingestion import (
    FUTURE_SKEW_SECONDS,
    SIGNATURE_MAX_AGE_SECONDS,
    create_provider,
    sign,
    verify_provider,
)

T0 = dt.datetime(2026, 12, 7, 2, 0, 0, tzinfo=dt.UTC)
BODY = b'{"records": []}'


@pytest.fixture
def provider(session):
    return create_provider(session, name="国网吉安供电公司", source="electricity")


def _at(monkeypatch, moment: dt.datetime) -> None:
    monkeypatch.setattr(ingestion, "utcnow", lambda: moment)


def _send(session, provider, timestamp: int):
    row, secret = provider
    stamp = str(timestamp)
    return verify_provider(
        session, key=row.key, timestamp=stamp, signature=sign(secret, stamp, BODY), body=BODY,
        source="electricity",
    )  # fmt: skip


def test_a_timestamp_beyond_the_future_skew_is_refused(session, provider, monkeypatch) -> None:
    assert FUTURE_SKEW_SECONDS <= 60
    _at(monkeypatch, T0)
    now = int(T0.timestamp())
    with pytest.raises(SignatureError):
        _send(session, provider, now + 300)
    with pytest.raises(SignatureError):
        _send(session, provider, now + FUTURE_SKEW_SECONDS + 1)
    assert _send(session, provider, now + FUTURE_SKEW_SECONDS)


@pytest.mark.parametrize("ahead", [0, FUTURE_SKEW_SECONDS])
def test_a_signature_is_never_accepted_twice_while_its_timestamp_is_fresh(
    session, provider, monkeypatch, ahead
) -> None:
    stamp = int(T0.timestamp()) + ahead
    _at(monkeypatch, T0)
    assert _send(session, provider, stamp)
    # Every half second until the timestamp is stale: each replay refused, never purged too early.
    for half_seconds in range(1, 2 * (SIGNATURE_MAX_AGE_SECONDS + FUTURE_SKEW_SECONDS + 3)):
        _at(monkeypatch, T0 + dt.timedelta(seconds=half_seconds / 2))
        with pytest.raises(SignatureError):
            _send(session, provider, stamp)
