"""The loss waterfall: who bears what of a covered loss, who pays whom, and what each payer gets back
from recoveries. Pure computation on Decimal yuan, to the fen; no I/O.

Shares are split by the largest-remainder method, so the parts always add up to the whole to the fen:
each party first gets its exact share rounded down to the fen, and the fens left over go one by one to
the parties with the largest remainders (ties in the order of `PARTY_ORDER`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
ONE = Decimal(1)
PARTY_ORDER = ("bank", "guarantor", "reguarantor", "fund", "government")


def _order(party: str) -> tuple[int, str]:
    return (PARTY_ORDER.index(party) if party in PARTY_ORDER else len(PARTY_ORDER), party)


def parse_shares(raw: Mapping[str, Any]) -> dict[str, Decimal]:
    """Shares as Decimals; raises ValueError unless each is in [0, 1] and they sum to exactly 1."""
    shares = {party: Decimal(str(value)) for party, value in raw.items()}
    if not shares or any(not ZERO <= s <= ONE for s in shares.values()) or sum(shares.values()) != ONE:
        raise ValueError("loss shares must be between 0 and 1 and sum to 1")
    return shares


def shares_for_term(
    loss_shares: Mapping[str, Any], tenor_bands: Sequence[Mapping[str, Any]], term_months: int
) -> dict[str, Decimal]:
    """The scheme's shares for a loan of this term: the first tenor band with `up_to_months` at or above
    the term (a band without `up_to_months` fits every term), else the scheme's plain shares."""
    for band in tenor_bands:
        limit = band.get("up_to_months")
        if limit is None or term_months <= int(limit):
            return parse_shares(band["shares"])
    return parse_shares(loss_shares)


def allocate(total: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """`total` (to the fen) split in proportion to `weights`, the parts summing to `total` exactly."""
    total = total.quantize(CENT)
    weight_sum = sum(weights.values(), ZERO)
    if total == ZERO or weight_sum == ZERO:
        return dict.fromkeys(weights, ZERO)
    exact = {party: total * w / weight_sum for party, w in weights.items()}
    parts = {party: value.quantize(CENT, rounding=ROUND_DOWN) for party, value in exact.items()}
    left = int((total - sum(parts.values(), ZERO)) / CENT)
    by_remainder = sorted(weights, key=lambda p: (-(exact[p] - parts[p]), _order(p)))
    for party in by_remainder[:left]:
        parts[party] += CENT
    return parts


@dataclass(frozen=True)
class Line:
    """One line of the arithmetic shown with the waterfall: a label code, the formula and the result."""

    label: str
    formula: str
    amount: Decimal

    def as_json(self) -> dict[str, str]:
        return {"label": self.label, "formula": self.formula, "amount": str(self.amount)}


@dataclass(frozen=True)
class Waterfall:
    """Each party's share of the loss, what the guarantor pays the bank (代偿), what it claims from each
    party above it, and the arithmetic."""

    loss: Decimal
    shares: dict[str, Decimal]
    # What the guarantee side pays the bank: everything but the bank's own share.
    compensation: Decimal
    # What each party above the primary payer owes it back (re-guarantor, fund, government).
    claims: dict[str, Decimal]
    lines: tuple[Line, ...]


def compute_loss(
    principal: Decimal, interest: Decimal, collateral_realised: Decimal, *, covers_interest: bool
) -> Decimal:
    """The covered loss: unpaid principal (and interest when the scheme covers it) less what the bank
    realised from collateral first, never below zero."""
    base = principal + (interest if covers_interest else ZERO)
    return max(ZERO, (base - collateral_realised).quantize(CENT))


def split_loss(
    loss: Decimal,
    shares: Mapping[str, Decimal],
    *,
    primary: str = "guarantor",
    cap_headroom: Decimal | None = None,
) -> Waterfall:
    """Split a covered loss among the parties.

    `primary` is the party that pays the bank first (the guarantor, or the fund when there is no
    guarantor) and then claims from the others. `cap_headroom` is what the guarantee side may still pay
    under the scheme's compensation cap for this bank's portfolio: beyond it the bank bears the rest.
    """
    lines = [Line("loss", f"{loss}", loss)]
    parts = allocate(loss, shares)
    for party in sorted(parts, key=_order):
        lines.append(Line(f"share_{party}", f"{loss} × {shares[party]}", parts[party]))
    guarantee_side = {p: a for p, a in parts.items() if p != "bank"}
    side_total = sum(guarantee_side.values(), ZERO)
    if cap_headroom is not None and side_total > max(cap_headroom, ZERO):
        allowed = max(cap_headroom, ZERO).quantize(CENT)
        weights = {p: shares[p] for p in guarantee_side}
        capped = allocate(allowed, weights)
        lines.append(Line("cap", f"{side_total} → {allowed}", allowed))
        for party, amount in capped.items():
            lines.append(
                Line(f"capped_{party}", f"{allowed} × {shares[party]} ÷ {sum(weights.values())}", amount)
            )
        parts = {**parts, **capped, "bank": loss - allowed}
        lines.append(Line("share_bank", f"{loss} − {allowed}", parts["bank"]))
        side_total = allowed
    lines.append(
        Line(
            "compensation",
            " + ".join(str(parts[p]) for p in sorted(guarantee_side, key=_order)) or "0",
            side_total,
        )
    )
    payer = (
        primary if primary in parts else next((p for p in sorted(parts, key=_order) if p != "bank"), primary)
    )
    claims = {p: parts[p] for p in sorted(guarantee_side, key=_order) if p != payer and parts[p] > ZERO}
    return Waterfall(loss, parts, side_total, claims, tuple(lines))


def split_recovery(
    amount: Decimal, borne: Mapping[str, Decimal], returned: Mapping[str, Decimal]
) -> dict[str, Decimal]:
    """A recovery returned to each party pro rata to what it bore, never more than it has still to get
    back (`borne` less what earlier recoveries `returned`); money beyond every party's loss is not split
    (it is the borrower's). Raises ValueError for a negative amount."""
    if amount < ZERO:
        raise ValueError("negative recovery")
    outstanding = {p: max(ZERO, borne[p] - returned.get(p, ZERO)) for p in borne}
    usable = min(amount.quantize(CENT), sum(outstanding.values(), ZERO))
    split = allocate(usable, outstanding)
    return {p: min(split[p], outstanding[p]) for p in borne}
