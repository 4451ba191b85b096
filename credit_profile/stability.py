"""Population stability of a card's scores, numpy only (the workers run it): the distribution a
version's validation produced is kept in its artefact, and the live scores are compared with it.

PSI = ``sum((actual - expected) * ln(actual / expected))`` over the validation scores' decile bands;
below 0.1 reads as stable, above ``PSI_WARNING`` as a shift that needs a look.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt

PSI_WARNING: Final = 0.25
N_BANDS: Final = 10
_FLOOR: Final = 1e-4  # keeps an empty band from making the PSI infinite


def _shares(
    values: npt.NDArray[np.float64], edges: npt.NDArray[np.float64], n: int
) -> npt.NDArray[np.float64]:
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=n).astype(np.float64)
    shares: npt.NDArray[np.float64] = np.maximum(counts / max(counts.sum(), 1.0), _FLOOR)
    return shares


def score_distribution(scores: npt.ArrayLike, *, n_bands: int = N_BANDS) -> dict[str, Any]:
    """The inner edges of the scores' decile bands and each band's share, as stored in an artefact."""
    values = np.asarray(scores, dtype=np.float64)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bands + 1)[1:-1]))
    return {"edges": edges.tolist(), "shares": _shares(values, edges, edges.size + 1).tolist()}


def psi_against(distribution: Mapping[str, Any], scores: npt.ArrayLike) -> float:
    """PSI of ``scores`` against a stored :func:`score_distribution`.

    Raises:
        ValueError: ``scores`` is empty or the distribution is malformed.
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        raise ValueError("PSI needs at least one score")
    edges = np.asarray(distribution["edges"], dtype=np.float64)
    expected = np.maximum(np.asarray(distribution["shares"], dtype=np.float64), _FLOOR)
    if expected.size != edges.size + 1:
        raise ValueError("a distribution needs one share more than it has edges")
    actual = _shares(values, edges, expected.size)
    return float(np.sum((actual - expected) * np.log(actual / expected)))
