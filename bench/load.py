"""HTTP throughput of the officer inbox and the product list against a floor measured in the same run:
a route that does nothing (GET /healthz).

Creates a database of its own (a fresh PostgreSQL database on the server given by --database or
DATABASE_URL, dropped afterwards; else a SQLite file in a temporary directory), migrates it and loads
the demo data with the flask CLI, then serves it with gunicorn on 127.0.0.1 (2 worker processes, 8
threads each, as scripts/run otherwise starts it). Rate limits are raised for that server only, so
that no bench client is throttled; periodic sweeps are off.

locust (as a library, headless, FastHttpUser, no wait between requests) then drives one scenario at a
time with the same number of users for the same duration:

- hello: GET /healthz (the floor; measured first and last, the mean is the floor)
- inbox: the officer's leads page GET /officer/leads (logged in through the form as the first
  officer of the institution with the most leads), and GET /api/v1/leads with a bearer token
- products: the 金融超市 page GET /products, and GET /api/v1/products
- the inbox page again while another process commits a transaction 1 and then 10 times a second (on
  PostgreSQL; informational, not graded): the inbox is kept per officer only while the database is
  unchanged (portal.caching), so these show what it costs when the data moves

and prints for each requests/s, p50, p99, failures, the CPU the server and locust used, and the ratio
of its throughput to the floor's. Each graded inbox and product scenario PASSes at a ratio of at least
0.5. Exits 1 if one FAILs or any request failed.

    .venv/bin/python bench/load.py [--database postgresql://postgres@127.0.0.1:5432] [--users 16]
        [--seconds 20] [--warmup 3]
    .venv/bin/python bench/load.py --tiny [--database ...]   # under a minute: does it still run?

``--tiny`` (2 users, 0.5 s per scenario after 0.25 s, which the test suite runs) runs every scenario once
(none is measured again), with the demo accounts' passwords hashed with argon2's cheapest parameters
(harness.seed); it prints every ratio but grades none: only a failed request fails it.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import (
    THREADS,
    UNTHROTTLED,
    WORKERS,
    BenchUser,
    Measure,
    api_token,
    busiest_officer,
    configure_logging,
    database_option,
    expect_page,
    gunicorn,
    measure,
    scratch_database,
    seed,
    server_environment,
    web_login,
)
from locust import task

GOAL = 0.5
# A scenario whose load fell mostly on one of the two workers (the connections each accepted) is measured
# again, up to ATTEMPTS times: the floor and the scenarios compare only when both workers served.
BALANCED = 0.7
ATTEMPTS = 3
# The sizes of `--tiny`, which the test suite runs (tests/bench/test_benches.py) so that this bench cannot
# rot.
TINY = {"users": 2, "seconds": 0.5, "warmup": 0.25}
OFFICER: dict[str, str] = {}  # set once the database is seeded


class Hello(BenchUser):
    @task
    def healthz(self) -> None:
        expect_page(self.client, "/healthz", "GET /healthz")


class InboxPage(BenchUser):
    def prepare(self) -> None:
        web_login(self.client, OFFICER["username"])

    @task
    def inbox(self) -> None:
        expect_page(self.client, "/officer/leads", "GET /officer/leads", marker='href="/officer/leads/')


class InboxApi(BenchUser):
    def prepare(self) -> None:
        self.auth = api_token(self.client, OFFICER["username"])

    @task
    def inbox(self) -> None:
        expect_page(self.client, "/api/v1/leads", "GET /api/v1/leads", marker='"items"', headers=self.auth)


class ProductsPage(BenchUser):
    @task
    def products(self) -> None:
        expect_page(self.client, "/products", "GET /products", marker='href="/products/')


class ProductsApi(BenchUser):
    @task
    def products(self) -> None:
        expect_page(self.client, "/api/v1/products", "GET /api/v1/products", marker='"items"')


# (name, users, graded, commits a second by another process meanwhile)
SCENARIOS: list[tuple[str, type[BenchUser], bool, int]] = [
    ("hello      GET /healthz", Hello, False, 0),
    ("inbox      GET /officer/leads", InboxPage, True, 0),
    ("inbox      GET /api/v1/leads", InboxApi, True, 0),
    ("products   GET /products", ProductsPage, True, 0),
    ("products   GET /api/v1/products", ProductsApi, True, 0),
    ("changing   GET /officer/leads, 1 commit/s", InboxPage, False, 1),
    ("changing   GET /officer/leads, 10 commits/s", InboxPage, False, 10),
    ("hello      GET /healthz (again)", Hello, False, 0),
]
# A transaction that takes a transaction id and commits: a new database state, no data changed.
COMMITTER = """
import sys, time, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_current_xact_id()")
        time.sleep(1 / float(sys.argv[2]))
"""


@contextlib.contextmanager
def committing(url: str, per_second: int) -> Iterator[None]:
    """Another process committing `per_second` times a second meanwhile (PostgreSQL only)."""
    if not per_second:
        yield
        return
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    process = subprocess.Popen([sys.executable, "-c", COMMITTER, dsn, str(per_second)])
    try:
        yield
    finally:
        process.kill()
        process.wait()


def row(name: str, m: Measure, floor: float | None) -> str:
    ratio = f"{m.rps / floor:>6.2f}" if floor else f"{'-':>6}"
    return (
        f"{name:<44} {m.rps:>8.1f} {m.p50_ms:>7.0f} {m.p99_ms:>7.0f} {m.failures:>8d}"
        f" {m.server_cpu:>7.2f} {m.busiest_share:>8.0%} {m.bench_cpu:>6.2f} {ratio}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="PostgreSQL server URL (default DATABASE_URL, else SQLite)")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3.0, help="uncounted seconds before each")
    parser.add_argument(
        "--tiny", action="store_true", help="a short run at the TINY sizes, not graded, as the tests run it"
    )
    args = parser.parse_args(argv)
    if args.tiny:  # the tiny sizes as defaults: a size given explicitly still wins
        parser.set_defaults(**TINY)
        args = parser.parse_args(argv)
    configure_logging()

    results: list[tuple[str, Measure, bool]] = []
    with (
        scratch_database(database_option(args.database), "load") as url,
        tempfile.TemporaryDirectory(prefix="jihuitong-load-") as tmp,
    ):
        env = server_environment(url, SWEEP_INTERVAL_SECONDS="0")
        took = seed(env, cheap_passwords=args.tiny)
        OFFICER["username"], leads = busiest_officer(url)
        print(f"database: {url.split('@')[-1]} (demo data seeded in {took:.0f} s)")
        print(
            f"server: gunicorn --workers {WORKERS} --threads {THREADS} on 127.0.0.1; "
            f"LOGIN_RATE_LIMIT and API_RATE_LIMIT set to {UNTHROTTLED!r} for the bench server only, "
            "SWEEP_INTERVAL_SECONDS=0, no REDIS_URL"
        )
        print(f"officer: {OFFICER['username']} ({leads} leads in the institution's inbox, 20 a page)")
        print(
            f"load: {args.users} locust users (FastHttpUser, no wait), {args.seconds:g} s measured after "
            f"{args.warmup:g} s warm-up, one scenario at a time"
        )
        with gunicorn(env, Path(tmp)) as server:
            for name, user_class, graded, commits in SCENARIOS:
                if commits and not url.startswith("postgresql"):
                    continue
                attempts = 1 if args.tiny else ATTEMPTS
                for attempt in range(1, attempts + 1):
                    with committing(url, commits):
                        m = measure(
                            server,
                            server.base_url,
                            user_class,
                            users=args.users,
                            seconds=args.seconds,
                            warmup=args.warmup,
                        )
                    if m.busiest_share <= BALANCED or attempt == attempts:
                        break
                    print(
                        f"  {name}: one worker did {m.busiest_share:.0%} of the work; measured again",
                        file=sys.stderr,
                        flush=True,
                    )
                results.append((name, m, graded))
                print(f"  {name}: {m.rps:.0f} req/s", file=sys.stderr, flush=True)
    return report(results, graded=not args.tiny)


def report(results: list[tuple[str, Measure, bool]], *, graded: bool = True) -> int:
    """The table and, unless not graded (`--tiny`), a verdict per graded scenario; 1 if a request failed
    or a graded scenario fell short of the goal."""
    hellos = [m.rps for name, m, _graded in results if name.startswith("hello")]
    floor = sum(hellos) / len(hellos)
    print()
    print(
        f"{'scenario':<44} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'failures':>8} {'srv CPU':>7} {'busiest':>8} {'locust':>6} {'ratio':>6}"
    )
    for name, m, _graded in results:
        print(row(name, m, floor))
    print(
        f"floor: mean hello throughput {floor:.1f} req/s (first {hellos[0]:.1f}, last {hellos[-1]:.1f}); "
        "CPU in cores (the machine's cores are shared by the server and locust); busiest: the share of the "
        f"server's CPU its busiest process used (above {BALANCED:.0%} a scenario is measured again, up to "
        f"{ATTEMPTS} times)"
    )
    status = 0
    for name, m, has_goal in results:
        errors: dict[str, Any] = m.errors
        for error, count in errors.items():
            print(f"  error x{count}: {error}")
        if m.failures:
            status = 1
        if has_goal:
            ratio = m.rps / floor
            verdict = "PASS" if ratio >= GOAL and not m.failures else "FAIL"
            if not graded:
                verdict = f"{verdict} (not graded at --tiny)"
            elif verdict == "FAIL":
                status = 1
            print(f"{verdict}: {name.split(None, 1)[1]} at {ratio:.2f} of hello throughput (goal >= {GOAL})")
    return status


if __name__ == "__main__":
    sys.exit(main())
