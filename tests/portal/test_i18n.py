"""Every word a user reads goes through Flask-Babel: no Chinese text outside a gettext call.

Templates: every run of CJK characters must sit inside `_('…')`. Portal Python: every string constant
holding CJK characters must be an argument of `_`, `_l`, `N_`, `gettext` or `lazy_gettext` (docstrings
and the synthetic demo data in seed.py excepted).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.smoke

PORTAL = Path(__file__).resolve().parents[2] / "portal"
CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]+")
TRANSLATED = re.compile(r"""_\(\s*(['"])(?:\\.|(?!\1).)*\1""", re.S)
IDEOGRAPH = re.compile(r"[\u3400-\u9fff]")
GETTEXT_NAMES = {"_", "_l", "N_", "gettext", "lazy_gettext", "ngettext"}


def test_templates_translate_every_chinese_word():
    offenders = []
    for path in sorted((PORTAL / "templates").rglob("*.html")):
        text = TRANSLATED.sub("", path.read_text(encoding="utf-8"))
        text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
        for match in CJK.finditer(text):
            if not IDEOGRAPH.search(match.group()):
                continue
            line = text[: match.start()].count("\n") + 1
            offenders.append(f"{path.relative_to(PORTAL)}:{line}: {match.group()}")
    assert not offenders, "\n".join(offenders)


def _untranslated(tree: ast.AST) -> list[tuple[int, str]]:
    inside: set[int] = set()
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in GETTEXT_NAMES:
                for arg in ast.walk(node):
                    inside.add(id(arg))
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and IDEOGRAPH.search(node.value)
            and id(node) not in inside
            and id(node) not in docstrings
        ):
            found.append((node.lineno, node.value[:40]))
    return found


def test_portal_python_translates_every_chinese_string():
    offenders = []
    for path in sorted(PORTAL.rglob("*.py")):
        if path.name == "seed.py":
            continue
        for line, text in _untranslated(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"{path.relative_to(PORTAL)}:{line}: {text}")
    assert not offenders, "\n".join(offenders)


def test_the_checker_catches_a_bare_string():
    tree = ast.parse("x = '吉安'\ny = _('吉安')\n")
    assert _untranslated(tree) == [(1, "吉安")]
