"""What background jobs run against: a session factory and settings, bound once per process.

The web app binds its own factory at start-up (jobs run in-process when no Redis is configured); the
worker command binds one before it starts; nothing builds either when a jobs module is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from core import crypto, lanes
from core.settings import Settings


@dataclass
class _Runtime:
    factory: sessionmaker[Session] | None = None
    settings: Settings | None = None


_runtime = _Runtime()
F = TypeVar("F", bound=Callable[..., Any])


def bind(factory: sessionmaker[Session], settings: Settings) -> None:
    """Bind the session factory and settings, and install the data keys (core.crypto) and the number of
    statistics lanes (core.lanes).

    Raises crypto.DataKeyError when the settings carry no usable data key.
    """
    crypto.configure(settings.data_keys)
    lanes.configure(settings.stats_lanes)
    _runtime.factory = factory
    _runtime.settings = settings


def session_factory() -> sessionmaker[Session]:
    """The bound session factory. Raises RuntimeError when nothing was bound."""
    if _runtime.factory is None:
        raise RuntimeError("job runtime not bound; call core.runtime.bind() first")
    return _runtime.factory


def settings() -> Settings:
    """The bound settings. Raises RuntimeError when nothing was bound."""
    if _runtime.settings is None:
        raise RuntimeError("job runtime not bound; call core.runtime.bind() first")
    return _runtime.settings


@contextmanager
def job_session() -> Iterator[Session]:
    """A session for one job: committed when the block ends normally, rolled back otherwise."""
    if _runtime.factory is None:
        raise RuntimeError("job runtime not bound; call core.runtime.bind() first")
    session = _runtime.factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def periodic(func: F) -> F:
    """Mark a job as periodic: run every SWEEP_INTERVAL_SECONDS, with no arguments.

    The rq worker's scheduler runs it (one job per period, whatever the number of workers), or the
    embedded loop when no Redis is configured. It must be idempotent.
    """
    func.periodic = True  # type: ignore[attr-defined]
    return func


def is_periodic(func: Callable[..., Any]) -> bool:
    return getattr(func, "periodic", False) is True
