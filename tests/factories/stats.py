"""The finance offices' generated reports."""

from __future__ import annotations

import io

import factory
from pypdf import PdfWriter

from stats.models import Report, ReportStatus
from tests.factories.base import Base


def blank_pdf() -> bytes:
    """A one-page PDF without text (a finished report's file where its content does not matter)."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


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
        done = factory.Trait(
            status=ReportStatus.DONE,
            progress=100,
            content=b"x",
            filename="a.xlsx",
            html='<article class="report"><h1>月度报告</h1></article>',
            pdf=factory.LazyFunction(blank_pdf),
        )
