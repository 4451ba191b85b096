"""Forms of the finance offices' pages: windows, breakdowns, drill-down, exports and reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    SelectChoice,
    StringField,
)
from wtforms.validators import (
    Optional,
    Regexp,
)

from core.i18n import N_
from portal.web.forms.fields import (
    Between,
    ChoiceField,
    DayField,
    GetForm,
    WholeField,
    choices,
    fold,
    region_choices,
    required,
    strip,
    text_length,
)
from stats.exports import FIGURE_LABELS
from stats.monthly import RANKED
from stats.quality import FLAG_LABELS


class StatsForm(GetForm):
    from_date = DayField(_l("开始日期"), validators=[required()])
    to_date = DayField(_l("结束日期"), validators=[required()])
    region_code = ChoiceField(_l("地区"), choices=region_choices(with_city=True), validators=[Optional()])

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if self.from_date.data and self.to_date.data:
            if self.to_date.data < self.from_date.data:
                self.to_date.errors = [*self.to_date.errors, _("结束日期不能早于开始日期")]
                ok = False
            elif (self.to_date.data - self.from_date.data).days > 3660:
                self.from_date.errors = [*self.from_date.errors, _("统计区间最长十年")]
                ok = False
        return ok


STATS_DIMENSIONS = {
    "county": N_("按县（市、区）"),
    "institution": N_("按金融机构"),
    "industry": N_("按行业门类"),
    "kind": N_("按主体类型"),
    "tag": N_("按产品标签"),
}


# The figures the county ranking can be sorted on, and the data-quality flags (their labels are the stats').
RANK_FIGURES = {name: FIGURE_LABELS[name] for name in RANKED}


class DashboardForm(StatsForm):
    by = ChoiceField(_l("分组维度"), choices=choices(STATS_DIMENSIONS), validators=[Optional()])
    rank_by = ChoiceField(_l("排名指标"), choices=choices(RANK_FIGURES), validators=[Optional()])
    flag = ChoiceField(_l("提示类型"), choices=choices(FLAG_LABELS), validators=[Optional()])


# Columns a drill-down is sorted by (stats.drilldowns.SORTS) and their headers.
SORT_COLUMNS = {
    "date": N_("日期"),
    "amount": N_("金额"),
    "id": N_("编号"),
    "rate": N_("利率"),
    "matures_on": N_("到期日"),
}
ORDERS = {"asc": N_("升序"), "desc": N_("降序")}


class FigureForm(StatsForm):
    """A figure's rows, or a table to export: the figure and breakdown key are checked by the service;
    the rows sorted by a column and filtered by a name, as shown (and exported as shown)."""

    figure = StringField(_l("指标"), filters=[strip], validators=[Optional(), text_length(40)])
    by = ChoiceField(_l("分组维度"), choices=choices(STATS_DIMENSIONS), validators=[Optional()])
    key = StringField(_l("分组"), filters=[strip], validators=[Optional(), text_length(40)])
    page = WholeField(_l("页码"), default=1, validators=[Optional(), Between(1, 100_000, _l("页码无效"))])
    sort = ChoiceField(_l("排序"), choices=choices(SORT_COLUMNS), validators=[Optional()])
    order = ChoiceField(_l("顺序"), choices=choices(ORDERS), validators=[Optional()])
    q = StringField(
        _l("筛选（机构、产品或企业名称）"), filters=[strip], validators=[Optional(), text_length(40)]
    )


# Exports of the guarantee and bridge tables may also group by guarantor or scheme.
EXPORT_DIMENSIONS = {**STATS_DIMENSIONS, "guarantor": N_("按担保机构/资金管理方"), "scheme": N_("按方案")}


class ExportForm(FigureForm):
    table = ChoiceField(_l("表"), choices=[], validators=[required()])
    by = ChoiceField(_l("分组维度"), choices=choices(EXPORT_DIMENSIONS), validators=[Optional()])
    file_format = ChoiceField(
        _l("格式"),
        choices=[SelectChoice("csv", "CSV"), SelectChoice("xlsx", "XLSX")],
        validators=[required()],
    )

    def __init__(self, *args: Any, tables: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.table.choices = [SelectChoice(name, name) for name in tables]


class MonthlyReportForm(FlaskForm):
    month = StringField(
        _l("月份"),
        filters=[fold],
        validators=[
            required(),
            Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", message=_l("月份格式应为 年-月，例如 2026-10")),
        ],
    )
    region_code = ChoiceField(_l("地区"), choices=region_choices(with_city=True), validators=[Optional()])
