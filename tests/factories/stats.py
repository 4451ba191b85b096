"""The finance offices' generated reports."""

from __future__ import annotations

import factory

from stats.models import Report, ReportStatus
from tests.factories.base import Base


class ReportFactory(Base):
    class Meta:
        model = Report

    kind = "monthly"
    month = "2025-12"
    region_code = "360800"
    status = ReportStatus.QUEUED
    progress = 0

    class Params:
        running = factory.Trait(status=ReportStatus.RUNNING, progress=40)
        done = factory.Trait(status=ReportStatus.DONE, progress=100, content=b"x", filename="a.xlsx")
