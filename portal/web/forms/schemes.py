"""The city finance office's scheme form: kind, sponsor and funding shares, capital, limits, loss shares,
deadlines, eligibility, bridge terms and the pause rule. Shares and rates are typed in percent (40 means
40 %), amounts in 万元; `scheme_input` turns the form into the service's SchemeInput (fractions, 元)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import Optional, Regexp

from core.reference import BORROWER_KINDS, INDUSTRY_SECTIONS, PRODUCT_TAGS, REGIONS
from guarantees.models import Party, Scheme, SchemeKind
from guarantees.schemes import MAX_AMOUNT as SCHEME_MAX
from guarantees.schemes import SchemeInput
from portal.labels import LABELS
from portal.web.forms.fields import (
    CENT,
    MAX_TEXT,
    WAN,
    Between,
    Cents,
    ChoiceField,
    MoneyField,
    MultiChoiceField,
    PageForm,
    WanYuanField,
    WholeField,
    choices,
    fold,
    required,
    split_codes,
    strip,
    text_length,
)

HUNDRED = Decimal(100)
# A GB/T 4754 section letter, optionally with its division, group or class digits (C, C13, C1311).
INDUSTRY_CODE = re.compile(r"[A-T](?:[0-9]{2}|[0-9]{3}|[0-9]{4})?")
FUNDING_LEVELS = {"province": _l("省级"), "city": _l("市级"), "county": _l("县级")}
PERCENT = Between(Decimal(0), HUNDRED, _l("应在 0 至 100 之间"))


def _percent(label: Any, *, optional: bool = True) -> MoneyField:
    first = Optional() if optional else required()
    # places=None: shown as stored ("40", "0.02"), not padded to a fixed number of decimals.
    return MoneyField(label, places=None, validators=[first, PERCENT])


class SchemeAmountField(WanYuanField):
    """A scheme's amount in 万元: a fund or a guarantor's net assets runs to 亿元, beyond the 10,000万元
    of a loan (up to the service's limit, 1000亿元)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        MoneyField.process_formdata(self, valuelist)
        if self.data is not None and abs(self.data) > SCHEME_MAX / WAN:
            self.data = None
            raise ValueError(_("金额不能超过 1000 亿元（10000000 万元）"))
        super().process_formdata(valuelist)


def _wan(label: Any) -> WanYuanField:
    return SchemeAmountField(
        label, places=6, validators=[required(), Between(CENT, SCHEME_MAX, _l("数值超出允许范围")), Cents()]
    )


def _days(label: Any, top: int, *, optional: bool = False) -> WholeField:
    first = Optional() if optional else required()
    return WholeField(label, validators=[first, Between(1, top, _l("应为 1 至 %(n)s", n=top))])


def _fraction(percent: Decimal | None) -> Decimal | None:
    return None if percent is None else (percent / HUNDRED).normalize()


def _shares(form: SchemeForm, prefix: str, names: Any) -> dict[str, str]:
    """{party: "fraction"} of the filled-in percent fields (blank ones left out)."""
    result = {}
    for name in names:
        value = form[f"{prefix}{name}"].data
        if value is not None and value != 0:
            result[name] = f"{_fraction(value):f}"
    return result


class SchemeForm(PageForm):
    scheme_code = StringField(
        _l("方案代码"),
        filters=[fold],
        validators=[
            required(),
            text_length(32, 2),
            Regexp(r"^[A-Z0-9][A-Z0-9_-]*$", message=_l("只能使用字母、数字、下划线和连字符")),
        ],
    )
    name = StringField(_l("方案名称"), filters=[strip], validators=[required(), text_length(128)])
    kind = ChoiceField(
        _l("方案类型"), choices=choices(LABELS["scheme_kind"], blank=_l("请选择")), validators=[required()]
    )
    sponsor = StringField(_l("出资/发起单位"), filters=[strip], validators=[required(), text_length(128)])
    operator_id = ChoiceField(_l("担保机构/资金管理方"), choices=[], validators=[required()])
    fund_province = _percent(_l("省级出资（%）"))
    fund_city = _percent(_l("市级出资（%）"))
    fund_county = _percent(_l("县级出资（%）"))
    capital = _wan(_l("净资产/资金规模/预算（万元）"))
    leverage_limit = MoneyField(
        _l("放大倍数上限（倍）"),
        places=2,
        validators=[required(), Between(Decimal("0.01"), 100, _l("应在 0 至 100 倍之间"))],
    )
    loss_bank = _percent(_l("银行分担（%）"))
    loss_guarantor = _percent(_l("担保机构分担（%）"))
    loss_reguarantor = _percent(_l("再担保机构分担（%）"))
    loss_fund = _percent(_l("风险补偿资金分担（%）"))
    loss_government = _percent(_l("地方政府分担（%）"))
    covers_interest = BooleanField(_l("代偿范围包括利息"))
    fee_rate_cap = _percent(_l("担保费率上限（年化 %）"), optional=False)
    single_cap = _wan(_l("单户上限（万元）"))
    comp_cap_rate = _percent(_l("代偿上限（占担保金额 %）"), optional=False)
    filing_deadline_days = _days(_l("备案期限（放款后天数）"), 3650)
    claim_deadline_days = _days(_l("代偿/索赔期限（逾期后天数）"), 3650)
    decision_sla_hours = _days(_l("审核时限（工作小时）"), 720)
    region_codes = MultiChoiceField(_l("适用地区（不选为全部）"), choices=choices(REGIONS))
    borrower_kinds = MultiChoiceField(_l("适用主体类型（不选为全部）"), choices=choices(BORROWER_KINDS))
    tags = MultiChoiceField(_l("适用产品类别（不选为全部）"), choices=choices(PRODUCT_TAGS))
    industries_excluded = StringField(
        _l("排除行业（国标门类或代码，逗号分隔）"), validators=[Optional(), text_length(MAX_TEXT)]
    )
    bridge_max_ratio = _percent(_l("周转金最高占续贷承诺金额（%）"))
    bridge_max_days = _days(_l("周转金最长使用天数"), 90, optional=True)
    tier_days = _days(_l("前段天数（按前段日费率计）"), 90, optional=True)
    tier_rate = _percent(_l("前段日费率（%/日）"))
    later_rate = _percent(_l("此后日费率（%/日）"))
    pause_overdue_ratio = _percent(_l("逾期占资金规模超过（%）时自动暂停"))

    def __init__(self, *args: Any, operators: list[tuple[str, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.operator_id.choices = [("", _("请选择")), *operators]

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        unknown = [
            c
            for c in split_codes(self.industries_excluded.data)
            if not INDUSTRY_CODE.fullmatch(c) or c[0] not in INDUSTRY_SECTIONS
        ]
        if unknown:
            self.industries_excluded.errors = [*self.industries_excluded.errors, _("行业代码无效")]
            ok = False
        losses = [self[f"loss_{p.value}"].data or Decimal(0) for p in Party]
        if not any(self[f"loss_{p.value}"].errors for p in Party) and sum(losses) != HUNDRED:
            self.loss_bank.errors = [
                *self.loss_bank.errors,
                _("各方分担比例合计应为 100%%（现为 %(s)s%%）", s=f"{sum(losses):f}"),
            ]
            ok = False
        funding = [self[f"fund_{k}"].data for k in FUNDING_LEVELS]
        if any(v for v in funding) and sum(v or Decimal(0) for v in funding) != HUNDRED:
            self.fund_province.errors = [*self.fund_province.errors, _("出资比例合计应为 100%（或全部不填）")]
            ok = False
        if self.kind.data == SchemeKind.BRIDGE_FUND:
            names = (
                "bridge_max_ratio",
                "bridge_max_days",
                "tier_days",
                "tier_rate",
                "later_rate",
                "pause_overdue_ratio",
            )
            for name in names:
                if self[name].data is None and not self[name].errors:
                    self[name].errors = [*self[name].errors, _("续贷周转金须填写此项")]
                    ok = False
        return ok

    @classmethod
    def data_of(cls, scheme: Scheme, operator_id: int) -> dict[str, Any]:
        """The form's values for an existing scheme (percent, 元 for the 万元 fields)."""
        rules = scheme.eligibility or {}
        tiers = scheme.fee_tiers or []
        first = tiers[0] if len(tiers) > 1 else None
        data: dict[str, Any] = {
            "scheme_code": scheme.code, "name": scheme.name, "kind": scheme.kind, "sponsor": scheme.sponsor,
            "operator_id": str(operator_id), "capital": scheme.capital,
            "leverage_limit": scheme.leverage_limit,
            "covers_interest": scheme.covers_interest, "fee_rate_cap": _pct(scheme.fee_rate_cap),
            "single_cap": scheme.single_cap, "comp_cap_rate": _pct(scheme.comp_cap_rate),
            "filing_deadline_days": scheme.filing_deadline_days,
            "claim_deadline_days": scheme.claim_deadline_days,
            "decision_sla_hours": scheme.decision_sla_hours, "region_codes": rules.get("region_codes", []),
            "borrower_kinds": rules.get("borrower_kinds", []), "tags": rules.get("tags", []),
            "industries_excluded": "、".join(rules.get("industries_excluded", [])),
            "bridge_max_ratio": _pct(scheme.bridge_max_ratio), "bridge_max_days": scheme.bridge_max_days,
            "tier_days": first["up_to_day"] if first else None,
            "tier_rate": _pct(first["daily_rate"]) if first else None,
            "later_rate": _pct(tiers[-1]["daily_rate"]) if tiers else None,
            "pause_overdue_ratio": _pct(scheme.pause_overdue_ratio),
        }  # fmt: skip
        for party in Party:
            data[f"loss_{party.value}"] = _pct(scheme.loss_shares.get(party.value))
        for level in FUNDING_LEVELS:
            data[f"fund_{level}"] = _pct((scheme.funding_shares or {}).get(level))
        return data

    def scheme_input(self, operator_code: str, *, keep: Scheme | None = None) -> SchemeInput:
        """The service's input; on an edit, what the form does not show (tenor bands, other funding
        levels) is kept from the scheme."""
        eligibility = {
            key: value
            for key, value in (
                ("region_codes", self.region_codes.data or []),
                ("borrower_kinds", self.borrower_kinds.data or []),
                ("tags", self.tags.data or []),
                ("industries_excluded", split_codes(self.industries_excluded.data)),
            )
            if value
        }
        tiers: list[dict[str, Any]] = []
        if self.later_rate.data is not None:
            if self.tier_days.data and self.tier_rate.data is not None:
                tiers.append(
                    {"up_to_day": self.tier_days.data, "daily_rate": f"{_fraction(self.tier_rate.data):f}"}
                )
            tiers.append({"up_to_day": None, "daily_rate": f"{_fraction(self.later_rate.data):f}"})
        bridge = self.kind.data == SchemeKind.BRIDGE_FUND
        return SchemeInput(
            code=self.scheme_code.data, name=self.name.data, kind=self.kind.data, sponsor=self.sponsor.data,
            operator_code=operator_code, capital=self.capital.data, leverage_limit=self.leverage_limit.data,
            loss_shares=_shares(self, "loss_", [p.value for p in Party]),
            fee_rate_cap=_fraction(self.fee_rate_cap.data) or Decimal(0), single_cap=self.single_cap.data,
            comp_cap_rate=_fraction(self.comp_cap_rate.data) or Decimal(0),
            filing_deadline_days=self.filing_deadline_days.data,
            claim_deadline_days=self.claim_deadline_days.data,
            funding_shares=_shares(self, "fund_", FUNDING_LEVELS),
            tenor_bands=list(keep.tenor_bands) if keep is not None else [],
            covers_interest=bool(self.covers_interest.data), decision_sla_hours=self.decision_sla_hours.data,
            eligibility=eligibility,
            bridge_max_ratio=_fraction(self.bridge_max_ratio.data) if bridge else None,
            bridge_max_days=self.bridge_max_days.data if bridge else None,
            fee_tiers=tiers if bridge else [],
            pause_overdue_ratio=_fraction(self.pause_overdue_ratio.data) if bridge else None,
        )  # fmt: skip


def _pct(value: Any) -> Decimal | None:
    # Plain notation: 40, not 4E+1.
    return None if value in (None, "") else Decimal(f"{(Decimal(str(value)) * HUNDRED).normalize():f}")


class PauseForm(PageForm):
    reason = TextAreaField(
        _l("暂停原因（申请人和银行会看到）"),
        filters=[strip],
        validators=[required(_l("请说明暂停原因")), text_length(MAX_TEXT)],
    )
