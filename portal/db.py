"""One SQLAlchemy session per request, committed once; the jobs it wrote are handed on after commit."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session, sessionmaker


def session_factory() -> sessionmaker[Session]:
    factory: sessionmaker[Session] = current_app.extensions["jihuitong.session_factory"]
    return factory


def db() -> Session:
    """The request's session, opened on first use."""
    if "db_session" not in g:
        g.db_session = session_factory()()
    session: Session = g.db_session
    return session


def commit() -> None:
    """Commit the request's work, then hand any jobs it wrote on: to rq, or (no Redis) by waking the
    app's worker thread. No job ever runs here."""
    session = db()
    session.commit()
    from portal.worker import jobs_committed

    extensions = current_app.extensions
    jobs_committed(session_factory(), extensions["jihuitong.settings"], extensions.get("jihuitong.worker"))


def close_session(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
