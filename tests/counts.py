"""Counts that stress and fuzz tests report (cases generated, rounds run), printed in pytest's summary.

A test calls `report("fuzz", "cases generated", 1234)`; conftest's `pytest_terminal_summary` prints every
count in a section of its own, so they show in `pytest -q` output and in CI logs.
"""

from __future__ import annotations

REPORTED: list[tuple[str, str, object]] = []


def report(topic: str, what: str, value: object) -> None:
    REPORTED.append((topic, what, value))
    print(f"[{topic}] {what}: {value}")
