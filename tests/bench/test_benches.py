"""Every bench in bench/ runs at its tiny size (`--tiny`), so that a bench that no longer runs fails the suite.

Each bench runs as a script, as a person runs it (`python bench/<name>.py --tiny`), on the suite's
PostgreSQL server (a scratch database of its own, created and dropped by the bench) when the suite has
one, else on SQLite; bench/stats.py is PostgreSQL only. The tests assert behaviour, never timings: the
exit status and the lines that carry the bench's figures (ratios to its floor, AUCs, the soak's memory
table), and what the tiny run can check (the matching wrote leads, the scoring paths agree). No tiny
run grades a ratio.

All but bench/scoring.py (under a second) are marked slow. The benches of the selected tests start
together, when the first of them runs, and each test waits for its own: much of a tiny load or soak run
is waiting on a server, so side by side they take about as long as the longest one alone, not the sum.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import DATABASE_URL, IS_POSTGRES

ROOT = Path(__file__).resolve().parents[2]
# The suite's PostgreSQL server (without a database name), on which each bench makes a database of its own.
SERVER = DATABASE_URL.rsplit("/", 1)[0] if IS_POSTGRES else None
TIMEOUT = 240  # seconds; a tiny run takes a few (about 30 for load and soak), so this is a hang
RATIO = r"\d+\.\d+"


@dataclass(frozen=True)
class Bench:
    script: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


def _benches() -> dict[str, Bench]:
    database = ("--database", SERVER) if SERVER else ()
    return {
        "matching": Bench("bench/matching.py", ("--postgres", SERVER) if SERVER else ()),
        "stats": Bench("bench/stats.py", env=(("BENCH_DATABASE_URL", f"{SERVER}/postgres"),)),
        "report": Bench("bench/report.py", env=(("BENCH_DATABASE_URL", f"{SERVER}/postgres"),)),
        "scoring": Bench("bench/scoring.py"),
        "german_credit": Bench("bench/german_credit.py"),
        "credit_data": Bench("bench/credit_data.py"),
        "load": Bench("bench/load.py", database),
        "soak": Bench("bench/soak.py", database),
        "monitoring": Bench("bench/monitoring.py"),
    }


BENCHES = _benches()


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def finish(self) -> tuple[int, str, str]:
        """Wait for the bench; its exit status, stdout and stderr."""
        try:
            returncode = self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            _interrupt(self.process)
            raise
        return returncode, self.stdout.read_text(errors="replace"), self.stderr.read_text(errors="replace")


def _start(name: str, directory: Path) -> Run:
    bench = BENCHES[name]
    # The bench's database is the one given here, never one from the environment.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BENCH_DATABASE_URL")}
    # One thread each for numpy's and scikit-learn's pools: the benches share the cores with each other.
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update(bench.env)
    stdout, stderr = directory / f"{name}.out", directory / f"{name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, bench.script, "--tiny", *bench.args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
            # Ctrl-C's default action in the bench even when the suite runs with SIGINT ignored (started
            # in the background by a shell), so that _interrupt can stop it.
            preexec_fn=_default_sigint,
        )
    return Run(process, stdout, stderr)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(process: subprocess.Popen[bytes]) -> None:
    """Stop a bench that is still running as Ctrl-C would, so that its clean-up runs (its gunicorn
    stopped, its scratch database dropped); kill it if that takes too long."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Run]]:
    """The benches of the selected tests in this module, started together."""
    selected = {
        item.name.removeprefix("test_") for item in request.session.items if item.path == request.path
    }
    directory = tmp_path_factory.mktemp("bench")
    started: dict[str, Run] = {}
    try:
        for name in BENCHES:
            if name in selected and (name not in ("stats", "report") or IS_POSTGRES):
                started[name] = _start(name, directory)
        yield started
    finally:
        for run in started.values():
            with contextlib.suppress(OSError):
                _interrupt(run.process)


def finished(runs: dict[str, Run], name: str) -> str:
    """The bench's stdout, once it has exited 0."""
    returncode, stdout, stderr = runs[name].finish()
    assert returncode == 0, f"{BENCHES[name].script} --tiny exited {returncode}:\n{stdout}\n{stderr[-4000:]}"
    return stdout


def lines_matching(pattern: str, stdout: str) -> list[re.Match[str]]:
    return [m for m in (re.fullmatch(pattern, line.rstrip()) for line in stdout.splitlines()) if m]


@pytest.mark.slow
def test_matching(runs: dict[str, Run]) -> None:
    stdout = finished(runs, "matching")
    assert lines_matching(rf"1 need x \d+ products: match .* ms, floor .* ms, ratio {RATIO}", stdout), stdout
    [many] = lines_matching(
        rf"\d+ needs x \d+ products: match .* \(.* (\d+) leads, batches of \d+\), floor .* s, ratio {RATIO}; "
        rf"batched floor .* s, ratio {RATIO}; engine alone .* s, ratio {RATIO}; "
        rf"engine and explanations in the match .* s, match less those .* s, ratio {RATIO}",
        stdout,
    )
    assert int(many.group(1)) > 0, "the synthetic needs matched nothing"


@pytest.mark.slow
def test_stats(runs: dict[str, Run]) -> None:
    if not IS_POSTGRES:
        pytest.skip("bench/stats.py runs on PostgreSQL only")
    stdout = finished(runs, "stats")
    # Each summary and breakdown has been checked against its floor by the bench itself before printing.
    for label in ("summary city", "summary 360821", r"breakdown \w+"):
        assert lines_matching(rf"{label} +\d+ ms +floor +\d+ ms +ratio +{RATIO} .*", stdout), (label, stdout)
    for label in ("timeseries", "funnel", "institutions board", "indicators"):
        assert lines_matching(rf"{label}.* ms +ratio to the summary floor +{RATIO} .*", stdout), (
            label,
            stdout,
        )
    assert lines_matching(
        rf"city summary ratio {RATIO}, worst breakdown ratio {RATIO} \(not graded at --tiny\);.*", stdout
    ), stdout


@pytest.mark.slow
def test_report(runs: dict[str, Run]) -> None:
    if not IS_POSTGRES:
        pytest.skip("bench/report.py runs on PostgreSQL only")
    stdout = finished(runs, "report")
    assert lines_matching(r"floor: the month summary +\d+ ms", stdout), stdout
    for label in ("report city", "report 360821"):
        [line] = lines_matching(
            rf"{label} +\d+ ms +sections +\d+ ms +render, PDF, workbook +\d+ ms +ratio +{RATIO} +(\d+) pages",
            stdout,
        )
        assert int(line.group(1)) > 1, line.group(0)  # a PDF was printed, cover and sections
    assert lines_matching(r"city report \d+\.\d s \(not graded at --tiny\);.*", stdout), stdout


def test_scoring(runs: dict[str, Run]) -> None:  # under a second: not slow
    stdout = finished(runs, "scoring")
    for path in ("floor: bare numpy, dense", "vectorised: .*", "per borrower: .*"):
        assert lines_matching(rf"{path} +[\d,]+ +{RATIO} +[\d,]+ +{RATIO}", stdout), (path, stdout)
    # The three paths compute the same scores.
    for pair in ("vectorised vs per borrower", "vectorised vs floor"):
        [same] = lines_matching(rf"scores equal, {pair}: +([\d,]+) of ([\d,]+)", stdout)
        assert same.group(1) == same.group(2), same.group(0)


# Both model families beside the reference: fold, then AUC and KS of scorecard, EBM and HGB, then the gaps.
FAMILIES_ROW = rf" +{RATIO} +{RATIO} +{RATIO} +{RATIO} +{RATIO} +{RATIO} +[+-]{RATIO} +[+-]{RATIO}"


def check_credit_families(runs: dict[str, Run], bench: str) -> None:
    stdout = finished(runs, bench)
    folds = lines_matching(rf" +(\d+){FAMILIES_ROW}", stdout)
    assert [int(m.group(1)) for m in folds] == [1, 2], stdout
    assert lines_matching(rf" +mean{FAMILIES_ROW}", stdout), stdout
    assert lines_matching(r"best glass-box family: (scorecard|ebm) .*", stdout), stdout
    assert lines_matching(r"(OK|FAIL) \(not graded at --tiny\): .*", stdout), stdout


@pytest.mark.slow
def test_german_credit(runs: dict[str, Run]) -> None:
    check_credit_families(runs, "german_credit")


@pytest.mark.slow
def test_credit_data(runs: dict[str, Run]) -> None:
    check_credit_families(runs, "credit_data")


@pytest.mark.slow
def test_load(runs: dict[str, Run]) -> None:
    stdout = finished(runs, "load")
    rows = lines_matching(rf"(\w+) +(GET .+?) +({RATIO}) +\d+ +\d+ +0 +.* +({RATIO}|-)", stdout)
    scenarios = [(m.group(1), m.group(2).strip()) for m in rows]
    # Every route was requested in its turns (a floor and its page alternate among the same users).
    assert all(float(m.group(3)) > 0 for m in rows), stdout
    expected = [
        ("hello", "GET /healthz"),
        ("floor", "GET /bench/floor/leads"),
        ("inbox", "GET /officer/leads"),
        ("floor", "GET /api/v1/bench/floor/leads"),
        ("inbox", "GET /api/v1/leads"),
        ("floor", "GET /bench/floor/products"),
        ("products", "GET /products"),
        ("floor", "GET /api/v1/bench/floor/products"),
        ("products", "GET /api/v1/products"),
    ]
    assert scenarios == expected, stdout
    verdicts = lines_matching(
        rf"(PASS|FAIL) \(not graded at --tiny\): GET .* at {RATIO} of its floor .*", stdout
    )
    assert len(verdicts) == 4, stdout


@pytest.mark.slow
def test_soak(runs: dict[str, Run]) -> None:
    stdout = finished(runs, "soak")
    assert lines_matching(r"total +[1-9]\d* +0 +\d+ +\d+ .*user exceptions: 0\)", stdout), stdout
    workers = lines_matching(r" *\d+ +[\d.]+ MiB +[\d.]+ MiB +[\d.]+ MiB +[\d.]+ MiB +[+-][\d.]+%", stdout)
    assert len(workers) == 2, stdout
    assert "PASS: 0 errors, the same workers throughout (memory growth not graded at --tiny)" in stdout


def test_monitoring(runs: dict[str, Run]) -> None:  # about a second: not slow
    stdout = finished(runs, "monitoring")
    for path in ("floor: bare numpy, dense", "project: signals \\+ rules"):
        assert lines_matching(rf"{path} +[\d,]+ +{RATIO}", stdout), (path, stdout)
    # The project's rules as data give the floor's hand-written levels for every loan and month.
    [same] = lines_matching(r"levels equal, project vs floor: +([\d,]+) of ([\d,]+)", stdout)
    assert same.group(1) == same.group(2), same.group(0)
    assert lines_matching(rf"ratio to the floor {RATIO} \(goal 0.3\): not graded at --tiny", stdout), stdout


def test_credit_families_runs_at_tiny_size_on_any_table(capsys: pytest.CaptureFixture[str]) -> None:
    """bench/credit_families.py is the shared body of the two credit benches; run it here directly, at
    --tiny, on a small synthetic table, so that it cannot rot even if a dataset package goes away."""
    import numpy as np
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    try:
        import credit_families
    finally:
        sys.path.pop(0)

    def load(columns: int | None) -> pd.DataFrame:
        rng = np.random.default_rng(7)
        arrears = rng.gamma(2.0, 10.0, 400).round()
        bad = (rng.random(400) < 1 / (1 + np.exp(3.0 - 0.1 * arrears))).astype(int)
        frame = pd.DataFrame({"arrears": arrears, "noise": rng.normal(size=400), "bad": bad})
        return frame if columns is None else frame[[*frame.columns[:columns], "bad"]]

    code = credit_families.main(
        "synthetic", load, "bad", "合成数据", tiny={"folds": 2, "columns": 2}, argv=["--tiny"]
    )

    out = capsys.readouterr().out
    assert code == 0, out
    assert [int(m.group(1)) for m in lines_matching(rf" +(\d+){FAMILIES_ROW}", out)] == [1, 2], out
    assert lines_matching(r"(OK|FAIL) \(not graded at --tiny\): .*", out), out
