"""The pure loss waterfall: splits to the fen, tenor bands, the compensation cap, pro-rata recoveries."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guarantees.waterfall import (
    allocate,
    compute_loss,
    parse_shares,
    shares_for_term,
    split_loss,
    split_recovery,
)

SHARES_4321 = {"bank": D("0.20"), "guarantor": D("0.40"), "reguarantor": D("0.30"), "fund": D("0.10")}


def test_4321_split_to_the_fen_with_the_leftover_fens_to_the_largest_remainders() -> None:
    result = split_loss(D("777777.77"), SHARES_4321)
    # Exact shares 155555.554, 311111.108, 233333.331, 77777.777: two fens left after rounding down go
    # to the guarantor (.008) and the fund (.007).
    assert result.shares == {
        "bank": D("155555.55"),
        "guarantor": D("311111.11"),
        "reguarantor": D("233333.33"),
        "fund": D("77777.78"),
    }
    assert result.compensation == D("622222.22")
    assert result.claims == {"reguarantor": D("233333.33"), "fund": D("77777.78")}
    assert [line.label for line in result.lines][-1] == "compensation"


def test_the_compensation_cap_leaves_the_rest_with_the_bank() -> None:
    result = split_loss(D("1000000.00"), SHARES_4321, cap_headroom=D("100000.00"))
    assert result.compensation == D("100000.00")
    assert result.shares["bank"] == D("900000.00")
    # The headroom is shared by the guarantee side in its own proportions 4:3:1.
    assert result.shares["guarantor"] == D("50000.00")
    assert result.shares["reguarantor"] == D("37500.00")
    assert result.shares["fund"] == D("12500.00")


def test_tenor_bands_pick_the_first_that_fits() -> None:
    bands = [
        {"up_to_months": 36, "shares": {"bank": "0.7", "fund": "0.3"}},
        {"up_to_months": 60, "shares": {"bank": "0.65", "fund": "0.35"}},
        {"shares": {"bank": "0.6", "fund": "0.4"}},
    ]
    assert shares_for_term({"bank": "1"}, bands, 12)["fund"] == D("0.3")
    assert shares_for_term({"bank": "1"}, bands, 48)["fund"] == D("0.35")
    assert shares_for_term({"bank": "1"}, bands, 84)["fund"] == D("0.4")
    assert shares_for_term({"bank": "1"}, [], 84) == {"bank": D("1")}


def test_shares_must_sum_to_one() -> None:
    with pytest.raises(ValueError):
        parse_shares({"bank": "0.2", "guarantor": "0.7"})


def test_loss_after_collateral_with_or_without_interest() -> None:
    assert compute_loss(D("800000"), D("12345.67"), D("100000"), covers_interest=False) == D("700000.00")
    assert compute_loss(D("800000"), D("12345.67"), D("100000"), covers_interest=True) == D("712345.67")
    assert compute_loss(D("1000"), D("0"), D("5000"), covers_interest=False) == D("0.00")


fens = st.integers(min_value=0, max_value=10**12).map(lambda n: D(n) / 100)
weights = st.dictionaries(
    st.sampled_from(["bank", "guarantor", "reguarantor", "fund", "government"]),
    st.integers(min_value=0, max_value=100),
    min_size=1,
).filter(lambda w: sum(w.values()) > 0)


@given(loss=fens, raw=weights, headroom=st.none() | fens)
def test_shares_always_sum_to_the_loss(loss: D, raw: dict[str, int], headroom: D | None) -> None:
    total = sum(raw.values())
    shares = {p: D(v) / D(total) for p, v in raw.items()}
    # Shares of an irrational-looking split (1/3) are not exact decimals: normalise the last one.
    last = sorted(shares)[-1]
    shares[last] = D(1) - sum(v for p, v in shares.items() if p != last)
    result = split_loss(loss, shares, cap_headroom=headroom)
    assert sum(result.shares.values()) == loss
    assert all(v >= 0 and v == v.quantize(D("0.01")) for v in result.shares.values())
    assert result.compensation == loss - result.shares.get("bank", D(0))
    if headroom is not None:
        assert result.compensation <= max(headroom, D(0))


@given(
    borne=st.dictionaries(st.sampled_from(["bank", "guarantor", "reguarantor", "fund"]), fens, min_size=1),
    recoveries=st.lists(fens, max_size=6),
)
def test_recoveries_never_return_more_than_was_paid(borne: dict[str, D], recoveries: list[D]) -> None:
    returned: dict[str, D] = {}
    for amount in recoveries:
        split = split_recovery(amount, borne, returned)
        assert sum(split.values()) <= amount
        for party, value in split.items():
            assert value >= 0
            returned[party] = returned.get(party, D(0)) + value
        assert all(returned[p] <= borne[p] for p in borne)
        # Everything recovered is handed back while any party is still short.
        assert sum(split.values()) == min(
            amount, sum(borne.values()) - (sum(returned.values()) - sum(split.values()))
        )


@given(total=fens, raw=weights)
def test_allocate_is_exact(total: D, raw: dict[str, int]) -> None:
    assert sum(allocate(total, {p: D(v) for p, v in raw.items()}).values()) == total
