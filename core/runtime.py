"""What background jobs run against: a session factory and settings, bound once per process.

The web app binds its own factory at start-up (jobs run in-process when no Redis is configured); the
worker command binds one before it starts; nothing builds either when a jobs module is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core import crypto, lanes
from core.settings import Settings


@dataclass
class _Runtime:
    factory: sessionmaker[Session] | None = None
    settings: Settings | None = None


_runtime = _Runtime()


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
def committing(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session of `factory`: committed when the block ends normally, rolled back otherwise."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def job_session() -> Iterator[Session]:
    """A session for one job: committed when the block ends normally, rolled back otherwise."""
    with committing(session_factory()) as session:
        yield session


@dataclass(frozen=True)
class Periodic:
    """A job run on a schedule, declared in its package's `jobs.py` (`PERIODIC`) under its `JOBS` name.

    `interval` is in seconds, `cron` a crontab line in UTC (rq.cron's croniter); with neither, the job
    runs every SWEEP_INTERVAL_SECONDS. With Redis, `flask cron` hands the declarations to rq's
    CronScheduler; without, the web process's worker thread runs the same ones on the same schedule.
    The function takes no arguments and must be idempotent.
    """

    name: str
    func: Callable[[], Any]
    interval: int | None = None
    cron: str | None = None

    def __post_init__(self) -> None:
        if self.interval is not None and self.cron is not None:
            raise ValueError(f"periodic job {self.name}: an interval or a cron line, not both")
