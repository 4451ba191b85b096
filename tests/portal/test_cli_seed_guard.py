"""`seed-demo` creates the demo accounts (whose password is published) on PostgreSQL only when asked."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.models import User
from tests.conftest import IS_POSTGRES


@pytest.mark.skipif(not IS_POSTGRES, reason="the guard concerns PostgreSQL")
def test_seed_demo_refuses_on_postgresql_without_the_flag(runner, session):
    before = session.scalar(select(func.count()).select_from(User))
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 1
    assert "--demo-accounts" in result.output and "create-admin" in result.output
    assert session.scalar(select(func.count()).select_from(User)) == before
    assert session.scalar(select(User.id).where(User.username == "admin")) is None
