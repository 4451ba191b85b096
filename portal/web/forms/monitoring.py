"""Forms of the post-loan monitoring pages: the officer's steps on a warning and the admin's rule edit."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, TextAreaField
from wtforms.validators import Optional

from portal.labels import LABELS
from portal.web.forms.fields import (
    MAX_TEXT,
    Between,
    ChoiceField,
    GetForm,
    MoneyField,
    PageForm,
    WholeField,
    choices,
    required,
    strip,
    text_length,
)


class WarningFilterForm(GetForm):
    status = ChoiceField(
        _l("状态"), choices=choices(LABELS["warning_status"], blank=_l("全部")), validators=[Optional()]
    )
    page = WholeField(_l("页码"), default=1, validators=[Optional(), Between(1, 100_000, _l("页码无效"))])


class WarningActionForm(PageForm):
    action = ChoiceField(
        _l("处置措施"),
        choices=choices(LABELS["warning_action"], blank=_l("请选择")),
        validators=[required(_l("请选择处置措施"))],
    )
    note = TextAreaField(_l("处置情况"), filters=[strip], validators=[Optional(), text_length(MAX_TEXT)])


class WarningCloseForm(PageForm):
    outcome = ChoiceField(
        _l("结论"),
        choices=choices(LABELS["warning_outcome"], blank=_l("请选择")),
        validators=[required(_l("请选择结论"))],
    )
    note = TextAreaField(_l("说明"), filters=[strip], validators=[Optional(), text_length(MAX_TEXT)])


class RuleForm(PageForm):
    yellow = MoneyField(_l("黄色阈值"), places=4, validators=[Optional()])
    red = MoneyField(_l("红色阈值"), places=4, validators=[Optional()])
    persist_months = WholeField(
        _l("持续月数（至少）"), validators=[required(), Between(1, 12, _l("应为 1 至 12"))]
    )
    window_months = WholeField(
        _l("观察窗口（月）"), validators=[required(), Between(1, 12, _l("应为 1 至 12"))]
    )
    peer_pct_max = MoneyField(_l("同业百分位上限（0–1，可空）"), places=4, validators=[Optional()])
    enabled = BooleanField(_l("启用"))
