"""What the page forms share: fields that read amounts, whole numbers and days as people type them, choices
from the label tables, validators with Chinese messages, and the base forms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import (
    DateField,
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
)
from wtforms.fields.choices import Choice
from wtforms.validators import (
    InputRequired,
    Length,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import Select

from core.identifiers import has_control_characters, normalize_code
from core.reference import (
    CITY_CODE,
    CITY_NAME,
    REGIONS,
)

MAX_AMOUNT = Decimal("100000000")
MAX_TEXT = 500
CENT = Decimal("0.01")

Choices = list[SelectChoice]


def choices(table: dict[str, str], *, blank: Any = None) -> Choices:
    """(code, lazily translated name) pairs, optionally after a blank "please choose" entry."""
    result: Choices = [SelectChoice("", blank)] if blank is not None else []
    result.extend(SelectChoice(code, _l(name)) for code, name in table.items())
    return result


def pairs(items: Iterable[tuple[str, str]], *, blank: Any) -> Choices:
    """Choices built at request time (institutions), after a blank entry."""
    return [SelectChoice("", blank), *(SelectChoice(value, label) for value, label in items)]


def region_choices(*, with_city: bool, blank: Any = None) -> Choices:
    result = choices(REGIONS, blank=blank)
    if with_city:
        result.insert(1 if blank is not None else 0, SelectChoice(CITY_CODE, _l(CITY_NAME)))
    return result


def fold(value: str | None) -> str | None:
    """Full-width ASCII folded, spaces removed, upper-cased (USCC, ID numbers, phone numbers)."""
    return normalize_code(value) if value else value


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _number_text(raw: str) -> str:
    # Phones type full-width digits and thousands separators; "１２，０００" means 12000.
    return normalize_code(raw).replace(",", "").replace("，", "")


PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class MoneyField(DecimalField):
    """A decimal amount: full-width digits and thousands separators accepted, NaN and infinity refused."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        raw = _number_text(str(valuelist[0]))
        if raw == "":
            self.data = None
            return
        try:
            value = Decimal(raw)
        except InvalidOperation:
            self.data = None
            raise ValueError(_("请输入数字")) from None
        if not value.is_finite():
            self.data = None
            raise ValueError(_("请输入有效的数字"))
        if not PLAIN_NUMBER.fullmatch(raw):
            # Decimal also reads "1_000", "1E3" and other scripts' digits ("١٢٣"); nobody types an amount so.
            self.data = None
            raise ValueError(_("请输入数字"))
        self.data = value


class WholeField(IntegerField):
    """An integer with a Chinese message; full-width digits accepted."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        raw = _number_text(str(valuelist[0]))
        if raw == "":
            self.data = None
            return
        if not re.fullmatch(r"[+-]?[0-9]{1,12}", raw):
            self.data = None
            raise ValueError(_("请输入整数"))
        self.data = int(raw)


class DayField(DateField):
    """A date typed or picked as YYYY-MM-DD, with a Chinese message."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata([normalize_code(v) for v in valuelist])
        except ValueError:
            raise ValueError(_("日期格式应为 年-月-日，例如 2026-03-31")) from None


class OptionSelect(Select):
    """WTForms' select, writing a plain option (no attributes of its own) directly: the markup is the
    same as `Select.render_option`'s, without its sorted, formatted attribute list, which cost more
    than the rest of a filter form (the 金融超市's has some fifty options)."""

    @classmethod
    def render_option(cls, choice: Choice, **kwargs: Any) -> Markup:
        if kwargs or choice.render_kw:
            return super().render_option(choice, **kwargs)
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        attribute = escape(value).replace(Markup('"'), Markup("&quot;"))
        selected = "selected " if choice.selected else ""
        label = escape(choice.label or choice.value)
        # Both parts escaped just above, as WTForms' own render_option does.
        return Markup(f'<option {selected}value="{attribute}">{label}</option>')  # noqa: S704  # nosec B704


class ChoiceField(SelectField):
    """A select whose "not a valid choice" message is Chinese; the submitted code is stripped."""

    widget = OptionSelect()

    def process_formdata(self, valuelist: list[Any]) -> None:
        # Optional() takes "  " as no answer and drops the "not a valid choice" error, so the data must
        # say no answer too ("", not "  "), or views and cross-field rules take it for a choice.
        if valuelist:
            self.data = str(valuelist[0]).strip()

    def pre_validate(self, form: Any) -> None:
        if self.data in (None, "") and not self.flags.required:
            return
        if self.data not in {str(value) for value, _label, *_rest in self.iter_choices()}:
            raise ValidationError(_("选项无效"))


class MultiChoiceField(SelectMultipleField):
    """Checkboxes for several codes; unknown values get a Chinese message."""

    def pre_validate(self, form: Any) -> None:
        allowed = {str(value) for value, _label, *_rest in self.iter_choices()}
        if any(value not in allowed for value in self.data or []):
            raise ValidationError(_("选项无效"))


class Between:
    """min <= data <= max for numbers; leaves a missing value to InputRequired/Optional."""

    def __init__(self, minimum: Any, maximum: Any, message: Any) -> None:
        self.minimum, self.maximum, self.message = minimum, maximum, message

    def __call__(self, form: Any, field: Any) -> None:
        if field.data is None:
            return
        if not self.minimum <= field.data <= self.maximum:
            raise ValidationError(self.message)


class Cents:
    """At most two decimal places."""

    def __call__(self, form: Any, field: Any) -> None:
        if field.data is None:
            return
        try:
            exact = field.data == field.data.quantize(CENT)
        except InvalidOperation:
            # Too many digits to quantize (1e309, forty nines): far out of range, which Between says.
            return
        if not exact:
            raise ValidationError(_("最多保留两位小数"))


class AtLeastOne:
    def __init__(self, message: Any) -> None:
        self.message = message

    def __call__(self, form: Any, field: Any) -> None:
        if not field.data:
            raise StopValidation(self.message)


class Required(InputRequired):
    """InputRequired that also takes blank input ("   ") as missing.

    Numbers and dates parse blank input as None; plain InputRequired let that None through to the
    services (a 500), and let a text that the strip filter empties reach them as "".
    """

    def __call__(self, form: Any, field: Any) -> None:
        if field.raw_data and str(field.raw_data[0]).strip():
            return
        field.errors[:] = []
        raise StopValidation(self.message)


def required(message: Any = None) -> InputRequired:
    return Required(message=message or _l("此项必填"))


def text_length(maximum: int, minimum: int = 0) -> Length:
    if minimum:
        return Length(min=minimum, max=maximum, message=_l("长度应在 %(min)d 到 %(max)d 个字符之间"))
    return Length(max=maximum, message=_l("最多 %(max)d 个字符"))


def require_if(form: FlaskForm, condition: bool, names: Iterable[str]) -> bool:
    """Mark fields required when a condition holds; True if all of them have a value."""
    ok = True
    if not condition:
        return ok
    for name in names:
        field = form[name]
        if field.data in (None, "", []):
            field.errors = [*field.errors, _("此项必填")]
            ok = False
    return ok


def split_codes(value: str | None) -> list[str]:
    """Industry codes typed as "C13, K" / "C13 K" / "C13、K": upper-cased, de-duplicated, in order."""
    if not value:
        return []
    seen: list[str] = []
    for part in re.split(r"[\s,，、;；]+", normalize_code(value.replace(" ", ",").replace("\u3000", ","))):
        if part and part not in seen:
            seen.append(part)
    return seen


class PageForm(FlaskForm):
    """Base of the page forms: a value holding control characters is refused, in every field.

    PostgreSQL refuses NUL in text (a 503 for what is bad input), and no field has a use for the others.
    """

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        for field in self:
            if any(isinstance(v, str) and has_control_characters(v) for v in field.raw_data or ()):
                field.errors = [*field.errors, _("不能包含控制字符")]
                ok = False
        return ok


class GetForm(PageForm):
    """Filters read from the query string: no CSRF (they change nothing)."""

    class Meta:
        csrf = False


class ActionForm(PageForm):
    """A button that changes something: only the CSRF token."""


WAN = Decimal(10000)


class WanYuanField(MoneyField):
    """An amount typed and shown in 万元 ("5" means 50,000元) and held in 元 (`data`), as every service
    stores it. More precise than a cent is refused here, with the unit people typed in."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data is None:
            return
        if abs(self.data) > MAX_AMOUNT:
            # Far beyond any limit: left for the range validator, without multiplying 40-digit numbers.
            self.data = MAX_AMOUNT + 1
            return
        yuan = self.data * WAN
        if yuan != yuan.quantize(CENT):
            self.data = None
            raise ValueError(_("金额最多精确到分（万元后最多六位小数）"))
        self.data = yuan.quantize(CENT)

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if self.data is None:
            return ""
        wan = (Decimal(self.data) / WAN).normalize()
        return f"{wan:f}"
