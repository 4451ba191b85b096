"""The base of every factory: rows go to the session `bind_factories` gave them, flushed at once so that
the database's constraints and triggers run as they do for the services' rows."""

from __future__ import annotations

import itertools

import factory
from sqlalchemy.orm import Session

from core.accounts import hash_password
from core.identifiers import id_check_char, uscc_check_char

_counter = itertools.count(1)
PASSWORD = "Passw0rd!demo"
PASSWORD_HASH = hash_password(PASSWORD)


def make_uscc(n: int | None = None) -> str:
    n = next(_counter) if n is None else n
    first17 = f"91360802{n:09d}"
    return first17 + uscc_check_char(first17)


def make_id_number(n: int | None = None) -> str:
    n = next(_counter) if n is None else n
    first17 = f"36082119800101{n % 1000:03d}"
    return first17 + id_check_char(first17)


class Base(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_persistence = "flush"


def _concrete(cls: type[Base]) -> list[type[Base]]:
    found = []
    for sub in cls.__subclasses__():
        if not sub._meta.abstract:
            found.append(sub)
        found.extend(_concrete(sub))
    return found


def bind_factories(session: Session) -> None:
    """Every factory writes to ``session`` from now on (the test's; or a committed world's own)."""
    for cls in _concrete(Base):
        cls._meta.sqlalchemy_session = session
