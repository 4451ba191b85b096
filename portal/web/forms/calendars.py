"""The form an admin loads a year's holiday arrangement with (the State Council's notice, typed in)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField
from wtforms.validators import NumberRange

from core.calendars import FIRST_YEAR, LAST_YEAR
from core.identifiers import normalize_code
from portal.web.forms.fields import PageForm, WholeField, required, text_length

_DATE = r"\d{4}-\d{1,2}-\d{1,2}"
_RANGE = re.compile(rf"^({_DATE})(?:~({_DATE}))?$")
MAX_SPAN_DAYS = 366


class DatesField(TextAreaField):
    """Dates typed one per line or separated by commas, with `2027-02-05~2027-02-13` for a run of days."""

    dates: list[dt.date]

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        self.dates = []
        if not self.data:
            return
        spaced = str(self.data).replace(" ", ",").replace("\u3000", ",")
        text = normalize_code(spaced).replace("－", "-")
        for part in re.split(r"[\s,，、;；]+", text):
            if not part:
                continue
            match = _RANGE.match(part)
            if match is None:
                raise ValueError(
                    _("无法识别“%(part)s”：日期格式应为 年-月-日，连续日期用 ~ 连接", part=part[:20])
                )
            try:
                first = dt.date.fromisoformat(_padded(match.group(1)))
                last = dt.date.fromisoformat(_padded(match.group(2) or match.group(1)))
            except ValueError:
                raise ValueError(_("“%(part)s”不是有效日期", part=part[:20])) from None
            if last < first or (last - first).days > MAX_SPAN_DAYS:
                raise ValueError(_("“%(part)s”的起止日期无效", part=part[:20]))
            self.dates += [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _padded(value: str) -> str:
    year, month, day = value.split("-")
    return f"{year}-{int(month):02d}-{int(day):02d}"


class CalendarForm(PageForm):
    year = WholeField(
        _l("年份"),
        validators=[required(), NumberRange(min=FIRST_YEAR, max=LAST_YEAR, message=_l("年份无效"))],
    )
    holidays = DatesField(
        _l("放假日期（含节假日期间的周末）"),
        validators=[required(), text_length(4000)],
        description=_l("每行一个日期，或用 ~ 连接起止日期，例如 2027-02-05~2027-02-13"),
    )
    workdays = DatesField(
        _l("调休上班日期"),
        validators=[text_length(4000)],
        description=_l("需要上班的周末，每行一个日期"),
    )
