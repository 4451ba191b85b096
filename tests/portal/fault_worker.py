"""An rq worker for the fault tests: the first run of `match_need` stalls at a chosen point.

FAULT_MODE=before_commit stalls inside the job's transaction, after the matching work and before the
commit; FAULT_MODE=after_commit stalls after the commit, before rq records the job as finished. Either
way the worker announces it by setting the Redis key FAULT_FLAG and then waits to be SIGKILLed. Later
runs (the flag is already set) go straight through.
"""

from __future__ import annotations

import os
import time
from typing import Any

from redis import Redis

from core.db import make_engine, make_session_factory
from core.settings import Settings
from matching import dispatch
from portal import worker


def main() -> None:
    mode, flag = os.environ["FAULT_MODE"], os.environ["FAULT_FLAG"]
    settings = Settings.from_env()
    assert settings.redis_url
    redis = Redis.from_url(settings.redis_url)

    def stall() -> None:
        if redis.set(flag, "reached", nx=True):
            time.sleep(600)

    real_match, real_job = dispatch.match_need, worker.JOBS["match_need"]

    def match_then_stall(session: Any, need_id: int, *, top_n: int) -> Any:
        result = real_match(session, need_id, top_n=top_n)
        if mode == "before_commit":
            session.flush()
            stall()
        return result

    def job_then_stall(need_id: int) -> None:
        real_job(need_id)
        if mode == "after_commit":
            stall()

    dispatch.match_need = match_then_stall  # type: ignore[assignment]
    worker.JOBS["match_need"] = job_then_stall
    worker.run_worker(make_session_factory(make_engine(settings.database_url)), settings)


if __name__ == "__main__":
    main()
