"""Platform administrators: scorecard versions side by side with the active one, and activation."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.errors import InvalidInputError
from core.models import Role
from credit_profile.errors import ScorecardNotFoundError, ScorecardVersionConflictError
from credit_profile.expert import EXPERT_VERSION
from credit_profile.scorecards import activate_scorecard, versions_overview
from portal.auth import role_required, web_user
from portal.db import db
from portal.scorecard_presenters import scorecard_dict
from portal.web.common import INVALID_FORM, apply_errors, flash_error, ok
from portal.web.forms.scorecards import ActivateForm

bp = Blueprint("admin_scorecards", __name__, url_prefix="/admin/scorecards")


def _versions() -> list[dict[str, Any]]:
    overview = versions_overview(db())
    active, stability = overview.active, overview.stability
    items = [scorecard_dict(row, active=active, stability=stability) for row in overview.rows]
    if not any(item["version"] == EXPERT_VERSION for item in items):
        items.append(scorecard_dict(None, active=active, stability=stability))
    # The active version first: every other row reads against it.
    return sorted(items, key=lambda item: not item["active"])


@bp.route("", methods=["GET", "POST"])
@role_required(Role.ADMIN.value)
def versions() -> Any:
    items = _versions()
    form = ActivateForm([(item["version"], item["version"]) for item in items])
    if form.validate_on_submit():
        try:
            activate_scorecard(db(), form.version.data, actor_id=web_user().id, reason=form.reason.data)
        except InvalidInputError as exc:
            apply_errors(form, exc)
        except (ScorecardNotFoundError, ScorecardVersionConflictError) as exc:
            flash_error(exc)
        else:
            ok(_("已启用评分卡版本 %(version)s，正在重新计算所有借款人的评分", version=form.version.data))
            return redirect(url_for(".versions"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("admin/scorecards.html", form=form, versions=items), status
