"""Helpers shared by the page blueprints: service errors onto forms, safe redirects, role homes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import flash, g, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.exc import SQLAlchemyError

from core.errors import ConflictError, DomainError, InvalidInputError
from core.models import Role
from core.notifications import unread_count
from core.submissions import claim_submission, submission_key
from portal.auth import Principal
from portal.db import after_commit, db, has_written, mark_failed
from portal.messages import error_message, field_messages

ROLE_HOME = {
    Role.APPLICANT.value: "applicant.needs",
    Role.OFFICER.value: "officer.leads",
    Role.PRODUCT_MANAGER.value: "manage.products",
    Role.FINANCE.value: "finance.dashboard",
    Role.ADMIN.value: "admin.users",
    Role.GUARANTOR.value: "guarantees.queue",
}
INVALID_FORM = 422


def role_home(role: str) -> str:
    return url_for(ROLE_HOME.get(role, "public.home"))


def safe_next(target: str | None) -> str | None:
    """A same-site path to go back to after login, or None (never another host, never `//evil`)."""
    if not target or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme not in ("", "http", "https") or parts.netloc not in ("", request.host):
        return None
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def apply_errors(form: FlaskForm, error: InvalidInputError, aliases: dict[str, str] | None = None) -> None:
    """Put a service's field errors on the form's fields; errors without a field become a flash.

    The request has failed: whatever the service wrote before refusing is rolled back.
    """
    mark_failed()
    for name, messages in field_messages(error.fields).items():
        candidates = [(aliases or {}).get(name, name), name.replace(".", "_"), name.rsplit(".", 1)[-1]]
        field = next((form[c] for c in candidates if c in form), None)
        if field is not None:
            field.errors = [*field.errors, *messages]
        else:
            for message in messages:
                flash(message, "error")


def flash_error(error: DomainError) -> None:
    """Tell the user why their action failed. The request has failed: whatever the service wrote before
    refusing is rolled back, although the page answers with a redirect (which would otherwise commit)."""
    mark_failed()
    flash(error_message(error.code), "error")


PRIVATE_BLUEPRINTS = frozenset(
    {
        "account",
        "applicant",
        "officer",
        "manage",
        "finance",
        "admin",
        "admin_scorecards",
        "guarantees",
        "monitoring",
        "bridges",
        "schemes",
    }
)


def no_store_private() -> None:
    """Personal pages must not be kept by shared caches or the back button of a shared phone."""
    if request.blueprint in PRIVATE_BLUEPRINTS:
        g.no_store = True


def inject_globals() -> dict[str, Any]:
    """Who is logged in, for the top bar; an error page must render even when loading the user fails."""
    try:
        principal = current_user if current_user.is_authenticated else None
    except SQLAlchemyError:
        principal = None
    role = principal.role if principal else None
    return {
        "current_role": role,
        "current_username": principal.user.username if principal else None,
        "role_home": role_home(role) if role else url_for("public.home"),
        "unread_notifications": _unread(principal) if principal else 0,
    }


def _unread(principal: Principal) -> int:
    """The header's unread count: counted with the user when the session was loaded (portal.auth), unless
    the request has written since (it may have read or sent notifications); else one COUNT on the
    (user_id, read_at) index."""
    try:
        session = db()
        if principal.unread is not None and not has_written(session):
            return principal.unread
        return unread_count(session, principal.user.id)
    except SQLAlchemyError:
        return 0


def ok(message: str) -> None:
    """Tell the user their action is done, once it is: the message is flashed after the request's
    commit, never when the commit fails."""
    after_commit(functools.partial(flash, message, "success"))


def first_submission(form_name: str) -> bool:
    """The idempotency guard of a form that creates something (core.submissions): True the first time
    these values are posted to this form by this user within the window; False for a refresh or a
    double click, which must create nothing (the caller redirects to the list with `repeated()`)."""
    values = {k: request.form.getlist(k) for k in request.form if k != "csrf_token"}
    user_id = current_user.user.id if current_user.is_authenticated else None
    return claim_submission(db(), submission_key(user_id, form_name, values), user_id=user_id)


def repeated() -> None:
    flash(_("这份表单刚刚已经提交过，没有重复创建。"), "info")


def posted_step(
    form: FlaskForm,
    call: Callable[[], object],
    *,
    again: Callable[[], Any],
    refused: Callable[[ConflictError], None] = flash_error,
    done: str,
) -> Any | None:
    """One step posted from a record's page: `again()` (the page with the reasons, 422) when the form or
    the service refuses the input; `refused` for a step the record's state refuses; else `done` flashed.
    Returns the page to answer with, or None when the caller should redirect back to the record."""
    if not form.validate_on_submit():
        return again()
    try:
        call()
    except InvalidInputError as exc:
        apply_errors(form, exc)
        return again()
    except ConflictError as exc:
        refused(exc)
    else:
        ok(done)
    return None
