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
time with the same number of users:

- hello: GET /healthz (a route that does nothing; informational), for --seconds
- inbox: the officer's leads page GET /officer/leads (logged in through the form as the first
  officer of the institution with the most leads), and GET /api/v1/leads with a bearer token; each
  with its floor (GET /bench/floor/leads, GET /api/v1/bench/floor/leads)
- products: the 金融超市 page GET /products, and GET /api/v1/products; each with its floor
  (GET /bench/floor/products, GET /api/v1/bench/floor/products)

A floor and its page are measured by the same users on the same connections in alternating turns
(--rounds of each, --seconds in all per route; harness.measure_alternating), so that the machine's
drifting speed and the workers' share of the connections fall on both alike.

It prints for each route requests/s, p50, p99, failures, the CPU the server and locust used, and the ratio
of its throughput to its floor's. Each graded scenario PASSes at a ratio of at least 0.7. Exits 1 if
one FAILs or any request failed.

    .venv/bin/python bench/load.py [--database postgresql://postgres@127.0.0.1:5432] [--users 16]
        [--seconds 20] [--warmup 3] [--rounds 4]
    .venv/bin/python bench/load.py --tiny [--database ...]   # under a minute: does it still run?

``--tiny`` (2 users, 0.5 s per route after 0.25 s, one turn each, which the test suite runs) runs every scenario once
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
    Alternating,
    BenchUser,
    Measure,
    Server,
    Target,
    api_token,
    busiest_officer,
    configure_logging,
    database_option,
    expect_page,
    gunicorn,
    measure,
    measure_alternating,
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
TINY = {"users": 2, "seconds": 0.5, "warmup": 0.25, "rounds": 1}
# Uncounted seconds before each later turn of an alternating scenario: the previous route's requests end.
SETTLE = 0.5
OFFICER: dict[str, str] = {}  # set once the database is seeded


class Hello(BenchUser):
    @task
    def healthz(self) -> None:
        expect_page(self.client, "/healthz", "GET /healthz")


LEAD_LINK = 'href="/officer/leads/'
PRODUCT_LINK = 'href="/products/'
ITEMS = '"items"'


class InboxPages(Alternating):
    """The officer's inbox page and its floor, logged in through the form."""

    targets = (Target("/bench/floor/leads", LEAD_LINK), Target("/officer/leads", LEAD_LINK))

    def prepare(self) -> None:
        web_login(self.client, OFFICER["username"])


class InboxApis(Alternating):
    """GET /api/v1/leads and its floor, with a bearer token."""

    targets = (Target("/api/v1/bench/floor/leads", ITEMS), Target("/api/v1/leads", ITEMS))

    def prepare(self) -> None:
        self.auth = api_token(self.client, OFFICER["username"])

    def headers(self) -> dict[str, str]:
        return self.auth


class ProductsPages(Alternating):
    targets = (Target("/bench/floor/products", PRODUCT_LINK), Target("/products", PRODUCT_LINK))


class ProductsApis(Alternating):
    targets = (Target("/api/v1/bench/floor/products", ITEMS), Target("/api/v1/products", ITEMS))


# Each scenario's names (as printed) and user class: a floor and its page, measured in turns by the same
# users; the second is graded against the first.
SCENARIOS: list[tuple[tuple[str, ...], type[BenchUser]]] = [
    (("hello      GET /healthz",), Hello),
    (("floor      GET /bench/floor/leads", "inbox      GET /officer/leads"), InboxPages),
    (("floor      GET /api/v1/bench/floor/leads", "inbox      GET /api/v1/leads"), InboxApis),
    (("floor      GET /bench/floor/products", "products   GET /products"), ProductsPages),
    (("floor      GET /api/v1/bench/floor/products", "products   GET /api/v1/products"), ProductsApis),
]


def _measure(server: Server, user_class: type[BenchUser], args: argparse.Namespace) -> list[Measure]:
    """A scenario's routes: a lone one for its time, a floor and its page in alternating turns."""
    sizes = {"users": args.users, "seconds": args.seconds, "warmup": args.warmup}
    if issubclass(user_class, Alternating):
        return measure_alternating(
            server, server.base_url, user_class, rounds=args.rounds, settle=SETTLE, **sizes
        )
    return [measure(server, server.base_url, user_class, **sizes)]


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
    parser.add_argument("--rounds", type=int, default=4, help="turns of a floor and its page, alternating")
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
    chosen = [
        (names, user_class)
        for names, user_class in SCENARIOS
        if not args.only or any(p in name for name in names for p in args.only)
    ]
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
            f"server: gunicorn --workers {WORKERS} --threads {THREADS} --reuse-port on 127.0.0.1; "
            f"LOGIN_RATE_LIMIT and API_RATE_LIMIT set to {UNTHROTTLED!r} for the bench server only, "
            "SWEEP_INTERVAL_SECONDS=0, BENCH_FLOOR_ROUTES=1, no REDIS_URL"
        )
        print(f"officer: {OFFICER['username']} ({leads} leads in the institution's inbox, 20 a page)")
        print(
            f"load: {args.users} locust users (FastHttpUser, no wait), {args.seconds:g} s measured per route "
            f"after {args.warmup:g} s warm-up; a floor and its page by the same users in {args.rounds} "
            f"turns each, alternating ({SETTLE:g} s uncounted before each later turn)"
        )
        with gunicorn(env, Path(tmp)) as server:
            for names, user_class in chosen:
                attempts = 1 if args.tiny else ATTEMPTS
                for attempt in range(1, attempts + 1):
                    measured = _measure(server, user_class, args)
                    busiest = max(m.busiest_share for m in measured)
                    if busiest <= BALANCED or attempt == attempts:
                        break
                    print(
                        f"  {names[-1]}: one worker did {busiest:.0%} of the work; measured again",
                        file=sys.stderr,
                        flush=True,
                    )
                for index, (name, m) in enumerate(zip(names, measured, strict=True)):
                    results.append((name, m, names[0] if index else None))
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
