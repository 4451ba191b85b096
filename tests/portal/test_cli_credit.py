"""`flask import-data`, `flask consent-sweep` and `flask scorecard register` from the command line."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from core.types import local_today
from credit_profile.consent_text import RETENTION_DAYS
from credit_profile.consents import grant_consent
from credit_profile.expert import expert_scorecard
from credit_profile.models import Consent, DataPurge, DataRecord, ScorecardVersion
from tests.credit_profile.helpers import month, store
from tests.factories import BorrowerFactory, ConsentFactory

pytestmark = pytest.mark.smoke


def records(session, borrower) -> int:
    return session.scalar(
        select(func.count()).select_from(DataRecord).where(DataRecord.borrower_id == borrower.id)
    )


def test_import_data_all_or_nothing(session, runner, tmp_path):
    borrower = BorrowerFactory()
    grant_consent(
        session,
        borrower_id=borrower.id,
        sources=["bank_flow"],
        purpose="授信参考",
        expires_on=local_today() + dt.timedelta(days=10),
        actor_id=None,
    )
    session.flush()
    bad = tmp_path / "flow.csv"
    bad.write_text(
        "uscc,period,inflow,outflow,end_balance\n"
        f"{borrower.uscc},{month(1)},100,50,20\n"
        f"{borrower.uscc},{month(2)},-1,50,20\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["import-data", "--source", "bank_flow", str(bad)])
    assert result.exit_code == 1
    assert "row 3: 流入金额：超出允许范围" in result.output
    assert records(session, borrower) == 0

    good = tmp_path / "flow-fixed.csv"
    good.write_text(bad.read_text(encoding="utf-8").replace(",-1,", ",1,"), encoding="utf-8")
    result = runner.invoke(args=["import-data", "--source", "bank_flow", str(good)])
    assert result.exit_code == 0, result.output
    assert "已导入 2 条" in result.output
    assert records(session, borrower) == 2


def test_consent_sweep_expires_and_purges(session, runner):
    borrower = BorrowerFactory()
    expired = ConsentFactory(
        borrower_id=borrower.id, sources=["electricity"], expires_on=local_today() - dt.timedelta(days=1)
    )
    long_gone = ConsentFactory(
        borrower_id=borrower.id,
        sources=["tax"],
        status="revoked",
        revoked_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=RETENTION_DAYS + 1),
    )
    session.flush()
    store(session, borrower.id, "tax", [month(1), month(2)], long_gone.id)
    store(session, borrower.id, "electricity", [month(1)], expired.id)

    result = runner.invoke(args=["consent-sweep"])

    assert result.exit_code == 0, result.output
    assert "过期授权 1 项；删除数据 2 条" in result.output
    session.expire_all()
    assert session.get(Consent, expired.id).status == "expired"
    assert session.scalars(select(DataPurge.source)).all() == ["tax"]
    assert runner.invoke(args=["consent-sweep"]).output.strip() == "过期授权 0 项；删除数据 0 条"


def test_scorecard_register(session, runner, tmp_path):
    card = expert_scorecard()
    card["version"] = "cli-1"
    path = tmp_path / "card.json"
    path.write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["scorecard", "register", "--model", str(path)])
    assert result.exit_code == 0, result.output
    assert session.scalar(select(ScorecardVersion.active).where(ScorecardVersion.version == "cli-1")) is False

    card["offset_points"] = 1.0
    path.write_text(json.dumps(card), encoding="utf-8")
    result = runner.invoke(args=["scorecard", "register", "--model", str(path)])
    assert result.exit_code == 1 and "cli-1" in result.output

    card["version"] = "cli-2"
    card["characteristics"][0]["name"] = "age_in_years"
    path.write_text(json.dumps(card), encoding="utf-8")
    result = runner.invoke(args=["scorecard", "register", "--model", str(path)])
    assert result.exit_code == 1 and "age_in_years" in result.output
