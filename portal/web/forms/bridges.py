"""Forms of the bridge-fund (续贷周转金) pages: the applicant's application, the bank's renewal commitment
and steps, and the fund operator's refusal and dated steps. Amounts are typed in 万元 and held in 元."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField
from wtforms.validators import Optional, Regexp, ValidationError

from core.types import local_today
from portal.web.forms.fields import (
    CENT,
    MAX_AMOUNT,
    MAX_TEXT,
    Between,
    Cents,
    ChoiceField,
    DayField,
    PageForm,
    WanYuanField,
    fold,
    required,
    strip,
    text_length,
)

MONEY_RANGE = Between(CENT, MAX_AMOUNT, _l("金额须在 0.000001 万元至 10000 万元之间"))
# Bytes of a commitment document read to hash it (the request itself is capped at 1 MiB).
MAX_DOCUMENT = 1024 * 1024


def _amount(label: Any, *, optional: bool = False) -> WanYuanField:
    first = Optional() if optional else required()
    return WanYuanField(label, places=6, validators=[first, MONEY_RANGE, Cents()])


class NotFuture:
    """A step's date cannot be later than today (Asia/Shanghai)."""

    def __call__(self, form: Any, field: Any) -> None:
        if field.data is not None and field.data > local_today():
            raise ValidationError(_("不能晚于今天"))


class BridgeApplyForm(PageForm):
    scheme_id = ChoiceField(_l("周转金"), choices=[], validators=[required(_l("请选择周转金"))])
    # "need:12", "loan:34" (the applicant's own) or "manual" (the maturing loan as stated below).
    origin = ChoiceField(_l("到期贷款"), choices=[], validators=[required(_l("请选择到期贷款"))])
    institution_id = ChoiceField(_l("贷款银行"), choices=[], validators=[Optional()])
    contract_no = StringField(_l("借款合同编号"), filters=[strip], validators=[Optional(), text_length(64)])
    maturing_principal = _amount(_l("到期本金（万元）"), optional=True)
    matures_on = DayField(_l("到期日"), validators=[Optional()])
    amount = _amount(_l("申请周转金额（万元）"))

    def __init__(
        self,
        *args: Any,
        schemes: list[tuple[str, str]] = (),  # type: ignore[assignment]
        origins: list[tuple[str, str]] = (),  # type: ignore[assignment]
        banks: list[tuple[str, str]] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.scheme_id.choices = [("", _("请选择")), *schemes]
        self.origin.choices = [("", _("请选择")), *origins, ("manual", _("其他到期贷款（手工填写）"))]
        self.institution_id.choices = [("", _("请选择")), *banks]

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if self.origin.data == "manual":
            for field in (self.institution_id, self.maturing_principal, self.matures_on):
                if field.data in (None, "") and not field.errors:
                    field.errors = [*field.errors, _("手工填写到期贷款时此项必填")]
                    ok = False
        return ok


class CommitmentForm(PageForm):
    amount = _amount(_l("承诺续贷金额（万元）"))
    renewal_on = DayField(_l("承诺续贷放款日"), validators=[required()])
    signer = StringField(_l("签字人"), filters=[strip], validators=[required(), text_length(64)])
    document = FileField(_l("承诺书扫描件（平台只保存其 SHA-256 摘要）"))
    document_sha256 = StringField(
        _l("或填写承诺书的 SHA-256 摘要"),
        filters=[fold],
        validators=[
            Optional(),
            Regexp(r"^[0-9A-F]{64}$", message=_l("应为 64 位十六进制 SHA-256 摘要")),
        ],
    )

    def digest(self) -> str | None:
        """The document's SHA-256 (from the upload, else as typed), lower-case; None if neither."""
        if not hasattr(self, "_digest"):
            upload = self.document.data
            if upload is not None and getattr(upload, "filename", ""):
                # Read once: the stream is spent afterwards.
                self._digest: str | None = hashlib.sha256(upload.read(MAX_DOCUMENT + 1)).hexdigest()
            else:
                self._digest = self.document_sha256.data.lower() if self.document_sha256.data else None
        return self._digest

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        posted_text = request.form.get(self.document.name, "") if request else ""
        if posted_text.strip():
            # Text posted where a file belongs (no browser does that): refused, never hashed.
            self.document.errors = [*self.document.errors, _("请选择要上传的承诺书文件")]
            ok = False
        if not ok:
            return False
        digest = self.digest()
        typed = (self.document_sha256.data or "").lower()
        if digest is None:
            self.document.errors = [*self.document.errors, _("请上传承诺书文件或填写其 SHA-256 摘要")]
            return False
        if typed and digest != typed:
            self.document_sha256.errors = [_("上传文件的 SHA-256 与填写的摘要不一致")]
            return False
        return True


class StepDateForm(PageForm):
    on = DayField(_l("日期"), validators=[required(), NotFuture()])


class RenewalForm(StepDateForm):
    amount = _amount(_l("续贷发放金额（万元）"))


class RefuseBridgeForm(PageForm):
    reason = TextAreaField(
        _l("不予批准的原因"), filters=[strip], validators=[required(_l("请说明原因")), text_length(MAX_TEXT)]
    )
