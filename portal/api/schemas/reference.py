"""Schemas of the reference data (codes and their Chinese names)."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import List, Nested, String


class CodeName(Schema):
    code = String()
    name = String()


class CodeNameList(Schema):
    items = List(Nested(CodeName))
