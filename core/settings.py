"""Configuration read once from the environment into a frozen dataclass."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from core.crypto import generate_key, parse_keys

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    return int(value)


def _ints(value: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    if value is None or value.strip() == "":
        return default
    return tuple(int(part) for part in value.split(",") if part.strip())


def _count(name: str, value: str | None, default: int = 0) -> int:
    """A non-negative integer setting; anything else stops the start with the variable's name."""
    try:
        number = _int(value, default)
    except ValueError:
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}") from None
    if number < 0:
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    return number


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'jihuitong.db'}"


def instance_data_keys(database_url: str) -> tuple[str, ...]:
    """The embedded default when DATA_KEY is unset: the key in instance/data_key, created for SQLite.

    A server database without DATA_KEY is refused: every web machine and worker must share one key,
    and a key made up on one machine would leave the data unreadable on the others.
    """
    path = INSTANCE_DIR / "data_key"
    if path.exists():
        return parse_keys(path.read_text())
    if not database_url.startswith("sqlite"):
        raise ValueError("DATA_KEY must be set (Fernet keys, newest first) when DATABASE_URL is not SQLite")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(key + "\n")
    return (key,)


@dataclass(frozen=True)
class Settings:
    """Every knob the application reads; see README "Configuration"."""

    database_url: str = field(default_factory=default_database_url)
    redis_url: str | None = None
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    token_ttl_hours: int = 12
    dispatch_top_n: int = 3
    dispatch_max_rounds: int = 2
    # Needs a re-match job handles per transaction (matching.jobs): one set-based batch, its needs locked
    # until it commits, so a claim on one of them waits at most one batch's matching (well under a second
    # at 100 needs); more saves little once the per-statement cost is spread over 100 needs.
    rematch_batch_size: int = 100
    default_sla_hours: int = 8
    sweep_interval_seconds: int = 300
    job_retry_delays: tuple[int, ...] = (10, 60, 300)
    message_sender: str = "core.notifications:LoggingSender"
    login_rate_limit: str = "10 per minute"
    # Registration answers whether an identifier is free: this bounds how fast one address can ask.
    register_rate_limit: str = "5 per hour"
    api_rate_limit: str = "600 per minute"
    secure_cookies: bool = False
    # Reverse proxies in front of the app whose X-Forwarded-* headers are believed (0: none, so
    # the client's own headers are ignored); nginx alone in front is 1.
    trusted_proxies: int = 0
    # How many read-only statements of one statistics request run side by side on PostgreSQL, each on
    # a connection of its own (core.lanes); 1 runs them one after another on the request's session.
    stats_lanes: int = 3
    # Fernet keys for identifier and contact columns, newest first (core.crypto); see README.
    data_keys: tuple[str, ...] = ()
    # The bench's floor pages (portal.floors), for bench/load.py only.
    bench_floor_routes: bool = False
    testing: bool = False
    timezone: str = "Asia/Shanghai"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = dict(os.environ if environ is None else environ)
        values: dict[str, object] = {
            "database_url": env.get("DATABASE_URL") or default_database_url(),
            "redis_url": env.get("REDIS_URL") or None,
            "token_ttl_hours": _int(env.get("TOKEN_TTL_HOURS"), 12),
            "dispatch_top_n": _int(env.get("DISPATCH_TOP_N"), 3),
            "dispatch_max_rounds": _int(env.get("DISPATCH_MAX_ROUNDS"), 2),
            "rematch_batch_size": _count("REMATCH_BATCH_SIZE", env.get("REMATCH_BATCH_SIZE"), 100),
            "default_sla_hours": _int(env.get("DEFAULT_SLA_HOURS"), 8),
            "sweep_interval_seconds": _int(env.get("SWEEP_INTERVAL_SECONDS"), 300),
            "job_retry_delays": _ints(env.get("JOB_RETRY_DELAYS"), (10, 60, 300)),
            "message_sender": env.get("MESSAGE_SENDER") or "core.notifications:LoggingSender",
            "login_rate_limit": env.get("LOGIN_RATE_LIMIT") or "10 per minute",
            "register_rate_limit": env.get("REGISTER_RATE_LIMIT") or "5 per hour",
            "api_rate_limit": env.get("API_RATE_LIMIT") or "600 per minute",
            "secure_cookies": _bool(env.get("SECURE_COOKIES")),
            "trusted_proxies": _count("TRUSTED_PROXIES", env.get("TRUSTED_PROXIES")),
            "bench_floor_routes": _bool(env.get("BENCH_FLOOR_ROUTES")),
            "stats_lanes": _count("STATS_LANES", env.get("STATS_LANES"), 3),
        }
        if env.get("SECRET_KEY"):
            values["secret_key"] = env["SECRET_KEY"]
        if "data_keys" not in overrides:
            values["data_keys"] = parse_keys(env.get("DATA_KEY") or "") or instance_data_keys(
                str(values["database_url"])
            )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
