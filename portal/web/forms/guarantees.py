"""Forms of the guarantee pages (read-only pages: a window and a grouping for the scheme page)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import Optional

from core.i18n import N_
from portal.web.forms.fields import ChoiceField, choices
from portal.web.forms.finance import StatsForm

SCHEME_DIMENSIONS = {
    "region": N_("按县（市、区）"),
    "bank": N_("按金融机构"),
    "guarantor": N_("按担保机构/资金管理方"),
    "scheme": N_("按方案"),
}


class SchemeFiguresForm(StatsForm):
    by = ChoiceField(_l("分组"), choices=choices(SCHEME_DIMENSIONS), validators=[Optional()])
