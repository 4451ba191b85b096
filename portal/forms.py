"""WTForms forms of the HTML pages: they check shape (types, ranges, required, cross-field rules).

Rules that need the database (uniqueness, check characters after normalisation, state) stay in the
services; the views copy a service's InvalidInputError onto these fields. Every message is Chinese and
goes through Flask-Babel.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    EqualTo,
    InputRequired,
    Length,
    Optional,
    Regexp,
    StopValidation,
    ValidationError,
)

from core.accounts import check_password_strength
from core.i18n import N_
from core.identifiers import has_control_characters, normalize_code
from core.reference import (
    BORROWER_KINDS,
    CITY_CODE,
    CITY_NAME,
    COLLATERAL_KINDS,
    DATA_SOURCES,
    INDUSTRY_SECTIONS,
    INSTITUTION_KINDS,
    PRODUCT_TAGS,
    REASON_CODES,
    REGIONS,
)
from credit_profile.borrowers import EARLIEST_ESTABLISHED, today_local
from portal.labels import LEAD_STATUS, ROLE_NAMES
from portal.messages import field_messages

MAX_AMOUNT = Decimal("100000000")
MAX_TEXT = 500
CENT = Decimal("0.01")

Choices = list[SelectChoice]


# --- helpers -----------------------------------------------------------------------------------


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


class ChoiceField(SelectField):
    """A select whose "not a valid choice" message is Chinese; the submitted code is stripped."""

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


# --- accounts ----------------------------------------------------------------------------------


class LoginForm(PageForm):
    username = StringField(
        _l("用户名"), filters=[strip], validators=[required(_l("请输入用户名")), text_length(64)]
    )
    password = PasswordField(_l("密码"), validators=[required(_l("请输入密码")), text_length(256)])


class StrongPassword:
    def __call__(self, form: Any, field: Any) -> None:
        codes = check_password_strength(field.data or "")
        if codes:
            raise ValidationError("；".join(field_messages({"password": codes})["password"]))


PHONE = Regexp(r"^1[3-9][0-9]{9}$", message=_l("请输入 11 位手机号码"))


class RegisterForm(PageForm):
    """An applicant's account and borrower profile in one form."""

    username = StringField(
        _l("用户名"),
        filters=[strip],
        validators=[required(), text_length(64, 3)],
        description=_l("3 至 64 个字符，用于登录"),
    )
    password = PasswordField(
        _l("密码"),
        validators=[required(), text_length(256), StrongPassword()],
        description=_l("至少 8 位，混合使用字母、数字和符号"),
    )
    password_again = PasswordField(
        _l("再次输入密码"), validators=[required(), EqualTo("password", message=_l("两次输入的密码不一致"))]
    )
    phone = StringField(_l("手机号码"), filters=[fold], validators=[required(), PHONE])
    kind = ChoiceField(
        _l("主体类型"), choices=choices(BORROWER_KINDS, blank=_l("请选择")), validators=[required()]
    )
    name = StringField(
        _l("名称或姓名"),
        filters=[strip],
        validators=[required(), text_length(128)],
        description=_l("企业、个体工商户填写营业执照上的名称；农户填写本人姓名"),
    )
    uscc = StringField(
        _l("统一社会信用代码"),
        filters=[fold],
        validators=[Optional(), text_length(40)],
        description=_l("18 位，见营业执照（小微企业、个体工商户必填）"),
    )
    id_number = StringField(
        _l("居民身份证号码"),
        filters=[fold],
        validators=[Optional(), text_length(40)],
        description=_l("18 位（农户必填）"),
    )
    region_code = ChoiceField(
        _l("所在县（市、区）"),
        choices=region_choices(with_city=False, blank=_l("请选择")),
        validators=[required()],
    )
    industry_code = ChoiceField(
        _l("所属行业"), choices=choices(INDUSTRY_SECTIONS, blank=_l("请选择")), validators=[required()]
    )
    established_on = DayField(_l("成立日期"), validators=[Optional()])
    employees = WholeField(
        _l("从业人数"),
        validators=[Optional(), Between(0, 1_000_000, _l("应在 0 到 1000000 之间"))],
    )

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        farmer = self.kind.data == "farmer"
        ok = require_if(self, bool(self.kind.data) and farmer, ["id_number"]) and ok
        ok = require_if(self, bool(self.kind.data) and not farmer, ["uscc"]) and ok
        if self.established_on.data and self.established_on.data > today_local():
            self.established_on.errors = [*self.established_on.errors, _("不能晚于今天")]
            ok = False
        if self.established_on.data and self.established_on.data < EARLIEST_ESTABLISHED:
            self.established_on.errors = [*self.established_on.errors, _("不能早于 1900 年 1 月 1 日")]
            ok = False
        return ok


# --- applicant ---------------------------------------------------------------------------------


class ActionForm(PageForm):
    """A button that changes something: only the CSRF token."""


class ConsentForm(PageForm):
    sources = MultiChoiceField(
        _l("授权采集的数据"),
        choices=choices(DATA_SOURCES),
        validators=[AtLeastOne(_l("至少选择一类数据"))],
    )
    purpose = StringField(
        _l("授权用途"),
        filters=[strip],
        default=_l("生成信用画像，用于融资需求匹配和授信参考"),
        validators=[required(), text_length(200)],
    )
    expires_on = DayField(_l("授权截止日期"), validators=[required()], description=_l("最长三年"))
    agree = BooleanField(
        _l("我已阅读并同意上述授权书"), validators=[InputRequired(message=_l("请先阅读并同意授权书"))]
    )


class NeedForm(PageForm):
    amount = MoneyField(
        _l("申请金额（元）"),
        places=2,
        validators=[
            required(),
            Between(Decimal(1000), MAX_AMOUNT, _l("申请金额须在 1000 元至 1 亿元之间")),
            Cents(),
        ],
    )
    term_months = WholeField(
        _l("期限（月）"), validators=[required(), Between(1, 360, _l("期限须在 1 至 360 个月之间"))]
    )
    purpose = TextAreaField(
        _l("资金用途"),
        filters=[strip],
        validators=[required(), text_length(MAX_TEXT)],
        description=_l("例如：采购原材料、购置农机、店面装修"),
    )
    collateral = ChoiceField(
        _l("可提供的担保方式"), choices=choices(COLLATERAL_KINDS, blank=_l("请选择")), validators=[required()]
    )
    declared_prior_loan = BooleanField(_l("我（本单位）以前在银行等金融机构贷过款（含已还清的）"))
    is_renewal = BooleanField(_l("这是续贷申请：现有贷款即将到期，希望续贷"))
    renewal_institution_code = ChoiceField(_l("现有贷款的机构"), choices=[], validators=[Optional()])
    renewal_current_amount = MoneyField(
        _l("现有贷款余额（元）"),
        places=2,
        validators=[Optional(), Between(CENT, MAX_AMOUNT, _l("数值超出允许范围")), Cents()],
    )
    renewal_matures_on = DayField(_l("现有贷款到期日"), validators=[Optional()])

    def __init__(self, *args: Any, institutions: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.renewal_institution_code.choices = pairs(institutions, blank=_("未指定或平台外机构"))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        return (
            require_if(self, bool(self.is_renewal.data), ["renewal_current_amount", "renewal_matures_on"])
            and ok
        )


# --- officer -----------------------------------------------------------------------------------


class LeadFilterForm(GetForm):
    status = ChoiceField(_l("状态"), choices=choices(LEAD_STATUS, blank=_l("全部")), validators=[Optional()])
    page = WholeField(_l("页码"), default=1, validators=[Optional(), Between(1, 100_000, _l("页码无效"))])


class NoteForm(PageForm):
    note = TextAreaField(_l("备注"), filters=[strip], validators=[Optional(), text_length(MAX_TEXT)])


class RejectForm(NoteForm):
    reason_code = ChoiceField(
        _l("拒绝原因"),
        choices=choices(REASON_CODES, blank=_l("请选择")),
        validators=[required(_l("拒绝时必须选择原因"))],
    )


class DisburseForm(NoteForm):
    amount = MoneyField(
        _l("放款金额（元）"),
        places=2,
        validators=[required(), Between(CENT, MAX_AMOUNT, _l("数值超出允许范围")), Cents()],
    )
    rate = MoneyField(
        _l("年利率（%）"),
        places=2,
        validators=[required(), Between(CENT, Decimal(36), _l("年利率应在 0.01 到 36 之间")), Cents()],
    )
    term_months = WholeField(
        _l("期限（月）"), validators=[required(), Between(1, 360, _l("期限须在 1 至 360 个月之间"))]
    )
    collateral = ChoiceField(
        _l("担保方式"), choices=choices(COLLATERAL_KINDS, blank=_l("请选择")), validators=[required()]
    )
    disbursed_on = DayField(_l("放款日期"), validators=[required()])
    first_loan_borrower = BooleanField(
        _l("首贷户"), description=_l("借款人此前从未在任何金融机构获得过贷款，这是其第一笔贷款")
    )
    renewal_without_repayment = BooleanField(
        _l("无还本续贷"), description=_l("本笔贷款用于接续即将到期的贷款，借款人无需先归还本金")
    )


# --- product managers --------------------------------------------------------------------------


class ProductForm(PageForm):
    name = StringField(_l("产品名称"), filters=[strip], validators=[required(), text_length(128)])
    description = TextAreaField(_l("产品介绍"), filters=[strip], validators=[Optional(), text_length(2000)])
    min_amount = MoneyField(
        _l("最低额度（元）"),
        places=2,
        validators=[required(), Between(CENT, MAX_AMOUNT, _l("额度应在 0.01 元至 1 亿元之间")), Cents()],
    )
    max_amount = MoneyField(
        _l("最高额度（元）"),
        places=2,
        validators=[required(), Between(CENT, MAX_AMOUNT, _l("额度应在 0.01 元至 1 亿元之间")), Cents()],
    )
    min_term_months = WholeField(
        _l("最短期限（月）"), validators=[required(), Between(1, 360, _l("期限须在 1 至 360 个月之间"))]
    )
    max_term_months = WholeField(
        _l("最长期限（月）"), validators=[required(), Between(1, 360, _l("期限须在 1 至 360 个月之间"))]
    )
    rate_min = MoneyField(
        _l("最低年利率（%）"),
        places=2,
        validators=[required(), Between(CENT, Decimal(36), _l("年利率应在 0.01 到 36 之间")), Cents()],
    )
    rate_max = MoneyField(
        _l("最高年利率（%）"),
        places=2,
        validators=[required(), Between(CENT, Decimal(36), _l("年利率应在 0.01 到 36 之间")), Cents()],
    )
    collateral = MultiChoiceField(
        _l("担保方式"), choices=choices(COLLATERAL_KINDS), validators=[AtLeastOne(_l("至少选择一种担保方式"))]
    )
    borrower_kinds = MultiChoiceField(
        _l("适用客户"), choices=choices(BORROWER_KINDS), validators=[AtLeastOne(_l("至少选择一类客户"))]
    )
    region_codes = MultiChoiceField(
        _l("适用地区"), choices=region_choices(with_city=True), description=_l("不选表示全市均可申请")
    )
    industries_excluded = StringField(
        _l("不支持的行业"),
        validators=[Optional(), text_length(400)],
        description=_l("国民经济行业代码（GB/T 4754-2017），如 K 或 C13，多个用逗号或空格分隔"),
    )
    min_score = WholeField(
        _l("最低信用评分"),
        validators=[Optional(), Between(300, 900, _l("评分应在 300 到 900 之间"))],
        description=_l("留空表示不设门槛"),
    )
    tags = MultiChoiceField(_l("产品标签"), choices=choices(PRODUCT_TAGS))
    sla_hours = WholeField(
        _l("认领时限（工作小时）"),
        default=8,
        validators=[required(), Between(1, 240, _l("应在 1 到 240 之间"))],
        description=_l("推送后须在该时限内认领，否则线索转给其他机构"),
    )

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        for low, high in (
            ("min_amount", "max_amount"),
            ("min_term_months", "max_term_months"),
            ("rate_min", "rate_max"),
        ):
            lo, hi = self[low].data, self[high].data
            if lo is not None and hi is not None and lo > hi:
                self[high].errors = [*self[high].errors, _("不能小于对应的最小值")]
                ok = False
        return ok


class ProductFilterForm(GetForm):
    region_code = ChoiceField(
        _l("地区"), choices=region_choices(with_city=False, blank=_l("全部地区")), validators=[Optional()]
    )
    borrower_kind = ChoiceField(
        _l("客户类型"), choices=choices(BORROWER_KINDS, blank=_l("全部类型")), validators=[Optional()]
    )
    amount = MoneyField(
        _l("需要金额（元）"),
        places=2,
        validators=[Optional(), Between(Decimal(0), MAX_AMOUNT, _l("数值超出允许范围"))],
    )
    tag = ChoiceField(
        _l("标签"), choices=choices(PRODUCT_TAGS, blank=_l("全部标签")), validators=[Optional()]
    )
    institution = ChoiceField(_l("机构"), choices=[], validators=[Optional()])
    collateral = ChoiceField(
        _l("担保方式"), choices=choices(COLLATERAL_KINDS, blank=_l("不限")), validators=[Optional()]
    )

    def __init__(self, *args: Any, institutions: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.institution.choices = pairs(institutions, blank=_("全部机构"))


# --- finance offices ---------------------------------------------------------------------------


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


class DashboardForm(StatsForm):
    by = ChoiceField(_l("分组维度"), choices=choices(STATS_DIMENSIONS), validators=[Optional()])


class FigureForm(StatsForm):
    """A figure's rows, or a table to export: the figure and breakdown key are checked by the service."""

    figure = StringField(_l("指标"), filters=[strip], validators=[Optional(), text_length(40)])
    by = ChoiceField(_l("分组维度"), choices=choices(STATS_DIMENSIONS), validators=[Optional()])
    key = StringField(_l("分组"), filters=[strip], validators=[Optional(), text_length(40)])
    page = WholeField(_l("页码"), default=1, validators=[Optional(), Between(1, 100_000, _l("页码无效"))])


class ExportForm(FigureForm):
    table = ChoiceField(_l("表"), choices=[], validators=[required()])
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


# --- administrators ----------------------------------------------------------------------------


class InstitutionForm(PageForm):
    code = StringField(
        _l("机构代码"),
        filters=[fold],
        validators=[
            required(),
            text_length(32, 2),
            Regexp(r"^[A-Z0-9_-]+$", message=_l("只能使用字母、数字、下划线和连字符")),
        ],
    )
    name = StringField(_l("机构名称"), filters=[strip], validators=[required(), text_length(128)])
    kind = ChoiceField(
        _l("机构类型"), choices=choices(INSTITUTION_KINDS, blank=_l("请选择")), validators=[required()]
    )


STAFF_ROLES = ("officer", "product_manager", "finance", "admin")


class UserForm(PageForm):
    username = StringField(_l("用户名"), filters=[strip], validators=[required(), text_length(64, 3)])
    password = PasswordField(_l("初始密码"), validators=[required(), text_length(256), StrongPassword()])
    role = ChoiceField(
        _l("角色"),
        choices=pairs(((r, _l(ROLE_NAMES[r])) for r in STAFF_ROLES), blank=_l("请选择")),
        validators=[required()],
    )
    institution_id = ChoiceField(
        _l("所属机构"), choices=[], validators=[Optional()], description=_l("客户经理、产品经理必填")
    )
    region_code = ChoiceField(
        _l("所属金融办"),
        choices=region_choices(with_city=True, blank=_l("请选择")),
        validators=[Optional()],
        description=_l("金融办用户必填：市金融办选吉安市，县级金融办选对应县（市、区）"),
    )
    phone = StringField(_l("手机号码"), filters=[fold], validators=[Optional(), PHONE])

    def __init__(self, *args: Any, institutions: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.institution_id.choices = pairs(institutions, blank=_("请选择"))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        ok = require_if(self, self.role.data in ("officer", "product_manager"), ["institution_id"]) and ok
        return require_if(self, self.role.data == "finance", ["region_code"]) and ok


class ProviderForm(PageForm):
    name = StringField(_l("提供方名称"), filters=[strip], validators=[required(), text_length(128)])
    source = ChoiceField(
        _l("数据类型"), choices=choices(DATA_SOURCES, blank=_l("请选择")), validators=[required()]
    )
