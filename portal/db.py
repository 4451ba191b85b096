"""The request's SQLAlchemy session, and its one commit, made by the portal rather than by the views.

`end_transaction` (the first `after_request` hook to run) ends every request's transaction, as indico's
`RH.process` does: a response below 400 commits, an error response (raised and handled, or returned)
rolls back, so a view that wrote and then failed leaves nothing half-written. It commits before the
response leaves: a commit that fails (the connection lost, a constraint only the commit checks)
replaces the response with the error response its exception maps to. After the commit the outbox is
handed on (when the request wrote), and what was deferred with `after_commit` runs (success messages).

Two cases a view states by name, because the status alone would get them wrong:

- `keep_on_error()`: the request's writes must survive its error response (a refused read of a
  credit profile is itself a use of the consent that the borrower must be able to see);
- `mark_failed()`: the view answers a failure with a redirect (a flashed conflict), whose status
  would otherwise commit; its writes are rolled back like an error response's.

A streamed body is produced after the commit: it may read, never write. CLI commands have no request
and commit with `commit()` themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

log = logging.getLogger(__name__)
WROTE = "jihuitong.wrote"


def session_factory() -> sessionmaker[Session]:
    factory: sessionmaker[Session] = current_app.extensions["jihuitong.session_factory"]
    return factory


def db() -> Session:
    """The request's session, opened on first use."""
    if "db_session" not in g:
        opened = session_factory()()
        event.listen(opened, "after_flush", _flushed)
        event.listen(opened, "do_orm_execute", _executed)
        g.db_session = opened
    session: Session = g.db_session
    return session


def _flushed(session: Session, _context: Any) -> None:
    session.info[WROTE] = True


def _executed(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[WROTE] = True


def has_written(session: Session) -> bool:
    """Whether the request wrote through this session: a flush or a write statement, or changes not yet
    flushed. What it read before then is still what the database holds for it."""
    return bool(session.info.get(WROTE) or session.new or session.dirty or session.deleted)


def keep_on_error() -> None:
    """Commit this request's writes even though it ends in an error response."""
    g.keep_on_error = True


def mark_failed() -> None:
    """Roll this request's writes back even though its response is not an error (a redirect)."""
    g.request_failed = True


def after_commit(callback: Callable[[], object]) -> None:
    """Run `callback` once the request's transaction has committed; never if it rolls back."""
    g.setdefault("after_commit", []).append(callback)


def end_transaction(response: Response) -> Response:
    """Commit the request's work if it succeeded (or was kept), else roll it back; see the module."""
    session: Session | None = g.get("db_session")
    failed = response.status_code >= 400 or g.get("request_failed", False)
    if failed and not g.get("keep_on_error", False):
        if session is not None:
            session.rollback()
        return response
    wrote = False
    if session is not None:
        wrote = session.info.pop(WROTE, False)
        try:
            session.commit()
        except Exception as exc:
            # Handled as if the view had raised it, by the same error handlers (503 when the database
            # is unreachable); the success page built before the commit is never sent.
            session.rollback()
            return current_app.make_response(current_app.handle_user_exception(exc))
    for callback in g.pop("after_commit", []):
        callback()
    if wrote:
        _relay()
    return response


def _relay() -> None:
    """Hand the jobs the request wrote on: to rq, or (no Redis) by waking the app's worker thread. No job
    ever runs in the request.

    Past the commit, a failure here must not turn a done request into an error: the rows stay pending
    and the next relay (a worker start, the worker thread, `flask relay-outbox`) hands them over.
    """
    try:
        _jobs_committed()
    except Exception:
        log.exception("handing on the outbox after commit failed; its rows stay pending")


def _jobs_committed() -> None:
    from portal.worker import jobs_committed

    extensions = current_app.extensions
    jobs_committed(session_factory(), extensions["jihuitong.settings"], extensions.get("jihuitong.worker"))


def commit() -> None:
    """For CLI commands, which have no request to commit them: commit, then hand the jobs on."""
    db().commit()
    _jobs_committed()


def close_session(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
