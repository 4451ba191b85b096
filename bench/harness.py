"""Shared by bench/load.py and bench/soak.py: a scratch database with the demo data, gunicorn serving it
on loopback with 2 worker processes, and locust (as a library, headless) driving it.

Not a benchmark itself. Imports locust first: it monkey-patches the standard library with gevent and
must do so before anything imports ssl.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import gevent
import psutil
from locust import FastHttpUser, User, constant, task
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from locust.stats import StatsEntry
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO_PASSWORD = "Jihuitong@2026"  # the documented password of the synthetic demo accounts
WORKERS = 2
THREADS = 8  # as scripts/run
# High enough that no bench client is ever throttled: every locust user shares 127.0.0.1.
UNTHROTTLED = "1000000 per minute"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def database_option(value: str | None) -> str | None:
    """--database, else DATABASE_URL from the environment; None means a temporary SQLite file."""
    return value or os.environ.get("DATABASE_URL") or None


@contextlib.contextmanager
def scratch_database(server_url: str | None, prefix: str) -> Iterator[str]:
    """A database of its own: a fresh one on the given PostgreSQL server (dropped afterwards), or a
    SQLite file in a temporary directory."""
    if server_url is None or server_url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix=f"jihuitong-{prefix}-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    url = make_url(server_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    name = f"jihuitong_{prefix}_{os.getpid()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def server_environment(database_url: str, **extra: str) -> dict[str, str]:
    """The bench server's environment: this checkout's code, no Redis (jobs in-process, limits in
    memory), rate limits out of the way, a throwaway secret and data key."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "FLASK_APP")}
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=database_url,
        SECRET_KEY=os.urandom(32).hex(),
        DATA_KEY=Fernet.generate_key().decode(),
        LOGIN_RATE_LIMIT=UNTHROTTLED,
        API_RATE_LIMIT=UNTHROTTLED,
    )
    env.update(extra)
    return env


# The flask CLI with argon2's cheapest parameters for every password it hashes. The demo's 80 accounts
# take some 20 s to hash with the real ones, which is most of a `--tiny` run; a login verifies a hash
# with the parameters stored in it, so the server runs unchanged.
FLASK_CHEAP_PASSWORDS = """
import sys
import argon2
from argon2.profiles import CHEAPEST

class CheapestHasher(argon2.PasswordHasher):
    def __init__(self, *args, **kwargs):
        super().__init__(
            time_cost=CHEAPEST.time_cost, memory_cost=CHEAPEST.memory_cost, parallelism=CHEAPEST.parallelism,
            hash_len=CHEAPEST.hash_len, salt_len=CHEAPEST.salt_len, type=CHEAPEST.type,
        )

argon2.PasswordHasher = CheapestHasher
from flask.cli import main
sys.argv[0] = "flask"
main()
"""


def seed(env: dict[str, str], *, cheap_passwords: bool = False, drain: bool = False) -> float:
    """`flask --app wsgi db upgrade` and `seed-demo` against the bench database; returns seconds.

    With cheap_passwords (the `--tiny` runs), the demo accounts' passwords are hashed with argon2's
    cheapest parameters (FLASK_CHEAP_PASSWORDS). With drain, the jobs the seed leaves (some 800, which
    queue as many again: texts, rescoring, monitoring; about 35 s of CPU) are run before the server
    starts (`relay-outbox`, in-process without REDIS_URL): otherwise the server's background threads
    run them during the first scenarios, which then measure the backlog as much as the routes.
    """
    flask = [sys.executable, "-c", FLASK_CHEAP_PASSWORDS] if cheap_passwords else [str(BIN / "flask")]
    started = time.perf_counter()
    # The bench's scratch database may be PostgreSQL, where demo accounts are created only on request.
    steps = [["db", "upgrade"], ["seed-demo", "--demo-accounts"]] + [["relay-outbox"]] * drain
    for args in steps:
        subprocess.run(
            [*flask, "--app", "wsgi", *args],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return time.perf_counter() - started


def query(database_url: str, sql: str) -> list[Any]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


def busiest_officer(database_url: str) -> tuple[str, int]:
    """The first officer of the institution with the most leads, and that number of leads."""
    rows = query(
        database_url,
        "SELECT u.username, count(l.id) FROM users u JOIN leads l ON l.institution_id = u.institution_id "
        "WHERE u.role = 'officer' AND u.username LIKE '%_officer1' "
        "GROUP BY u.username ORDER BY count(l.id) DESC, u.username LIMIT 1",
    )
    return rows[0][0], rows[0][1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[psutil.Process]:
        return sorted(psutil.Process(self.process.pid).children(), key=lambda p: p.pid)

    def all_processes(self) -> list[psutil.Process]:
        return [psutil.Process(self.process.pid), *self.workers()]

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def gunicorn(env: dict[str, str], log_dir: Path) -> Iterator[Server]:
    """gunicorn as scripts/run starts it, but with 2 worker processes, on a free loopback port, each
    worker with a listening socket of its own (`--reuse-port`): the kernel spreads the bench's
    keep-alive connections over the workers. On one shared socket the worker that woke first took
    them, and in some runs one worker served every request of a scenario three tries in a row.

    Stopped with SIGTERM (then SIGKILL) to its master's process group at the end.
    """
    port = free_port()
    log = log_dir / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--workers",
                str(WORKERS),
                "--threads",
                str(THREADS),
                "--bind",
                f"127.0.0.1:{port}",
                "--reuse-port",
                "--access-logfile",
                "-",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, port, log)
    try:
        _wait_ready(server)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_ready(server: Server, timeout: float = 60) -> None:
    """Until /healthz answers and both workers have started (a request reaches either)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
        except OSError:
            ok = False
        if ok and len(server.workers()) == WORKERS:
            return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not become ready in {timeout} s:\n{server.log_tail()}")


def web_login(client: FastHttpSession, username: str) -> None:
    """Log in through the login form (CSRF token included); the session cookie stays in the client."""
    with client.get("/login", name="login page", catch_response=True) as page:
        match = CSRF_INPUT.search(page.text or "")
        if not match:
            page.failure("no CSRF token on the login page")
            return
    body = urlencode({"csrf_token": match.group(1), "username": username, "password": DEMO_PASSWORD})
    with client.post(
        "/login",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        name="login",
        allow_redirects=False,
        catch_response=True,
    ) as response:
        if response.status_code != 302 or "/login" in response.headers.get("Location", "/login"):
            response.failure(f"login as {username} answered {response.status_code}")


def api_token(client: FastHttpSession, username: str) -> dict[str, str]:
    """A bearer token for the user, as headers."""
    with client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": DEMO_PASSWORD},
        name="token",
        catch_response=True,
    ) as response:
        if response.status_code != 200:
            response.failure(f"token for {username} answered {response.status_code}")
            return {}
        return {"Authorization": f"Bearer {response.json()['token']}"}


def expect_page(
    client: FastHttpSession, path: str, name: str, marker: str | None = None, **kwargs: Any
) -> None:
    """GET a page that must answer 200 itself (no redirect to the login page) and, if given, contain marker."""
    with client.get(path, name=name, allow_redirects=False, catch_response=True, **kwargs) as response:
        if response.status_code != 200:
            response.failure(f"{path} answered {response.status_code}")
        elif marker is not None and marker not in (response.text or ""):
            response.failure(f"{path} lacks {marker!r}")


class BenchUser(FastHttpUser):
    """A closed-loop user (no wait) that logs in, or whatever `prepare` does, before it counts as ready."""

    abstract = True
    wait_time = constant(0)
    ready = 0  # users of any class whose `prepare` has returned, in this process

    def prepare(self) -> None:
        """Log in, fetch a token: done once per user, before the measured requests."""

    def on_start(self) -> None:
        self.prepare()
        BenchUser.ready += 1


@dataclass(frozen=True)
class Target:
    """A route an alternating user requests: its path and what its answer must contain."""

    path: str
    marker: str

    @property
    def name(self) -> str:
        return f"GET {self.path}"


class Alternating(BenchUser):
    """A user that requests one of its class's `targets`, the one `Alternating.phase` names: the same
    users, on the same connections, measure a floor and its page in turn (`measure_alternating`)."""

    abstract = True
    targets: tuple[Target, ...] = ()
    phase = 0  # the index of the target every alternating user requests now

    def headers(self) -> dict[str, str]:
        """The request's headers (a bearer token)."""
        return {}

    @task
    def request(self) -> None:
        target = self.targets[Alternating.phase]
        expect_page(self.client, target.path, target.name, marker=target.marker, headers=self.headers())


@dataclass(frozen=True)
class Measure:
    requests: int
    failures: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu: float  # in cores, all gunicorn processes together
    bench_cpu: float  # in cores, this process (locust)
    errors: dict[str, int]
    # The share of the server's CPU that its busiest process used: each worker keeps the connections
    # it accepted, and with a few keep-alive connections one worker can end up with most of them.
    busiest_share: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for p in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def configure_logging() -> None:
    """Locust's warnings (a user's exception, its own CPU above 90 %) on stderr; nothing chattier."""
    logging.basicConfig(level=logging.WARNING, format="locust %(levelname)s: %(message)s")


@contextlib.contextmanager
def locust_users(
    base_url: str, user_classes: type[User] | list[type[User]], users: int
) -> Iterator[Environment]:
    """`users` users of the classes (by their weights) running against the server until the block ends,
    each ready (logged in) when it starts."""
    classes = user_classes if isinstance(user_classes, list) else [user_classes]
    env = Environment(user_classes=classes, host=base_url)
    runner = env.create_local_runner()
    BenchUser.ready = 0
    runner.start(users, spawn_rate=min(users, 100))
    try:
        deadline = time.monotonic() + 300
        while BenchUser.ready < users and time.monotonic() < deadline:
            gevent.sleep(0.1)
        if BenchUser.ready < users:
            raise RuntimeError(f"only {BenchUser.ready} of {users} users got ready (logged in) in 300 s")
        yield env
    finally:
        runner.quit()


def measure(
    server: Server, base_url: str, user_class: type[User], *, users: int, seconds: float, warmup: float
) -> Measure:
    """Requests, failures and latency of `users` closed-loop users over `seconds`, after `warmup`
    seconds (logins, connection set-up, first-request caches) whose requests are not counted."""
    me = psutil.Process()
    with locust_users(base_url, user_class, users) as env:
        gevent.sleep(warmup)
        env.stats.reset_all()
        processes = server.all_processes()
        each0 = [_cpu_seconds([p]) for p in processes]
        cpu0, bench0, t0 = _cpu_seconds(processes), _cpu_seconds([me]), time.perf_counter()
        gevent.sleep(seconds)
        each = [_cpu_seconds([p]) - before for p, before in zip(processes, each0, strict=True)]
        total = env.stats.total
        elapsed = time.perf_counter() - t0
        result = Measure(
            requests=total.num_requests,
            failures=total.num_failures,
            seconds=elapsed,
            p50_ms=float(total.get_response_time_percentile(0.5) or 0),
            p99_ms=float(total.get_response_time_percentile(0.99) or 0),
            server_cpu=(_cpu_seconds(processes) - cpu0) / elapsed,
            bench_cpu=(_cpu_seconds([me]) - bench0) / elapsed,
            errors={f"{e.method} {e.name}: {e.error}": e.occurrences for e in env.stats.errors.values()},
            busiest_share=max(each) / sum(each) if sum(each) > 0 else 0.0,
        )
    return result


def measure_alternating(
    server: Server,
    base_url: str,
    user_class: type[Alternating],
    *,
    users: int,
    seconds: float,
    warmup: float,
    rounds: int,
    settle: float,
) -> list[Measure]:
    """Each of the class's targets measured for `seconds` in all, in `rounds` turns of `seconds / rounds`
    (target 0, 1, ..., then again), by the same `users` on the same connections: the machine's speed
    drifts over a minute by more than the difference measured (a 2-core virtual machine ran the same
    page 40 % faster in one minute than in the next), and a drift or a worker holding most connections
    then falls on every target alike. Each target's first turn comes after `warmup` uncounted seconds,
    every later one after `settle` (the previous target's last requests end meanwhile). One Measure per
    target, its figures summed over its turns."""
    me = psutil.Process()
    targets = user_class.targets
    window = seconds / rounds
    with locust_users(base_url, user_class, users) as env:
        processes = server.all_processes()
        entries = [StatsEntry(env.stats, t.name, "GET") for t in targets]
        errors: list[dict[str, int]] = [{} for _ in targets]
        each = [[0.0] * len(processes) for _ in targets]
        bench = [0.0] * len(targets)
        elapsed = [0.0] * len(targets)
        for turn in range(rounds):
            for index, target in enumerate(targets):
                Alternating.phase = index
                gevent.sleep(warmup if turn == 0 else settle)
                env.stats.reset_all()
                each0 = [_cpu_seconds([p]) for p in processes]
                bench0, t0 = _cpu_seconds([me]), time.perf_counter()
                gevent.sleep(window)
                elapsed[index] += time.perf_counter() - t0
                bench[index] += _cpu_seconds([me]) - bench0
                for i, (p, before) in enumerate(zip(processes, each0, strict=True)):
                    each[index][i] += _cpu_seconds([p]) - before
                entries[index].extend(env.stats.get(target.name, "GET"))
                for e in env.stats.errors.values():
                    key = f"{e.method} {e.name}: {e.error}"
                    errors[index][key] = errors[index].get(key, 0) + e.occurrences
    return [
        Measure(
            requests=entry.num_requests,
            failures=entry.num_failures,
            seconds=elapsed[i],
            p50_ms=float(entry.get_response_time_percentile(0.5) or 0),
            p99_ms=float(entry.get_response_time_percentile(0.99) or 0),
            server_cpu=sum(each[i]) / elapsed[i],
            bench_cpu=bench[i] / elapsed[i],
            errors=errors[i],
            busiest_share=max(each[i]) / sum(each[i]) if sum(each[i]) > 0 else 0.0,
        )
        for i, entry in enumerate(entries)
    ]
