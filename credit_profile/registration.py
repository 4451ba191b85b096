"""Applicant registration: the account and its borrower record, one use case for the page and the API.

No oracle (issue 19, item 1; contract additions "Registration does not reveal whether an identifier is
already registered"). A registration whose resident ID or USCC is already registered is answered exactly
as a new one: the same checks run, a borrower row and an unverified account are written (the borrower
without the identifier, which stays with its owner), a code is texted to the caller's phone, and the
answer is `sms_sent` with fresh ids. The owner of the existing record is told by SMS instead. The
duplicate surfaces only at phone verification, to whoever holds the phone the code went to, so each
probe costs a real phone and a text besides the register rate limit; the account never becomes usable.
Usernames stay refused when taken: a person must be able to choose one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import create_user
from core.errors import InvalidInputError
from core.i18n import N_
from core.models import Role, User
from core.notifications import NewMessage, queue_messages
from core.passwords import check_password_strength
from core.phones import normalize_mobile
from core.usernames import normalize_username
from core.verification import PHONE, send_code, verify_phone
from credit_profile.borrowers import (
    BorrowerInput,
    identifier_field,
    insert_borrower,
    normalize_identifiers,
    validate_borrower,
)
from credit_profile.models import Borrower, BorrowerKind

OWNER_NOTICE = N_(
    "【吉惠通】有人正在用您的证件号码注册吉惠通账户，未获通过。如非您本人操作，请忽略本短信，"
    "您的账户不受影响；如有疑问，请到当地金融服务大厅咨询。"
)


class BorrowerInputError(InvalidInputError):
    """The borrower part of a registration is invalid (its fields, unprefixed)."""


@dataclass(frozen=True)
class Registration:
    user: User
    borrower: Borrower


def register_applicant(
    session: Session, data: BorrowerInput, *, username: str, password: str, phone: str
) -> Registration:
    """Register an applicant and their borrower record and text them a verification code.

    The answer is the same whether or not the identifier is registered (see the module). Raises
    InvalidInputError for the username (`taken`, `invalid_username`, ...), phone or password, and
    BorrowerInputError for the borrower's fields (an identifier already registered is not an error).
    """
    normalize_username(username)
    normalize_mobile(phone)
    weak = check_password_strength(password, username=username)
    if weak:
        raise InvalidInputError({"password": weak})
    normalize_identifiers(data)
    errors = validate_borrower(session, data)
    field = identifier_field(data.kind)
    taken = errors.get(field) == ["taken"]
    if taken:
        del errors[field]
    if errors:
        raise BorrowerInputError(errors)
    identifier = data.id_number if data.kind == BorrowerKind.FARMER else data.uscc
    if not taken:
        try:
            borrower = insert_borrower(session, data)
        except InvalidInputError:
            taken = True  # a concurrent registration took it first: answer as for any other duplicate
    if taken:
        unidentified = BorrowerInput(**{**data.__dict__, "uscc": None, "id_number": None})
        borrower = insert_borrower(session, unidentified)
    user = create_user(
        session,
        username=username,
        password=password,
        role=Role.APPLICANT,
        phone=phone,
        borrower_id=borrower.id,
        phone_verified=False,
    )
    send_code(session, user, PHONE)
    if taken and identifier:
        _notify_owners(session, data.kind, identifier, newcomer=user)
    return Registration(user=user, borrower=borrower)


def _notify_owners(session: Session, kind: str, identifier: str, *, newcomer: User) -> None:
    column = Borrower.id_number if kind == BorrowerKind.FARMER else Borrower.uscc
    owners = session.scalars(
        select(User)
        .join(Borrower, Borrower.id == User.borrower_id)
        .where(column == identifier, User.active.is_(True), User.phone.is_not(None))
    ).all()
    queue_messages(
        session,
        [
            NewMessage(
                channel="sms",
                to=owner.phone or "",
                body=OWNER_NOTICE,
                dedup_key=f"registration-notice:{newcomer.id}:{owner.id}",
                user_id=owner.id,
            )
            for owner in owners
        ],
    )


def is_unidentified(borrower: Borrower) -> bool:
    """A borrower written for a registration whose identifier was already registered."""
    return (borrower.id_number if borrower.kind == BorrowerKind.FARMER else borrower.uscc) is None


def verify_applicant_phone(session: Session, username: str, code: str) -> User:
    """Verify the applicant's phone with the texted code (core.verification.verify_phone).

    Raises InvalidInputError(code=['invalid_code']) as that does, and, for a registration whose
    identifier was already registered, InvalidInputError(registration=['identifier_taken']) once the
    code is right: the account stays unverified and can never sign in.
    """

    def admit(user: User) -> None:
        borrower = session.get(Borrower, user.borrower_id) if user.borrower_id else None
        if borrower is not None and is_unidentified(borrower):
            raise InvalidInputError({"registration": ["identifier_taken"]})

    return verify_phone(session, username, code, admit=admit)
