"""The monthly report's build time at 1,000,000 loans (and 2,000,000 leads) on PostgreSQL.

Fills a scratch database as bench/stats.py does (its generator, about two minutes), picks the month with
the most loans, then builds that month's report for the city and for one county the way the job does
(stats.reports.build_monthly_report: every section's figures, the HTML, the PDF printed by WeasyPrint and
the workbook), timing the sections' queries apart from the rendering, against a floor: the month's
summary alone (stats.figures), the least any report of the month must compute. Prints the times, the
ratio to the floor and the PDF's page count. Exits 1 if the city's report takes more than MAX_SECONDS.

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/report.py
    (options: --loans N --leads N --keep; --reuse NAME skips the load)

``--tiny`` (bench/stats.py's tiny sizes, which the test suite runs) goes through every step and prints
every figure, but grades none.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic import command
from pypdf import PdfReader
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from portal.cli import alembic_config
from stats import reports
from stats.figures import figures
from stats.models import Report

MAX_SECONDS = 120.0
COUNTY = "360821"


def _stats_bench():  # bench/stats.py's generator and scratch database (a script, not a package)
    spec = importlib.util.spec_from_file_location("bench_stats", ROOT / "bench" / "stats.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(session: Session, month: str, region: str) -> tuple[float, float, int]:
    """(seconds for the sections' figures, seconds in all, PDF pages) of one report built as the job does."""
    marks: list[float] = []
    report = reports.request_monthly_report(session, month=month, region_code=region, requested_by=None)
    started = time.perf_counter()
    reports.build_monthly_report(session, report.id, on_progress=lambda _r: marks.append(time.perf_counter()))
    total = time.perf_counter() - started
    sections = marks[-1] - started  # the last progress mark follows the last section
    built = session.get(Report, report.id)
    assert built is not None and built.status == "done", built
    pages = len(PdfReader(io.BytesIO(built.pdf)).pages) if built.pdf else 0
    return sections, total, pages


def main(argv: list[str] | None = None) -> int:
    bench_stats = _stats_bench()
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--leads", type=int, default=2_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--reuse", metavar="NAME", help="a database kept by --keep: migrate it, skip the load"
    )
    parser.add_argument("--tiny", action="store_true", help="bench/stats.py's tiny sizes, not graded")
    args = parser.parse_args(argv)
    if args.tiny:
        parser.set_defaults(**bench_stats.TINY)
        args = parser.parse_args(argv)
    admin_url = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    if args.reuse:
        url, drop = admin_url.rsplit("/", 1)[0] + "/" + args.reuse, lambda: None
        args.keep = True
    else:
        url, drop = bench_stats.scratch_database(admin_url)
    try:
        engine = create_engine(url)
        command.upgrade(alembic_config(url), "head")
        if not args.reuse:
            bench_stats.generate(engine, loans=args.loans, leads=args.leads)
        with Session(engine) as session:
            month = session.scalar(
                text(
                    "SELECT to_char(disbursed_on, 'YYYY-MM') FROM loans GROUP BY 1 "
                    "ORDER BY count(*) DESC, 1 DESC LIMIT 1"
                )
            )
            loans = session.scalar(
                text(f"SELECT count(*) FROM loans WHERE to_char(disbursed_on, 'YYYY-MM') = '{month}'")
            )
            print(f"load average {bench_stats.load_average()}; month {month}: {loans:,} loans")
            window = reports.month_window(month, "360800")
            started = time.perf_counter()
            figures(session, window)
            floor = time.perf_counter() - started
            print(f"{'floor: the month summary':<30} {floor * 1000:8.0f} ms")
            city_total = 0.0
            for region in ("360800", COUNTY):
                sections, total, pages = build(session, month, region)
                name = f"report {'city' if region == '360800' else region}"
                print(
                    f"{name:<30} {total * 1000:8.0f} ms   sections {sections * 1000:8.0f} ms   "
                    f"render, PDF, workbook {(total - sections) * 1000:6.0f} ms   ratio {total / floor:6.1f}   "
                    f"{pages} pages"
                )
                if region == "360800":
                    city_total = total
            session.rollback()
        engine.dispose()
        limit = "not graded at --tiny" if args.tiny else f"limit {MAX_SECONDS:.0f} s"
        print(f"city report {city_total:.1f} s ({limit}); load average {bench_stats.load_average()}")
        return 0 if args.tiny or city_total <= MAX_SECONDS else 1
    finally:
        if not args.keep:
            drop()
        else:
            print(f"kept {url}")


if __name__ == "__main__":
    raise SystemExit(main())
