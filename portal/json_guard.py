"""JSON bodies checked before any endpoint reads them: the contract's "input that must never produce a 500".

Python's parser raises RecursionError for JSON nested ~1,000 deep and ValueError (not JSONDecodeError,
which webargs expects) for an integer of more than 4,300 digits; it accepts lone UTF-16 surrogates
(`"\\ud800"`), which no database or encoder can store, and NUL. Each request body of the API that says
it is JSON is parsed once here, with the limits below, and refused with 400 (`invalid_json`: not JSON,
too deep, a number too long) or 422 (a string holding a surrogate or NUL, with the field's path)
before webargs, the schemas or a service see it. A non-empty body of another type is refused with 400
too (webargs would treat it as absent), except forms and file uploads, which the import endpoints read.
"""

from __future__ import annotations

import json
import re
from typing import Any

from apiflask import APIFlask, HTTPError
from flask import request

from core.i18n import N_

# Deeper than any request schema of the API (a provider's records: object > list > object > value).
MAX_DEPTH = 32
# Digits of a JSON number: money and counts need 20 at most.
MAX_NUMBER_LENGTH = 64
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


class UnsafeJSON(ValueError):
    """The body is not JSON the API accepts (message: why, for the log)."""


def _number(text: str) -> Any:
    if len(text) > MAX_NUMBER_LENGTH:
        raise UnsafeJSON(f"number of {len(text)} characters")
    return float(text)


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_LENGTH:
        raise UnsafeJSON(f"integer of {len(text)} digits")
    return int(text)


def _depth_at_most(data: bytes, limit: int) -> bool:
    """Whether brackets outside strings never nest deeper than `limit` (a linear scan, run only when the
    body holds more brackets than `limit` at all)."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return True
    depth, in_string, escaped = 0, False, False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return True


def parse_body(data: bytes) -> Any:
    """The body as JSON within the limits. Raises UnsafeJSON (or its parent ValueError) otherwise."""
    if not _depth_at_most(data, MAX_DEPTH):
        raise UnsafeJSON(f"nested deeper than {MAX_DEPTH}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnsafeJSON("not UTF-8") from exc
    return json.loads(text, parse_int=_integer, parse_float=_number, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise UnsafeJSON(f"{name} is not JSON")


def bad_strings(value: Any) -> dict[str, list[str]]:
    """Paths of the strings (keys included) holding a lone surrogate or NUL, found without recursion."""
    found: dict[str, list[str]] = {}
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _BAD_TEXT.search(item):
                found[path or "_schema"] = [N_("不能包含无效字符（空字符或不成对的代理码位）")]
        elif isinstance(item, dict):
            for key, child in item.items():
                name = f"{path}.{key}" if path else str(key)
                if _BAD_TEXT.search(key):
                    found[path or "_schema"] = [N_("字段名包含无效字符")]
                    continue
                stack.append((name, child))
        elif isinstance(item, list):
            stack.extend((path, child) for child in item)
    return found


def check_json_body() -> None:
    """before_request: refuse an API request whose JSON body is outside the limits (module docstring)."""
    if request.method not in _BODY_METHODS or not request.path.startswith("/api/"):
        return
    if request.mimetype in _FORM_TYPES:
        return  # read by the endpoints that take files (imports); refused by the others' schemas
    data = request.get_data(cache=True)
    if not data.strip():
        return
    if not request.is_json:
        raise HTTPError(400, extra_data={"code": "invalid_json"})
    try:
        value = parse_body(data)
    except (ValueError, RecursionError) as exc:
        raise HTTPError(400, extra_data={"code": "invalid_json"}) from exc
    found = bad_strings(value)
    if found:
        raise HTTPError(422, detail={"json": found})


def install(app: APIFlask) -> None:
    app.before_request(check_json_body)
