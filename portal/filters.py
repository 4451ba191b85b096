"""Jinja filters and globals: money, Shanghai time, masked identifiers, reference-data labels."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from flask import Flask, current_app, g, has_app_context
from flask_babel import get_translations
from flask_babel.speaklater import LazyString
from jinja2.nodes import EvalContext
from jinja2.utils import pass_eval_context
from markupsafe import Markup
from wtforms import Field
from wtforms.fields.choices import SelectChoice

from core.masking import Personal, mask
from core.types import to_shanghai
from portal.labels import LABELS, label
from stats.formats import number, wan_unit


def _(string: str, **variables: Any) -> str:
    """Flask-Babel's gettext over the request's translations looked up once (`current_translations`)."""
    found = current_translations().ugettext(string)
    return str(found % variables) if variables else str(found)


def yuan(value: Decimal | int | None) -> str:
    if value is None:
        return "—"
    amount = Decimal(value)
    if amount >= 10000 and amount % 100 == 0:
        return _("%(n)s万元", n=f"{amount / 10000:,.2f}".rstrip("0").rstrip("."))
    return _("%(n)s元", n=f"{amount:,.2f}")


def percent(value: Decimal | str | None) -> str:
    """A share (0.3333) as a percentage (33.33%)."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)) * 100:.2f}%"


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    return to_shanghai(value).strftime(fmt)


def current_translations() -> Any:
    """The translations of this request's locale, looked up once per request: a page asks for a few
    hundred strings, and Flask-Babel's own lookup costs more than the translation itself."""
    if not has_app_context():
        return get_translations()
    found = g.get("jinja_translations")
    if found is None:
        found = g.jinja_translations = get_translations()
    return found


@pass_eval_context
def jinja_gettext(eval_ctx: EvalContext, string: str, /, **variables: Any) -> str:
    """Jinja's newstyle `_`/`gettext` (jinja2.ext's, the same result) in one call: Jinja's own goes
    through `_`'s alias and two context calls around the translation, which cost a page's loop more
    than the translation itself."""
    rv = current_translations().ugettext(string)
    if eval_ctx.autoescape:
        rv = Markup(rv)  # noqa: S704  # nosec B704  # the catalogue's text, as Jinja's own gettext marks it
    return rv % variables  # type: ignore[no-any-return]


FIELD_CACHE_SIZE = 256
_field_cache: dict[tuple[Any, ...], tuple[tuple[Any, ...], Markup]] = {}


def _token(value: Any, keep: list[Any]) -> Any:
    """A cache key's part for a label: a lazy string by identity (its translation costs what rendering
    it does), kept alive with the cached markup so that its id cannot be reused meanwhile."""
    if isinstance(value, LazyString):
        keep.append(value)
        return ("lazy", id(value))
    return value


def select_field(field: Field, **kwargs: Any) -> Markup:
    """`_macros.html`'s `field(f, **kwargs)` for a select, its markup kept per process for the same
    choices, value, label and attributes: a filter form's options (some fifty on the 金融超市) are the
    same on nearly every request and cost a fifth of the page. A field with errors is rendered afresh."""
    macro = current_app.jinja_env.get_template("_macros.html").module.field  # type: ignore[attr-defined]
    if field.errors:
        return cast(Markup, macro(field, **kwargs))
    keep: list[Any] = [current_translations()]
    choices = []
    for choice in field.choices or ():
        if not isinstance(choice, SelectChoice) or choice.render_kw:
            return cast(Markup, macro(field, **kwargs))
        choices.append((choice.value, _token(choice.label, keep), choice.optgroup))
    render_kw = tuple(sorted((field.render_kw or {}).items()))
    key = (
        id(keep[0]), type(field), field.name, field.id, field.data, field.flags.required,
        _token(field.label.text, keep), _token(field.description, keep), render_kw,
        tuple(sorted(kwargs.items())), tuple(choices),
    )  # fmt: skip
    found = _field_cache.get(key)
    if found is None:
        if len(_field_cache) >= FIELD_CACHE_SIZE:
            _field_cache.clear()
        found = _field_cache[key] = (tuple(keep), cast(Markup, macro(field, **kwargs)))
    return found[1]


LABEL_CACHE_SIZE = 4096
_label_cache: dict[tuple[int, str, str], str] = {}


def cached_label(code: Any, table: str) -> str:
    """`portal.labels.label` for templates, each (locale, table, code) translated once per process: a
    page's rows ask for the same few labels many times, and each asked Flask-Babel anew."""
    if code is None or code == "":
        return ""
    translations = current_translations()
    key = (id(translations), table, str(code))
    found = _label_cache.get(key)
    if found is None:
        if len(_label_cache) >= LABEL_CACHE_SIZE:
            _label_cache.clear()
        _kept_translations[id(translations)] = translations  # its id is not reused meanwhile
        found = _label_cache[key] = label(code, table)
    return found


_kept_translations: dict[int, Any] = {}


def register(app: Flask) -> None:
    # The same callables Flask-Babel installs, over the request's translations (`current_translations`).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: current_translations().ugettext(s),
        ngettext=lambda s, p, n: current_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: current_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: current_translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.globals.update(_=jinja_gettext, gettext=jinja_gettext)
    app.jinja_env.filters.update(
        yuan=yuan,
        wan=wan_unit,  # the finance pages' figures: always 万元
        multiple=number,  # a figure without a unit (a 放大倍数): a small one not shown as 0.00
        percent=percent,
        local_time=local_time,
        mask=lambda value, kind=Personal.USCC: mask(kind, value),
        mask_phone=lambda value: mask(Personal.PHONE, value),
        label=cached_label,
    )
    app.jinja_env.globals.update(LABELS=LABELS, label=cached_label, select_field=select_field)
    from portal.fragments import lead_rows, navigation, product_cards  # they use this module's translations

    app.jinja_env.globals.update(lead_rows=lead_rows, navigation=navigation, product_cards=product_cards)
