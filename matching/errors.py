"""Errors raised by matching services."""

from __future__ import annotations

from core.errors import ConflictError, InvalidInputError, NotFoundError


class NeedNotFoundError(NotFoundError):
    code = "need_not_found"


class LeadNotFoundError(NotFoundError):
    code = "lead_not_found"


class NeedStateError(ConflictError):
    code = "invalid_need_state"


class AlreadyClaimedError(ConflictError):
    code = "already_claimed"


class IllegalTransitionError(ConflictError):
    code = "illegal_transition"


class NotClaimantError(ConflictError):
    """Only the officer who claimed a lead may move it on."""

    code = "not_claimant"


class LoanNotDisbursedError(ConflictError):
    """Performance can only be reported on a lead that ended in a disbursed loan."""

    code = "lead_not_disbursed"


class CorrectionWindowClosedError(ConflictError):
    """A loan may be corrected only within matching.loans.CORRECTION_DAYS of its disbursement."""

    code = "correction_window_closed"


class ImplausibleLoanError(InvalidInputError):
    """A loan's figures break a plausibility rule; ``fields["loan"]`` holds the rules' codes
    (matching.loans.plausibility_codes)."""

    code = "implausible_loan"


class DuplicateNeedError(ConflictError):
    """The applicant already has an open need of the same amount, term and collateral."""

    code = "duplicate_need"


class TooManyOpenNeedsError(ConflictError):
    """An applicant may have at most MAX_OPEN_NEEDS open needs at once."""

    code = "too_many_open_needs"


class NeedClaimedError(ConflictError):
    """A need can be edited only while no lead of it is claimed."""

    code = "need_claimed"
