"""Applicant registration: the account and its borrower record, one use case for the page and the API.

No oracle (issue 19, item 1; contract additions "Registration does not reveal whether an identifier is
already registered"). A registration whose resident ID or USCC is already registered is answered exactly
as a new one: the same checks run, a borrower row and an unverified account are written (the borrower
without the identifier, which stays with its holder, and with it as `pending_identifier`), a code is
texted to the caller's phone, and the answer is `sms_sent` with fresh ids. An owner whose phone is
verified is told by SMS instead. The duplicate surfaces only at phone verification, to whoever holds the
phone the code went to, so each probe costs a real phone and a text besides the register rate limit.

At that verification the first registration to prove its phone gets the identifier: if its holder is a
registration that never verified its phone and that nothing refers to (a typo in the number, a text that
never arrived, a person who gave up: credit_profile.retention.abandoned_registrations), the identifier
moves to the caller, the holder keeps it as its own `pending_identifier`, and both accounts get an event
in the audit trail (`identifier_claimed`, `identifier_released`). A holder that verified its phone, or
anything else, keeps it: the caller is refused with `identifier_taken` and the account never becomes
usable. Usernames stay refused when taken: a person must be able to choose one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.accounts import create_user
from core.errors import InvalidInputError
from core.events import NewEvent, record_events
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
from credit_profile.retention import abandoned_registrations

log = logging.getLogger(__name__)

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
        borrower = insert_borrower(session, unidentified, pending_identifier=identifier)
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
    # Only a verified phone is known to be the owner's, and only a verified account is unaffected, as
    # the notice says: an unverified holder may lose the identifier to the newcomer.
    column = Borrower.id_number if kind == BorrowerKind.FARMER else Borrower.uscc
    owners = session.scalars(
        select(User)
        .join(Borrower, Borrower.id == User.borrower_id)
        .where(
            column == identifier,
            User.active.is_(True),
            User.phone.is_not(None),
            User.phone_verified.is_(True),
        )
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

    Raises InvalidInputError(code=['invalid_code']) as that does. For a registration whose identifier
    was already registered, once the code is right: the identifier moves to it when its holder is an
    abandoned registration (see the module), else InvalidInputError(registration=['identifier_taken'])
    and the account stays unverified and can never sign in.
    """

    def admit(user: User) -> None:
        if user.borrower_id is not None:
            _claim_identifier(session, user)

    return verify_phone(session, username, code, admit=admit)


def _identifier_taken() -> InvalidInputError:
    return InvalidInputError({"registration": ["identifier_taken"]})


def _claim_identifier(session: Session, user: User) -> None:
    """Give the user's borrower its pending identifier, taken from an abandoned holder if need be, or
    raise `identifier_taken`.

    Rows are locked in the order the holder's own verification locks them (its borrower, then its
    account), so that of two verifications racing for one identifier the second sees what the first
    did: a holder that verified keeps it, and of two newcomers the second finds it taken.
    """
    borrower = session.get(Borrower, user.borrower_id, with_for_update=True, populate_existing=True)
    if borrower is None or not is_unidentified(borrower):
        return
    claimed = borrower.pending_identifier
    if claimed is None:  # written before identifiers could move
        raise _identifier_taken()
    field = identifier_field(borrower.kind)
    column = Borrower.id_number if borrower.kind == BorrowerKind.FARMER else Borrower.uscc
    holder = session.scalar(
        select(Borrower).where(column == claimed).with_for_update().execution_options(populate_existing=True)
    )
    released: int | None = None
    if holder is not None:
        # The account's lock re-reads phone_verified as committed by a verification that just ended
        # (the applicant's own, or staff's in person).
        locked = session.scalar(
            select(User.id)
            .where(User.borrower_id == holder.id, User.phone_verified.is_(False))
            .with_for_update()
        )
        abandoned = session.execute(abandoned_registrations().where(Borrower.id == holder.id)).first()
        if locked is None or abandoned is None:
            raise _identifier_taken()
        released = abandoned[0]
    try:
        with session.begin_nested():
            if holder is not None:
                setattr(holder, field, None)
                holder.pending_identifier = claimed
                session.flush()  # the unique index must see the holder without it first
            setattr(borrower, field, claimed)
            borrower.pending_identifier = None
            session.flush()
    except IntegrityError as exc:  # taken meanwhile by a registration that was not there to lock
        raise _identifier_taken() from exc
    if holder is None or released is None:
        return
    record_events(
        session,
        [
            NewEvent(
                entity_type="user",
                entity_id=user.id,
                to_status="identifier_claimed",
                actor_id=user.id,
                data={"borrower_id": borrower.id, "from_user_id": released, "from_borrower_id": holder.id},
            ),
            NewEvent(
                entity_type="user",
                entity_id=released,
                to_status="identifier_released",
                actor_id=user.id,
                data={"borrower_id": holder.id, "to_user_id": user.id, "to_borrower_id": borrower.id},
            ),
        ],
    )
    log.info(
        "user %d verified its phone and took the %s of user %d, a registration that never verified its "
        "phone (borrower %d -> %d)",
        user.id,
        field,
        released,
        holder.id,
        borrower.id,
    )
