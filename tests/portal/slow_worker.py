"""A real rq worker whose matching stops half-way, leads flushed but not committed, until it is killed.

Run as `python -m tests.portal.slow_worker MARKER` with DATABASE_URL and REDIS_URL set: once the job is
inside the matching transaction, the work horse writes its pid to MARKER and sleeps.
"""

from __future__ import annotations

import os
import sys
import time

from core.db import make_engine, make_session_factory
from core.settings import Settings
from matching import dispatch
from portal.worker import run_worker

push_many = dispatch.push_many


def _push_then_hang(*args, **kwargs):
    leads = push_many(*args, **kwargs)
    marker = sys.argv[1]
    with open(marker + ".tmp", "w") as handle:
        handle.write(str(os.getpid()))
    os.replace(marker + ".tmp", marker)
    time.sleep(600)
    return leads


if __name__ == "__main__":
    dispatch.push_many = _push_then_hang
    settings = Settings.from_env()
    run_worker(make_session_factory(make_engine(settings.database_url)), settings, burst=True)
