"""What every schema shares: strict input (unknown fields and control characters refused), text, choice,
money and range fields, paging.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from apiflask import Schema
from apiflask.fields import Decimal, Integer, String
from apiflask.validators import Length, OneOf, Range
from marshmallow import RAISE, ValidationError, fields, pre_load

from core.i18n import N_
from core.identifiers import has_control_characters

# marshmallow's own messages, in Chinese (the portal passes them through Flask-Babel when rendering).
_FIELD_MESSAGES: dict[type[fields.Field[Any]], dict[str, str]] = {
    fields.Field: {
        "required": N_("此项必填"),
        "null": N_("不能为空"),
        "validator_failed": N_("内容无效"),
    },
    fields.String: {"invalid": N_("应为文本"), "invalid_utf8": N_("不是合法的 UTF-8 文本")},
    fields.Number: {"invalid": N_("应为数字"), "too_large": N_("数值过大")},
    fields.Integer: {"invalid": N_("应为整数")},
    fields.Decimal: {"special": N_("不允许 NaN 或无穷大")},
    fields.Boolean: {"invalid": N_("应为 true 或 false")},
    fields.Date: {"invalid": N_("日期格式应为 YYYY-MM-DD"), "format": N_("日期格式应为 YYYY-MM-DD")},
    fields.List: {"invalid": N_("应为列表")},
    fields.Nested: {"type": N_("应为对象")},
    fields.Mapping: {"invalid": N_("应为对象")},
}
for _cls, _messages in _FIELD_MESSAGES.items():
    _cls.default_error_messages = {**_cls.default_error_messages, **_messages}

UNKNOWN_FIELD = N_("不支持的字段")
MAX_TEXT = 500


def _control_characters(value: Any, path: str = "") -> dict[str, list[str]]:
    """Paths of strings holding control or text-direction characters (tab and newlines are fine)."""
    found: dict[str, list[str]] = {}
    if isinstance(value, str):
        if has_control_characters(value):
            found[path or "_schema"] = [N_("不能包含控制字符")]
    elif isinstance(value, Mapping):  # a JSON object, or the query string's MultiDictProxy
        for key, item in value.items():
            found.update(_control_characters(item, f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list):
        for item in value:
            found.update(_control_characters(item, path))
    return found


class In(Schema):
    """Base of request schemas: unknown fields and control characters are refused in Chinese."""

    class Meta:
        unknown = RAISE

    error_messages: ClassVar[dict[str, str]] = {"unknown": UNKNOWN_FIELD, "type": N_("请求体应为 JSON 对象")}

    @pre_load
    def _refuse_control_characters(self, data: Any, **_kwargs: Any) -> Any:
        found = _control_characters(data)
        if found:
            raise ValidationError(found)
        return data


def text(max_len: int = 100, **kwargs: Any) -> String:
    return String(
        validate=Length(min=1, max=max_len, error=N_("长度应在 {min} 到 {max} 个字符之间")), **kwargs
    )


def choice(options: Any, **kwargs: Any) -> String:
    return String(validate=OneOf(list(options), error=N_("选项无效")), **kwargs)


MONEY_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"


def money(**kwargs: Any) -> Decimal:
    """Money or a rate in a request: a decimal string or a JSON number (documented as either)."""
    return Decimal(
        as_string=True,
        allow_nan=False,
        places=None,
        metadata={"type": ["string", "number"], "pattern": MONEY_PATTERN},
        **kwargs,
    )


def money_out(**kwargs: Any) -> Decimal:
    """Money or a rate in a response: always a decimal string ("1500000.00")."""
    return Decimal(
        as_string=True, places=None, metadata={"type": "string", "pattern": MONEY_PATTERN}, **kwargs
    )


def int_range(lo: int, hi: int, **kwargs: Any) -> Integer:
    return Integer(
        strict=True, validate=Range(min=lo, max=hi, error=N_("应在 {min} 到 {max} 之间")), **kwargs
    )


class PageQuery(In):
    page = Integer(load_default=1, validate=Range(min=1, max=100000, error=N_("页码无效")))
    per_page = Integer(
        load_default=20, validate=Range(min=1, max=100, error=N_("每页条数应在 1 到 100 之间"))
    )


class PageOut(Schema):
    total = Integer()
    page = Integer()
    per_page = Integer()
