"""E[max of N standard normals] against scipy's numerical integration and a numpy Monte Carlo (both independent
of our trapezoid rule), and the known closed form for N = 2 (1 / sqrt(pi))."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from llmspec.sweep.optimism import expected_max_normal, metric_sigma, optimism


@pytest.mark.parametrize("n", [2, 3, 5, 10, 48, 100, 1000, 100_000])
def test_expected_max_matches_scipy(n) -> None:
    ref, _ = integrate.quad(lambda x: x * n * stats.norm.pdf(x) * stats.norm.cdf(x) ** (n - 1), -12, 12, limit=200)
    assert expected_max_normal(n) == pytest.approx(ref, abs=1e-6)


def test_closed_form_and_monte_carlo() -> None:
    assert expected_max_normal(1) == 0.0
    assert expected_max_normal(2) == pytest.approx(1 / math.sqrt(math.pi), abs=1e-9)
    draws = np.random.default_rng(0).standard_normal((20_000, 30)).max(axis=1)
    assert expected_max_normal(30) == pytest.approx(draws.mean(), abs=0.02)


def test_optimism_scales_with_sigma() -> None:
    assert metric_sigma(100) == pytest.approx(0.05)
    assert optimism(10, metric_sigma(100)) == pytest.approx(0.05 * 1.538752, rel=1e-5)
