"""The monthly report on paper: its HTML printed to PDF by WeasyPrint, so that screen and paper come
from one source and never diverge. Pure computation, no I/O beyond reading the stylesheet.

WeasyPrint needs the Pango libraries of the operating system (`scripts/run` installs them on Debian and
Ubuntu, with the Noto CJK font the report is set in). Where they are missing, `html_pdf` raises
PdfUnavailableError and the report is still built: its screen edition and its workbook are served, and
the download of the PDF says why there is none.
"""

from __future__ import annotations

import warnings
from importlib import resources

PDF_TYPE = "application/pdf"
STYLESHEET = "templates/report/report.css"


class PdfUnavailableError(RuntimeError):
    """The PDF cannot be printed on this server (WeasyPrint or its system libraries are missing)."""


def stylesheet() -> str:
    """The report's stylesheet, shared by the screen edition and the PDF."""
    return resources.files("stats").joinpath(STYLESHEET).read_text(encoding="utf-8")


def html_pdf(document: str) -> bytes:
    """The HTML document printed as an A4 PDF (page numbers, running title; the PDF's title is the
    document's <title>). Raises PdfUnavailableError."""
    try:
        with warnings.catch_warnings():
            # Older systems lack HarfBuzz-Subset: WeasyPrint warns that it will need it one day.
            warnings.simplefilter("ignore", DeprecationWarning)
            # Imported here: WeasyPrint loads Pango through cffi, which only the job building a report needs.
            from weasyprint import CSS, HTML
    except (ImportError, OSError) as exc:  # OSError: the Pango libraries are not installed
        raise PdfUnavailableError(str(exc)) from exc
    html = HTML(string=document)
    return html.write_pdf(stylesheets=[CSS(string=stylesheet())])  # type: ignore[no-any-return]
