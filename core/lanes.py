"""Read-only statements of one request run side by side, all reading the same committed state.

A statistics page is a handful of independent aggregate statements (needs, leads, loans, borrowers),
each one scan of a year of rows. PostgreSQL runs one statement on one core; run one after another they
take the sum of their times. `in_lanes` runs them at once, each on a connection of its own, and every
connection reads exactly the snapshot of the caller's transaction (`pg_export_snapshot()`, imported
with `SET TRANSACTION SNAPSHOT` into a REPEATABLE READ, READ ONLY transaction): the figures are as
consistent with each other as if one transaction had run them all, and a commit made meanwhile is in
none of them.

Where that cannot hold, the tasks run one after another on the caller's own session, with the same
results: on SQLite, inside a lane, and once the caller's transaction has written (its own uncommitted
rows are invisible to any other connection; the tests' rolled-back transactions are such).

Each process keeps as many worker threads and connections as there are lanes (the STATS_LANES setting,
default 3, bound by `configure` with the rest of the settings), created on first use (after a fork, so
never shared between processes). A request waits for a free lane rather than open more. With
STATS_LANES=1 (or 0) no lane is opened: every task runs one after another on the caller's session.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.db import make_engine, transaction_has_written

LANES = 3  # the default of the STATS_LANES setting
# pg_export_snapshot() names a snapshot as hexadecimal groups; nothing else is ever interpolated.
_SNAPSHOT_NAME = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")
IN_LANE = "in_lane"

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_executor: ThreadPoolExecutor | None = None
_pid: int | None = None
_lanes = LANES


def configure(lanes: int) -> None:
    """Run at most `lanes` statements side by side from now on; 1 or less: none (one after another)."""
    global _lanes, _executor
    if lanes == _lanes:
        return
    dispose()
    with _lock:
        _lanes = lanes
        if _executor is not None:
            _executor.shutdown(wait=False)
        _executor = None


def in_lanes(
    session: Session,
    tasks: Sequence[Callable[[Session], Any]],
    *,
    prepare: Callable[[Session], None] | None = None,
) -> list[Any]:
    """The results of `tasks`, in their order, each called with a session that reads the committed
    state `session` reads; side by side where PostgreSQL allows it (see the module), else one after
    another on `session` itself. `prepare` is called on each lane's session before its task (settings
    local to that transaction). A task's exception is raised here after every task has ended.
    """
    snapshot = _exported_snapshot(session) if len(tasks) > 1 and _lanes > 1 else None
    if snapshot is None:
        return [task(session) for task in tasks]
    engine = _lane_engine(session.get_bind())
    executor = _lane_executor()

    def run(task: Callable[[Session], Any]) -> Any:
        with engine.connect() as connection:
            connection.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            with Session(bind=connection) as lane:
                lane.info[IN_LANE] = True
                if prepare is not None:
                    prepare(lane)
                return task(lane)

    futures: list[Future[Any]] = [executor.submit(run, task) for task in tasks]
    # Every lane is waited for before anything is raised: the exported snapshot lives only as long as
    # this transaction, which the caller may end as soon as this returns.
    errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
    return [f.result() for f in futures]


def _exported_snapshot(session: Session) -> str | None:
    """The name of the snapshot `session` reads, exported for other connections; None where lanes
    cannot read it (see the module)."""
    if session.info.get(IN_LANE) or session.get_bind().dialect.name != "postgresql":
        return None
    if session.scalar(select(transaction_has_written())):
        return None
    name = session.scalar(text("SELECT pg_export_snapshot()"))
    return name if isinstance(name, str) and _SNAPSHOT_NAME.fullmatch(name) else None


def _lane_engine(bind: Any) -> Engine:
    url = bind.engine.url.render_as_string(hide_password=False)
    _forget_after_fork()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = make_engine(
                url,
                pool_size=_lanes,
                max_overflow=0,
                isolation_level="REPEATABLE READ",
                execution_options={"postgresql_readonly": True},
            )
            _engines[url] = engine
    return engine


def _lane_executor() -> ThreadPoolExecutor:
    global _executor
    _forget_after_fork()
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=_lanes, thread_name_prefix="lane")
        return _executor


def _forget_after_fork() -> None:
    """A forked process (a gunicorn or rq worker) builds its own threads and connections."""
    global _executor, _pid
    with _lock:
        if _pid != os.getpid():
            _pid = os.getpid()
            _executor = None
            _engines.clear()


def dispose() -> None:
    """Close this process's lane connections (tests, and a process that is about to exit)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
