"""Matching throughput against a floor measured in the same run: reading the same rows without matching.

Builds a database of its own (SQLite in a temporary directory, or a fresh PostgreSQL database with
``--postgres postgresql+psycopg://user@host:5432``, dropped afterwards), migrates it with Alembic and
fills it with a synthetic catalogue (50 institutions) and synthetic needs (fixed seed). Then:

1. one need against 5,000 published products: ``match_need`` (load the catalogue, rank, store the
   leads, events and notifications) against the floor of loading the same products, the need, its
   borrower and its score; the median of several runs, each rolled back;
2. 10,000 needs against 2,000 published products: ``match_needs`` over batches of BATCH needs (the
   re-match jobs' batch size, ``rematch_batch_size``), each batch one transaction, with the catalogue
   prepared once (``load_match_context``), against the floor of reading the same rows (the catalogue
   once; per need the need, its borrower, its score and its leads: the floor issue 12's goal is stated
   against), and against a second floor, for information, that reads the same rows a batch at a time
   (one statement per table and batch); plus the engine alone on the prepared index, and the time the
   matching spent in the engine and the explanations (``engine.evaluate``, ``dispatch._summary``,
   clocked in the run) and the matching less that time: what the reads and writes cost.

Prints times and ratios to the floor; asserts nothing about time.

    .venv/bin/python bench/matching.py [--needs 10000] [--postgres URL]
    .venv/bin/python bench/matching.py --tiny [--postgres URL]   # a few seconds: does it still run?
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

# Run as a script, this file's directory would come first on sys.path and its name would hide the
# `matching` package: put the repository root there instead.
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

from alembic import command
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.db import make_engine, make_session_factory
from core.models import Role, User
from core.reference import BORROWER_KINDS, COLLATERAL_KINDS, REGIONS
from core.settings import Settings
from core.types import utcnow
from core.usernames import casefold_username
from credit_profile.models import Borrower, CreditScore
from credit_profile.scoring import latest_score, latest_scores
from matching import dispatch, engine
from matching.dispatch import load_match_context, match_need, match_needs, need_specs
from matching.models import Lead, Need
from portal.cli import alembic_config
from products.models import Institution, Product

SEED = 20261122
INSTITUTIONS = 50
SECTIONS = "ABCDEFGHIJKLMNOPQRST"
# The sizes of `--tiny`, which the test suite runs (tests/bench/test_benches.py) so that this bench cannot
# rot: a few seconds, every step of the full run, no figure worth reading.
TINY = {"needs": 40, "big_catalogue": 200, "catalogue": 100, "borrowers": 200, "runs": 3}
# Needs matched per transaction: as the re-match jobs batch them.
BATCH = Settings.rematch_batch_size


@contextlib.contextmanager
def scratch_database(postgres: str | None) -> Iterator[str]:
    if postgres is None:
        with tempfile.TemporaryDirectory(prefix="jihuitong-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    name = f"jihuitong_bench_{os.getpid()}"
    admin = create_engine(postgres.rstrip("/") + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres.rstrip("/") + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrate(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


def fill(engine_: Engine, rng: random.Random, *, products: int, needs: int, borrowers: int) -> None:
    """Institutions with one officer each, `products` published products, `borrowers` borrowers (scored
    four in five), `needs` needs."""
    now = utcnow()
    regions = list(REGIONS)
    kinds = list(BORROWER_KINDS)
    collaterals = list(COLLATERAL_KINDS)
    with engine_.begin() as conn:
        conn.execute(
            insert(Institution),
            [
                {"code": f"B{i:03d}", "name": f"合成银行{i}", "kind": "bank", "created_at": now}
                for i in range(INSTITUTIONS)
            ],
        )
        ids = list(conn.scalars(select(Institution.id).order_by(Institution.id)))
        conn.execute(
            insert(User),
            [
                {
                    "username": f"officer{i}",
                    # A bulk insert bypasses the model, which keeps the unique sign-in key itself.
                    "username_key": casefold_username(f"officer{i}"),
                    "password_hash": "x",
                    "role": Role.OFFICER.value,
                    "institution_id": inst,
                    "active": True,
                    "created_at": now,
                }
                for i, inst in enumerate(ids)
            ],
        )
        rows = []
        for i in range(products):
            low = rng.choice([10_000, 50_000, 100_000, 300_000])
            rows.append(
                {
                    "institution_id": rng.choice(ids),
                    "name": f"合成产品{i}",
                    "description": "",
                    "min_amount": Decimal(low),
                    "max_amount": Decimal(low * rng.choice([10, 20, 50, 100])),
                    "min_term_months": rng.choice([1, 3, 6]),
                    "max_term_months": rng.choice([12, 24, 36, 60]),
                    "rate_min": Decimal(rng.choice(["3.45", "3.85", "4.20", "4.80", "5.50"])),
                    "rate_max": Decimal("8.00"),
                    "collateral": rng.sample(collaterals, rng.randint(1, 3)),
                    "borrower_kinds": rng.sample(kinds, rng.randint(1, 3)),
                    "region_codes": [] if rng.random() < 0.5 else rng.sample(regions, rng.randint(1, 4)),
                    "industries_excluded": rng.sample(list(SECTIONS), rng.randint(0, 3)),
                    "min_score": rng.choice([None, None, 560, 620, 680]),
                    "tags": ["first_loan"],
                    "sla_hours": 8,
                    "follow_up_hours": 24,
                    "status": "published",
                    "created_at": now,
                    "updated_at": now,
                    "published_at": now,
                }
            )
        conn.execute(insert(Product), rows)
        conn.execute(
            insert(Borrower),
            [
                {
                    "kind": rng.choice(kinds),
                    "name": f"合成主体{i}",
                    "uscc": None,
                    "id_number": None,
                    "region_code": rng.choice(regions),
                    "industry_code": rng.choice(SECTIONS),
                    "synthetic": True,
                    "created_at": now,
                }
                for i in range(borrowers)
            ],
        )
        # Each need carries a copy of its borrower's county, kind and industry (matching.models.BorrowerCopy),
        # which a foreign key keeps equal to the borrower's: copied here from the rows just written.
        written = list(
            conn.execute(
                select(Borrower.id, Borrower.region_code, Borrower.kind, Borrower.industry_code).order_by(
                    Borrower.id
                )
            )
        )
        conn.execute(
            insert(CreditScore),
            [
                {
                    "borrower_id": b.id,
                    "score": rng.randint(480, 820),
                    "grade": "C",
                    "reasons": [],
                    "sources": {},
                    "model_version": "bench",
                    "computed_at": now,
                }
                for b in written
                if rng.random() < 0.8
            ],
        )
        conn.execute(
            insert(Need),
            [
                {
                    "borrower_id": borrower.id,
                    "region_code": borrower.region_code,
                    "borrower_kind": borrower.kind,
                    "industry_code": borrower.industry_code,
                    "amount": Decimal(rng.choice([80_000, 300_000, 1_000_000])),
                    "term_months": rng.choice([6, 12, 24]),
                    "purpose": "合成需求",
                    "collateral": rng.choice(collaterals),
                    "declared_prior_loan": False,
                    "is_renewal": False,
                    "status": "submitted",
                    "dispatch_round": 0,
                    "open_to_all": False,
                    "submitted_at": now,
                    "updated_at": now,
                }
                for borrower in (rng.choice(written) for _ in range(needs))
            ],
        )


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def load_catalogue(session: Session) -> list[Product]:
    return list(session.scalars(select(Product).where(Product.status == "published").order_by(Product.id)))


def read_need_rows(session: Session, need_id: int) -> None:
    """The rows one match reads for a need, read the same way, without matching."""
    need = session.get(Need, need_id)
    assert need is not None
    session.get(Borrower, need.borrower_id)
    latest_score(session, need.borrower_id)
    list(session.scalars(select(Lead.institution_id).where(Lead.need_id == need_id)))


def read_batch_rows(session: Session, need_ids: list[int]) -> None:
    """The rows a batch of needs reads, read set-based as `match_needs` reads them, without matching."""
    needs = list(session.scalars(select(Need).where(Need.id.in_(need_ids)).order_by(Need.id)))
    borrower_ids = sorted({need.borrower_id for need in needs})
    list(session.scalars(select(Borrower).where(Borrower.id.in_(borrower_ids))))
    latest_scores(session, borrower_ids)
    list(session.execute(select(Lead.need_id, Lead.institution_id).where(Lead.need_id.in_(need_ids))))


def batches(need_ids: list[int]) -> list[list[int]]:
    return [need_ids[i : i + BATCH] for i in range(0, len(need_ids), BATCH)]


def one_need(factory: Callable[[], Session], runs: int) -> tuple[float, float]:
    need_id = 1
    matched, floor = [], []
    for _ in range(runs):
        with factory() as session:
            floor.append(timed(lambda s=session: (load_catalogue(s), read_need_rows(s, need_id))))
        with factory() as session:
            matched.append(timed(lambda s=session: match_need(s, need_id, top_n=3)))
            session.rollback()
    return statistics.median(matched), statistics.median(floor)


@contextlib.contextmanager
def engine_clock() -> Iterator[list[float]]:
    """Seconds spent in the engine (`engine.evaluate`) and the explanations (`dispatch._summary`) while
    the block runs: the share of the matching that is not reading or writing."""
    spent = [0.0]
    originals = (engine.evaluate, dispatch._summary)

    def clocked(func: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start

        return run

    engine.evaluate, dispatch._summary = (clocked(f) for f in originals)  # type: ignore[assignment]
    try:
        yield spent
    finally:
        engine.evaluate, dispatch._summary = originals  # type: ignore[assignment]


def many_needs(
    factory: Callable[[], Session], need_ids: list[int]
) -> tuple[float, float, float, float, float]:
    with factory() as session:
        start = time.perf_counter()
        load_catalogue(session)
        for need_id in need_ids:
            read_need_rows(session, need_id)
        floor = time.perf_counter() - start

    with factory() as session:
        start = time.perf_counter()
        load_catalogue(session)
        for batch in batches(need_ids):
            read_batch_rows(session, batch)
        batched_floor = time.perf_counter() - start

    with factory() as session:  # the engine alone on the prepared index, specs built beforehand
        context = load_match_context(session)
        specs = [need_specs(session, session.get(Need, need_id))[:2] for need_id in need_ids]  # type: ignore[arg-type]
        start = time.perf_counter()
        for need_spec, borrower_spec in specs:
            engine.evaluate(need_spec, borrower_spec, context.index, context.stats, top_n=3)
        engine_only = time.perf_counter() - start

    with factory() as session, engine_clock() as in_engine:  # a batch per transaction, as the jobs run
        start = time.perf_counter()
        context = load_match_context(session)
        for batch in batches(need_ids):
            match_needs(session, batch, top_n=3, context=context)
            session.commit()
        matched = time.perf_counter() - start
    return matched, floor, batched_floor, engine_only, in_engine[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--needs", type=int, default=10_000)
    parser.add_argument("--big-catalogue", type=int, default=5_000)
    parser.add_argument("--catalogue", type=int, default=2_000)
    parser.add_argument("--borrowers", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", help="server URL without a database name; a scratch database is made")
    parser.add_argument(
        "--tiny", action="store_true", help="a few seconds' run at the TINY sizes, as the tests run it"
    )
    args = parser.parse_args(argv)
    if args.tiny:  # the tiny sizes as defaults: a size given explicitly still wins
        parser.set_defaults(**TINY)
        args = parser.parse_args(argv)
    rng = random.Random(SEED)

    with scratch_database(args.postgres) as url:
        engine_ = make_engine(url)
        migrate(url)
        factory = make_session_factory(engine_)
        print(f"database: {engine_.dialect.name}")

        fill(engine_, rng, products=args.big_catalogue, needs=1, borrowers=args.borrowers)
        matched, floor = one_need(factory, args.runs)
        print(
            f"1 need x {args.big_catalogue} products: match {matched * 1000:.1f} ms, "
            f"floor {floor * 1000:.1f} ms, ratio {matched / floor:.2f}"
        )

        with engine_.begin() as conn:
            for table in ("needs", "credit_scores", "borrowers", "products", "users", "institutions"):
                conn.execute(text(f'DELETE FROM "{table}"'))
        fill(engine_, rng, products=args.catalogue, needs=args.needs, borrowers=args.borrowers)
        with factory() as session:
            need_ids = list(session.scalars(select(Need.id).order_by(Need.id)))
        matched, floor, batched_floor, engine_only, in_engine = many_needs(factory, need_ids)
        with factory() as session:
            leads = session.scalar(select(func.count()).select_from(Lead))
        print(
            f"{args.needs} needs x {args.catalogue} products: match {matched:.2f} s "
            f"({matched / args.needs * 1000:.2f} ms/need, {leads} leads, batches of {BATCH}), "
            f"floor {floor:.2f} s, ratio {matched / floor:.2f}; "
            f"batched floor {batched_floor:.2f} s, ratio {matched / batched_floor:.2f}; "
            f"engine alone {engine_only:.2f} s, ratio {engine_only / floor:.2f}; "
            f"engine and explanations in the match {in_engine:.2f} s, "
            f"match less those {matched - in_engine:.2f} s, ratio {(matched - in_engine) / floor:.2f}"
        )
        engine_.dispose()


if __name__ == "__main__":
    main()
