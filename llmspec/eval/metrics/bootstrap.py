"""Seeded (paired) bootstrap over documents.

Percentile bootstrap (Efron & Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13); paired resampling
for comparisons: the same resampled document indices on both sides (Koehn 2004, "Statistical Significance Tests
for Machine Translation Evaluation", EMNLP, uses the same scheme for corpus-level MT metrics).

A metric may provide ``aggregate_resampled(values, idx) -> ndarray`` (idx: int array of shape (B, n)) to
compute all B resampled aggregates at once; otherwise ``aggregate`` is called once per resample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

_CHUNK_CELLS = 2_000_000  # resample indices generated in chunks of about this many cells (16 MB)


def resample_indices(n: int, n_boot: int, seed: int):
    """Yield int arrays of shape (b, n) of document indices drawn with replacement, b summing to n_boot."""
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK_CELLS // max(n, 1))
    done = 0
    while done < n_boot:
        b = min(rows, n_boot - done)
        yield rng.integers(0, n, size=(b, n))
        done += b


def _aggregate_rows(metric: Any, values: Sequence[Any], idx) -> np.ndarray:
    fast = getattr(metric, "aggregate_resampled", None)
    if fast is not None:
        return np.asarray(fast(values, idx), dtype=float)
    return np.array([float(metric.aggregate([values[i] for i in row])) for row in idx], dtype=float)


def resampled_stats(metric: Any, sides: Sequence[Sequence[Any]], *, n_boot: int, seed: int) -> list[np.ndarray]:
    """Bootstrap aggregates of each side, resampling the SAME document indices on every side (paired).

    ``sides`` are equally long, aligned lists of per-sample values. Returns one array of n_boot values per side.
    """
    n = len(sides[0])
    if any(len(s) != n for s in sides):
        raise ValueError("paired bootstrap needs aligned sides of equal length")
    out: list[list[np.ndarray]] = [[] for _ in sides]
    for idx in resample_indices(n, n_boot, seed):
        for k, values in enumerate(sides):
            out[k].append(_aggregate_rows(metric, values, idx))
    return [np.concatenate(chunks) for chunks in out]


def percentile_interval(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    """Two-sided percentile interval; NaN resamples (e.g. a ratio with a zero denominator) are dropped."""
    finite = stats[np.isfinite(stats)]
    if finite.size == 0:
        return (math.nan, math.nan)
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(finite, [tail, 1.0 - tail])
    return (float(lo), float(hi))
