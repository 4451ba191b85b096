"""The administrators' form that activates a scorecard version."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField

from credit_profile.scorecards import MAX_REASON_LENGTH
from portal.web.forms.fields import ChoiceField, PageForm, pairs, required, strip, text_length


class ActivateForm(PageForm):
    version = ChoiceField(_l("启用的版本"), validators=[required()])
    reason = TextAreaField(
        _l("启用理由"),
        filters=[strip],
        validators=[text_length(MAX_REASON_LENGTH)],
        description=_l("验证集 AUC 低于当前版本、低于 0.6 或未知的版本必须填写，理由记入审计记录"),
    )

    def __init__(self, versions: list[tuple[str, str]], *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.version.choices = pairs(versions, blank=_l("请选择"))
