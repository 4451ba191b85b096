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
