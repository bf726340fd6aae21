"""Synthetic results.json dicts for gate tests: seeded per-sample outcomes of two models on the same documents."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

PROVENANCE = {
    "task_version": "1.0",
    "config_hash": "sha256:0123",
    "num_fewshot": 0,
    "limit": None,
    "lm_eval_version": "0.4.13",
    "output_type": "multiple_choice",
    "filter": "none",
}


def results(metrics: dict[str, Sequence[Any]], task: str = "t", provenance: dict | None = None, **agg) -> dict:
    """A results.json dict with one task; ``metrics`` maps metric name -> per-sample values (doc i -> key 'd<i>')."""
    from llmspec.eval.metrics import load_metrics

    registry = agg.get("registry") or load_metrics()
    out = {}
    for name, values in metrics.items():
        m = registry[name]
        out[name] = {
            "value": float(m.aggregate(list(values))),
            "n": len(values),
            "higher_is_better": m.higher_is_better,
            "per_sample": {f"d{i}": (list(v) if isinstance(v, tuple) else v) for i, v in enumerate(values)},
        }
    return {"schema_version": 1, "tasks": {task: {"provenance": dict(provenance or PROVENANCE), "metrics": out}}}


def bernoulli_pair(rng: np.random.Generator, n: int, p: float, correlated: bool) -> tuple[np.ndarray, np.ndarray]:
    """Two identical models: each document answered right with probability p by both (same marginal).

    independent: outcomes independent given nothing; correlated: a per-document difficulty p_i ~ Beta with
    mean p, each model right with probability p_i independently (positively correlated, as real models are)."""
    if correlated:
        conc = 2.0
        p_i = rng.beta(p * conc, (1 - p) * conc, n)
        return (rng.random(n) < p_i).astype(float), (rng.random(n) < p_i).astype(float)
    return (rng.random(n) < p).astype(float), (rng.random(n) < p).astype(float)


def shifted_pair(rng: np.random.Generator, n: int, p: float, drop: float, w: float = 0.1):
    """(candidate, baseline) where the candidate is truly `drop` worse: baseline-right docs flip to wrong with
    probability r, baseline-wrong docs flip to right with probability w; E[cand - base] = (1-p) w - p r = -drop."""
    r = ((1 - p) * w + drop) / p
    base = rng.random(n) < p
    u = rng.random(n)
    cand = np.where(base, u >= r, u < w)
    return cand.astype(float), base.astype(float)


def rolling_pair(rng: np.random.Generator, n: int, noise: float = 0.3):
    """Two identical language models on the same documents: per-document (loglikelihood, words) with a shared
    document effect and independent model noise (same distribution for both)."""
    words = rng.integers(5, 60, n)
    per_word = -rng.gamma(4.0, 0.8, n)
    def one():
        ll = words * per_word + rng.normal(0.0, noise * np.sqrt(words), n)
        return [(float(a), int(b)) for a, b in zip(ll, words)]
    return one(), one()


def binom_upper(n: int, p: float, q: float = 0.999) -> int:
    """Smallest k with P(X <= k) >= q for X ~ Binomial(n, p) (exact, by summing the pmf)."""
    total = 0.0
    for k in range(n + 1):
        total += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if total >= q:
            return k
    return n
