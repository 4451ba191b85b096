"""Soak: a mixed, modest load for a long time; no request may fail and no worker may keep growing.

The server is set up as bench/load.py sets it up (a scratch database with the demo data, gunicorn with
2 worker processes on 127.0.0.1, rate limits raised for it only, no Redis), except that the periodic
sweeps run every minute in each worker, as they would without Redis. locust (as a library, headless)
then runs, for --minutes, users that think between requests (1 to 3 s):

- anonymous visitors browsing the 金融超市 (/products, a product's page, GET /api/v1/products),
- applicants logged in through the form looking at their needs (/me/needs and one need's page), now
  and then logging out and in again,
- officers on their inbox page and a lead's page, and on GET /api/v1/leads with a bearer token,
- finance offices fetching GET /api/v1/stats/summary for the last year.

Every ~10 s it samples the resident memory (RSS) of each gunicorn worker. The warm-up is the first
2 minutes, or the first 10 % of a shorter run. It prints the errors and, for each worker, its memory
after the warm-up, at the end and the growth between the two. Exits 1 if any request failed, a worker
was replaced, or a worker grew by 10 % or more.

    .venv/bin/python bench/soak.py [--minutes 30] [--users 20] [--database postgresql://postgres@127.0.0.1:5432]
    .venv/bin/python bench/soak.py --tiny [--database ...]   # well under a minute: does it still run?

``--tiny`` (4 users, one of each kind, for 3 s, memory sampled every 0.5 s, which the test suite runs)
goes through every step with the demo accounts' passwords hashed with argon2's cheapest parameters
(harness.seed). It fails on a failed request, a user's exception or a replaced worker, but does not
grade the memory growth: a few seconds after start a worker is still warming up.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent
import psutil
from harness import (
    THREADS,
    UNTHROTTLED,
    WORKERS,
    BenchUser,
    api_token,
    configure_logging,
    database_option,
    expect_page,
    gunicorn,
    locust_users,
    query,
    scratch_database,
    seed,
    server_environment,
    web_login,
)
from locust import between, task
from locust.env import Environment

MAX_GROWTH = 0.10
SAMPLE_SECONDS = 10.0
# The sizes of `--tiny`, which the test suite runs (tests/bench/test_benches.py) so that this bench cannot
# rot.
TINY = {"minutes": 0.05, "users": 4, "sample_seconds": 0.5}
SWEEP_SECONDS = "60"
LINK = re.compile(r'href="(/(?:products|me/needs|officer/leads)/\d+)"')
LOGOUT_CSRF = re.compile(r'action="/logout".*?name="csrf_token" value="([^"]+)"', re.S)
ACCOUNTS: dict[str, list[str]] = {}  # filled from the seeded database


def _links(text: str | None, prefix: str) -> list[str]:
    return [link for link in LINK.findall(text or "") if link.startswith(prefix)]


class Visitor(BenchUser):
    weight = 4
    wait_time = between(1, 3)

    @task(3)
    def products(self) -> None:
        with self.client.get("/products", name="GET /products", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"/products answered {response.status_code}")
                return
            links = _links(response.text, "/products/")
        if links:
            expect_page(self.client, random.choice(links), "GET /products/<id>")

    @task(1)
    def products_api(self) -> None:
        expect_page(self.client, "/api/v1/products", "GET /api/v1/products", marker='"items"')


def _list_then_one(client: Any, path: str, prefix: str) -> None:
    """A list page, then one of the items it links to, as a person reading their list would."""
    with client.get(path, name=f"GET {path}", allow_redirects=False, catch_response=True) as response:
        if response.status_code != 200:
            response.failure(f"{path} answered {response.status_code}")
            return
        links = _links(response.text, prefix)
    if links:
        expect_page(client, random.choice(links), f"GET {prefix}<id>")


class Applicant(BenchUser):
    weight = 2
    wait_time = between(1, 3)

    def prepare(self) -> None:
        self.username = random.choice(ACCOUNTS["applicants"])
        web_login(self.client, self.username)

    @task(5)
    def needs(self) -> None:
        _list_then_one(self.client, "/me/needs", "/me/needs/")

    @task(1)
    def log_in_again(self) -> None:
        with self.client.get("/me/needs", name="GET /me/needs", catch_response=True) as page:
            match = LOGOUT_CSRF.search(page.text or "")
            if not match:
                page.failure("no logout form on /me/needs")
                return
        with self.client.post(
            "/logout",
            data=f"csrf_token={match.group(1)}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            name="POST /logout",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"logout answered {response.status_code}")
        web_login(self.client, self.username)


class Officer(BenchUser):
    weight = 2
    wait_time = between(1, 3)

    def prepare(self) -> None:
        username = random.choice(ACCOUNTS["officers"])
        web_login(self.client, username)
        self.auth = api_token(self.client, username)

    @task(3)
    def inbox(self) -> None:
        _list_then_one(self.client, "/officer/leads", "/officer/leads/")

    @task(2)
    def inbox_api(self) -> None:
        expect_page(self.client, "/api/v1/leads", "GET /api/v1/leads", marker='"items"', headers=self.auth)


class Finance(BenchUser):
    weight = 1
    wait_time = between(1, 3)

    def prepare(self) -> None:
        self.auth = api_token(self.client, random.choice(ACCOUNTS["finance"]))

    @task
    def summary(self) -> None:
        today = dt.date.today()
        expect_page(
            self.client,
            f"/api/v1/stats/summary?from={today - dt.timedelta(days=365)}&to={today}",
            "GET /api/v1/stats/summary",
            marker='"loans"',
            headers=self.auth,
        )


def accounts(url: str) -> dict[str, list[str]]:
    applicants = query(
        url,
        "SELECT DISTINCT u.username FROM users u JOIN needs n ON n.borrower_id = u.borrower_id "
        "WHERE u.role = 'applicant' ORDER BY u.username",
    )
    officers = query(
        url,
        "SELECT DISTINCT u.username FROM users u JOIN leads l ON l.institution_id = u.institution_id "
        "WHERE u.role = 'officer' ORDER BY u.username",
    )
    finance = query(url, "SELECT username FROM users WHERE role = 'finance' ORDER BY username")
    return {
        "applicants": [r[0] for r in applicants],
        "officers": [r[0] for r in officers],
        "finance": [r[0] for r in finance],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--database", help="PostgreSQL server URL (default DATABASE_URL, else SQLite)")
    parser.add_argument("--sample-seconds", type=float, default=SAMPLE_SECONDS, help="between RSS samples")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="a short run at the TINY sizes, memory growth not graded, as the tests run it",
    )
    args = parser.parse_args(argv)
    if args.tiny:  # the tiny sizes as defaults: a size given explicitly still wins
        parser.set_defaults(**TINY)
        args = parser.parse_args(argv)
    configure_logging()
    duration = args.minutes * 60
    warmup = min(120.0, duration * 0.10)

    with (
        scratch_database(database_option(args.database), "soak") as url,
        tempfile.TemporaryDirectory(prefix="jihuitong-soak-") as tmp,
    ):
        env = server_environment(url, SWEEP_INTERVAL_SECONDS=SWEEP_SECONDS)
        took = seed(env, cheap_passwords=args.tiny, drain=not args.tiny)
        ACCOUNTS.update(accounts(url))
        drained = "" if args.tiny else ", its pending jobs run before the server starts"
        print(f"database: {url.split('@')[-1]} (demo data seeded in {took:.0f} s{drained})")
        print(
            f"server: gunicorn --workers {WORKERS} --threads {THREADS} --reuse-port on 127.0.0.1; "
            f"LOGIN_RATE_LIMIT and API_RATE_LIMIT set to {UNTHROTTLED!r} for the bench server only, "
            f"SWEEP_INTERVAL_SECONDS={SWEEP_SECONDS}, no REDIS_URL"
        )
        print(
            f"load: {args.users} users (visitors 4 : applicants 2 : officers 2 : finance 1, 1-3 s between "
            f"requests) for {args.minutes:g} min; accounts: {len(ACCOUNTS['applicants'])} applicants with "
            f"needs, {len(ACCOUNTS['officers'])} officers, {len(ACCOUNTS['finance'])} finance"
        )
        print(f"memory: RSS of each worker every {args.sample_seconds:g} s; warm-up {warmup:g} s", flush=True)
        with gunicorn(env, Path(tmp)) as server:
            workers = {p.pid: p for p in server.workers()}
            samples: dict[int, list[tuple[float, int]]] = {pid: [] for pid in workers}
            replaced: list[str] = []
            with locust_users(server.base_url, [Visitor, Applicant, Officer, Finance], args.users) as lenv:
                started = time.monotonic()
                while (elapsed := time.monotonic() - started) < duration:
                    for pid, process in workers.items():
                        try:
                            samples[pid].append((elapsed, process.memory_info().rss))
                        except psutil.NoSuchProcess:
                            replaced.append(f"worker {pid} is gone")
                    now_workers = {p.pid for p in server.workers()}
                    if now_workers != set(workers):
                        replaced.append(f"workers changed from {sorted(workers)} to {sorted(now_workers)}")
                        break
                    _progress(lenv, elapsed, duration)
                    gevent.sleep(max(min(args.sample_seconds, duration - elapsed), 0))
                for pid, process in workers.items():
                    if process.is_running():
                        samples[pid].append((time.monotonic() - started, process.memory_info().rss))
                return report(
                    lenv, samples, warmup, replaced, server.log_tail(10), grade_growth=not args.tiny
                )


def _progress(env: Environment, elapsed: float, duration: float) -> None:
    total = env.stats.total
    print(
        f"  {elapsed / 60:5.1f}/{duration / 60:g} min: {total.num_requests} requests, {total.num_failures} failures",
        file=sys.stderr,
        flush=True,
    )


def report(
    env: Environment,
    samples: dict[int, list[tuple[float, int]]],
    warmup: float,
    replaced: list[str],
    log_tail: str,
    *,
    grade_growth: bool = True,
) -> int:
    total = env.stats.total
    print()
    print(f"{'request':<30} {'count':>8} {'failures':>8} {'p50 ms':>7} {'p99 ms':>7}")
    for entry in sorted(env.stats.entries.values(), key=lambda e: e.name):
        print(
            f"{entry.name:<30} {entry.num_requests:>8d} {entry.num_failures:>8d}"
            f" {entry.get_response_time_percentile(0.5) or 0:>7.0f} {entry.get_response_time_percentile(0.99) or 0:>7.0f}"
        )
    rate = total.num_requests / max(total.last_request_timestamp - total.start_time, 1e-9)
    exceptions = sum(e["count"] for e in env.runner.exceptions.values()) if env.runner else 0
    errors = total.num_failures + exceptions
    print(
        f"{'total':<30} {total.num_requests:>8d} {total.num_failures:>8d}"
        f" {total.get_response_time_percentile(0.5) or 0:>7.0f} {total.get_response_time_percentile(0.99) or 0:>7.0f}"
        f"  ({rate:.1f} req/s; user exceptions: {exceptions})"
    )
    for error in env.stats.errors.values():
        print(f"  error x{error.occurrences}: {error.method} {error.name}: {error.error}")
    for exc in env.runner.exceptions.values() if env.runner else []:
        print(f"  exception x{exc['count']}: {exc['msg']}")

    status = 0
    print()
    print(f"{'worker':>8} {'after warm-up':>14} {'end':>10} {'min':>10} {'max':>10} {'growth':>8}")
    for pid, points in samples.items():
        settled = [rss for t, rss in points if t >= warmup]
        if len(settled) < 2:
            print(f"{pid:>8} too few samples after the warm-up ({len(settled)})")
            status = 1
            continue
        base, end = settled[0], settled[-1]
        growth = (end - base) / base
        mib = 1024 * 1024
        print(
            f"{pid:>8} {base / mib:>10.1f} MiB {end / mib:>6.1f} MiB {min(settled) / mib:>6.1f} MiB"
            f" {max(settled) / mib:>6.1f} MiB {growth:>+7.1%}"
        )
        if growth >= MAX_GROWTH and grade_growth:
            status = 1
            print(f"FAIL: worker {pid} grew by {growth:.1%} (limit {MAX_GROWTH:.0%})")
        elif growth >= MAX_GROWTH:
            print(f"worker {pid} grew by {growth:.1%} (limit {MAX_GROWTH:.0%}; not graded at --tiny)")
    for line in replaced:
        status = 1
        print(f"FAIL: {line}")
    if errors:
        status = 1
        print(f"FAIL: {errors} errors (failed requests and user exceptions); must be 0")
    if status:
        print("gunicorn log, last lines:\n" + log_tail)
    elif grade_growth:
        print(f"PASS: 0 errors, every worker within {MAX_GROWTH:.0%} of its memory after the warm-up")
    else:
        print("PASS: 0 errors, the same workers throughout (memory growth not graded at --tiny)")
    return status


if __name__ == "__main__":
    sys.exit(main())
