"""Errors raised by the statistics services."""

from __future__ import annotations

from core.errors import ConflictError, NotFoundError


class ReportNotFoundError(NotFoundError):
    code = "report_not_found"


class ReportNotReadyError(ConflictError):
    """The report has not been generated (yet, or it failed)."""

    code = "report_not_ready"


class ReportPdfUnavailableError(ConflictError):
    """The report was built on a server that could not print PDF (its HTML and workbook are there)."""

    code = "report_pdf_unavailable"
