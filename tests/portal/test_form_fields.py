"""portal.web.forms.fields.OptionSelect writes the same markup as WTForms' own select."""

from __future__ import annotations

from wtforms import Form, SelectChoice
from wtforms.widgets import Select

from portal.web.forms.fields import ChoiceField, OptionSelect


class Picked(Form):
    code = ChoiceField(
        choices=[
            SelectChoice("", "全部"),
            SelectChoice("a", 'say "<b>"'),
            SelectChoice("b&c", "B & C"),
            SelectChoice("x", "X", render_kw={"disabled": True}),
        ],
    )


def test_options_are_written_as_wtforms_writes_them():
    for data in ({}, {"code": "a"}, {"code": "b&c"}, {"code": "x"}):
        field = Picked(data=data).code
        assert isinstance(field.widget, OptionSelect)
        assert str(field()) == str(Select()(field)), data
        assert str(field(class_="wide")) == str(Select()(field, class_="wide")), data


def test_a_kept_select_is_the_macro_s_markup_for_its_choices_value_and_errors(app):
    """portal.filters.select_field keeps a select's markup per process: whatever changes it (the value,
    the choices, an error, the attributes) must give the markup the `field` macro writes for it."""
    from flask import render_template_string
    from flask_babel import lazy_gettext as _l

    from portal.web.forms.fields import pairs

    class Filter(Form):
        code = ChoiceField("机构", choices=[])
        kind = ChoiceField("类型", choices=[SelectChoice("", _l("全部类型")), SelectChoice("e", _l("企业"))])

    both = (
        '{% from "_macros.html" import field %}'
        "{{ field(f, inputmode=mode) }}|{{ select_field(f, inputmode=mode) }}|{{ select_field(f, inputmode=mode) }}"
    )
    cases = [
        ("code", [("a", "甲银行"), ("b", "乙银行")], {}, None),
        ("code", [("a", "甲银行"), ("b", "乙银行")], {"code": "b"}, None),
        ("code", [("a", "甲银行"), ("b", "乙银行 & 丙")], {"code": "b"}, None),  # a renamed institution
        ("code", [("a", "甲银行")], {"code": "b"}, None),  # the chosen one gone: an error
        ("code", [("a", "甲银行")], {}, "decimal"),
        ("kind", None, {}, None),
        ("kind", None, {"kind": "e"}, None),
    ]
    seen = set()
    with app.test_request_context("/"):
        for name, options, data, mode in cases:
            form = Filter(data=data)
            if options is not None:
                form.code.choices = pairs(options, blank="全部机构")
            form.validate()
            macro, kept, again = render_template_string(both, f=form[name], mode=mode).split("|")
            assert kept == macro == again, (name, options, data)
            seen.add(kept)
    assert len(seen) == len(cases)  # each case writes its own markup: none was served another's
