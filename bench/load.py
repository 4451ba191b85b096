"""HTTP throughput of the officer inbox and the product list, each against its floor measured in the same
run: a route in the same app that authenticates the same way and runs the page's own SELECT for the same
rows (built by the same function: the inbox's read model, the catalogue's statement), rendered with a
minimal template or jsonify (portal/floors.py, served with BENCH_FLOOR_ROUTES=1), so that the ratio shows
what our own layers cost.

Creates a database of its own (a fresh PostgreSQL database on the server given by --database or
DATABASE_URL, dropped afterwards; else a SQLite file in a temporary directory), migrates it and loads
the demo data with the flask CLI, then serves it with gunicorn on 127.0.0.1 (2 worker processes, 8
threads each, as scripts/run otherwise starts it). Rate limits are raised for that server only, so
that no bench client is throttled; periodic sweeps are off; the floor routes are on.

locust (as a library, headless, FastHttpUser, no wait between requests) then drives one scenario at a
time with the same number of users for the same duration:

- hello: GET /healthz (a route that does nothing; informational)
- inbox: the officer's leads page GET /officer/leads (logged in through the form as the first
  officer of the institution with the most leads), and GET /api/v1/leads with a bearer token; each
  right after its floor (GET /bench/floor/leads, GET /api/v1/bench/floor/leads)
- products: the 金融超市 page GET /products, and GET /api/v1/products; each right after its floor
  (GET /bench/floor/products, GET /api/v1/bench/floor/products)

and prints for each requests/s, p50, p99, failures, the CPU the server and locust used, and the ratio
of its throughput to its floor's. Each graded scenario PASSes at a ratio of at least 0.7. Exits 1 if
one FAILs or any request failed.

    .venv/bin/python bench/load.py [--database postgresql://postgres@127.0.0.1:5432] [--users 16]
        [--seconds 20] [--warmup 3]
    .venv/bin/python bench/load.py --tiny [--database ...]   # under a minute: does it still run?

``--tiny`` (2 users, 0.5 s per scenario after 0.25 s, which the test suite runs) runs every scenario once
(none is measured again), with the demo accounts' passwords hashed with argon2's cheapest parameters
(harness.seed); it prints every ratio but grades none: only a failed request fails it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
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

GOAL = 0.7
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


class SignedInOfficer(BenchUser):
    abstract = True

    def prepare(self) -> None:
        web_login(self.client, OFFICER["username"])


class OfficerWithToken(BenchUser):
    abstract = True

    def prepare(self) -> None:
        self.auth = api_token(self.client, OFFICER["username"])


# Each class declares its one task itself: a subclass would run its parent's tasks too.
class InboxPage(SignedInOfficer):
    @task
    def inbox(self) -> None:
        expect_page(self.client, "/officer/leads", "GET /officer/leads", marker='href="/officer/leads/')


class InboxApi(OfficerWithToken):
    @task
    def inbox(self) -> None:
        expect_page(self.client, "/api/v1/leads", "GET /api/v1/leads", marker='"items"', headers=self.auth)


class InboxPageFloor(SignedInOfficer):
    @task
    def inbox(self) -> None:
        expect_page(
            self.client, "/bench/floor/leads", "GET /bench/floor/leads", marker='href="/officer/leads/'
        )


class InboxApiFloor(OfficerWithToken):
    @task
    def inbox(self) -> None:
        path = "/api/v1/bench/floor/leads"
        expect_page(self.client, path, f"GET {path}", marker='"items"', headers=self.auth)


class ProductsPageFloor(BenchUser):
    @task
    def products(self) -> None:
        expect_page(
            self.client, "/bench/floor/products", "GET /bench/floor/products", marker='href="/products/'
        )


class ProductsApiFloor(BenchUser):
    @task
    def products(self) -> None:
        path = "/api/v1/bench/floor/products"
        expect_page(self.client, path, f"GET {path}", marker='"items"')


class ProductsPage(BenchUser):
    @task
    def products(self) -> None:
        expect_page(self.client, "/products", "GET /products", marker='href="/products/')


class ProductsApi(BenchUser):
    @task
    def products(self) -> None:
        expect_page(self.client, "/api/v1/products", "GET /api/v1/products", marker='"items"')


# (name, user class, the floor it is graded against or None); a floor comes right before its pages.
SCENARIOS: list[tuple[str, type[BenchUser], str | None]] = [
    ("hello      GET /healthz", Hello, None),
    ("floor      GET /bench/floor/leads", InboxPageFloor, None),
    ("inbox      GET /officer/leads", InboxPage, "floor      GET /bench/floor/leads"),
    ("floor      GET /api/v1/bench/floor/leads", InboxApiFloor, None),
    ("inbox      GET /api/v1/leads", InboxApi, "floor      GET /api/v1/bench/floor/leads"),
    ("floor      GET /bench/floor/products", ProductsPageFloor, None),
    ("products   GET /products", ProductsPage, "floor      GET /bench/floor/products"),
    ("floor      GET /api/v1/bench/floor/products", ProductsApiFloor, None),
    ("products   GET /api/v1/products", ProductsApi, "floor      GET /api/v1/bench/floor/products"),
]


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
        "--only", action="append", help="run only the scenarios whose name contains this (repeatable)"
    )
    parser.add_argument(
        "--tiny", action="store_true", help="a short run at the TINY sizes, not graded, as the tests run it"
    )
    args = parser.parse_args(argv)
    if args.tiny:  # the tiny sizes as defaults: a size given explicitly still wins
        parser.set_defaults(**TINY)
        args = parser.parse_args(argv)
    configure_logging()

    results: list[tuple[str, Measure, str | None]] = []
    chosen = {name for name, _user, _floor in SCENARIOS if not args.only or any(p in name for p in args.only)}
    chosen |= {floor for name, _user, floor in SCENARIOS if name in chosen and floor}
    with (
        scratch_database(database_option(args.database), "load") as url,
        tempfile.TemporaryDirectory(prefix="jihuitong-load-") as tmp,
    ):
        env = server_environment(url, SWEEP_INTERVAL_SECONDS="0", BENCH_FLOOR_ROUTES="1")
        took = seed(env, cheap_passwords=args.tiny, drain=not args.tiny)
        OFFICER["username"], leads = busiest_officer(url)
        drained = "" if args.tiny else ", its pending jobs run before the server starts"
        print(f"database: {url.split('@')[-1]} (demo data seeded in {took:.0f} s{drained})")
        print(
            f"server: gunicorn --workers {WORKERS} --threads {THREADS} on 127.0.0.1; "
            f"LOGIN_RATE_LIMIT and API_RATE_LIMIT set to {UNTHROTTLED!r} for the bench server only, "
            "SWEEP_INTERVAL_SECONDS=0, BENCH_FLOOR_ROUTES=1, no REDIS_URL"
        )
        print(f"officer: {OFFICER['username']} ({leads} leads in the institution's inbox, 20 a page)")
        print(
            f"load: {args.users} locust users (FastHttpUser, no wait), {args.seconds:g} s measured after "
            f"{args.warmup:g} s warm-up, one scenario at a time"
        )
        with gunicorn(env, Path(tmp)) as server:
            for name, user_class, graded in SCENARIOS:
                if name not in chosen:
                    continue
                attempts = 1 if args.tiny else ATTEMPTS
                for attempt in range(1, attempts + 1):
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


def report(results: list[tuple[str, Measure, str | None]], *, graded: bool = True) -> int:
    """The table and, unless not graded (`--tiny`), a verdict per graded scenario; 1 if a request failed
    or a graded scenario fell short of the goal."""
    rps = {name: m.rps for name, m, _floor in results}
    print()
    print(
        f"{'scenario':<44} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'failures':>8} {'srv CPU':>7} {'busiest':>8} {'locust':>6} {'ratio':>6}"
    )
    for name, m, floor in results:
        print(row(name, m, rps.get(floor) if floor else None))
    print(
        "ratio: the scenario's throughput over its floor's (the route just above it); CPU in cores (the "
        "machine's cores are shared by the server and locust); busiest: the share of the server's CPU its "
        f"busiest process used (above {BALANCED:.0%} a scenario is measured again, up to {ATTEMPTS} times)"
    )
    status = 0
    for name, m, floor in results:
        errors: dict[str, Any] = m.errors
        for error, count in errors.items():
            print(f"  error x{count}: {error}")
        if m.failures:
            status = 1
        if floor and floor in rps:
            ratio = m.rps / rps[floor]
            verdict = "PASS" if ratio >= GOAL and not m.failures else "FAIL"
            if not graded:
                verdict = f"{verdict} (not graded at --tiny)"
            elif verdict == "FAIL":
                status = 1
            print(f"{verdict}: {name.split(None, 1)[1]} at {ratio:.2f} of its floor (goal >= {GOAL})")
    return status


if __name__ == "__main__":
    sys.exit(main())
