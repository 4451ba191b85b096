"""The marker of words users read: `N_` marks a string for Flask-Babel's extraction where it is defined
(reference data, labels, messages built before a request); the portal translates it where it is shown."""

from __future__ import annotations


def N_(text: str) -> str:
    return text
