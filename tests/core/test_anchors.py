"""The audit chain's head is anchored outside the chain (a file and the log), so that deleting the
newest rows, which leaves a shorter but consistent chain, is found by `audit verify`."""

from __future__ import annotations

import json
import logging

import pytest

from core.anchors import anchor_head, read_anchors
from core.audit import verify_chain
from core.events import record_event
from tests.core.test_audit import _events, _tamper

pytestmark = pytest.mark.smoke


def test_anchoring_writes_the_head_to_the_file_and_the_log(session, tmp_path, caplog):
    path = tmp_path / "anchors.jsonl"
    _events(session, 3)
    with caplog.at_level(logging.INFO):
        anchor = anchor_head(session, path)
    assert anchor is not None and anchor.chain_seq == 3
    line = json.loads(path.read_text().splitlines()[-1])
    assert line["chain_seq"] == 3 and line["hash"] == verify_chain(session).head_hash
    assert any(anchor.hash in record.getMessage() for record in caplog.records)
    assert anchor_head(session, path) is None  # the head has not moved: nothing new written
    assert read_anchors(path) == {3: anchor.hash}


def test_deleting_the_newest_rows_is_found_against_the_anchor(session, tmp_path):
    path = tmp_path / "anchors.jsonl"
    _events(session, 5)
    anchor_head(session, path)
    assert verify_chain(session, anchors=read_anchors(path)).ok
    _tamper(session, "DELETE FROM status_events WHERE chain_seq >= 4")
    assert verify_chain(session).ok  # without the anchor the shorter chain looks fine
    report = verify_chain(session, anchors=read_anchors(path))
    assert [p.kind for p in report.problems] == ["truncated"]


def test_a_rewritten_chain_does_not_match_its_anchor(session, tmp_path):
    path = tmp_path / "anchors.jsonl"
    _events(session, 2)
    anchor_head(session, path)
    _tamper(session, "DELETE FROM status_events")
    record_event(session, entity_type="need", entity_id=9, to_status="x")
    record_event(session, entity_type="need", entity_id=9, to_status="y")
    session.commit()
    report = verify_chain(session, anchors=read_anchors(path))
    assert "anchor_mismatch" in [p.kind for p in report.problems]


def test_cli_verify_reads_the_anchor_file(runner, session, tmp_path, monkeypatch):
    path = tmp_path / "anchors.jsonl"
    monkeypatch.setenv("AUDIT_ANCHOR_FILE", str(path))
    _events(session, 4)
    assert runner.invoke(args=["audit", "anchor", "--file", str(path)]).exit_code == 0
    _tamper(session, "DELETE FROM status_events WHERE chain_seq = 4")
    result = runner.invoke(args=["audit", "verify", "--anchors", str(path)])
    assert result.exit_code == 1, result.output
    assert "链尾被删除" in result.output
