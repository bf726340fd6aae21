"""Selection optimism of a sweep: the expected best-of-N validation score above the truth, for N trials whose
scores are noisy estimates of equal true performance.

Cawley & Talbot 2010, "On Over-fitting in Model Selection and Subsequent Selection Bias in Performance
Evaluation" (JMLR 11:2079-2107): choosing the best of many configurations by a finite validation set is biased
upward, more so the more configurations are compared and the smaller the set. With independent noise of standard
deviation sigma, the expected optimism of the maximum is sigma * E[max of N standard normals].
"""

from __future__ import annotations

import math
from functools import lru_cache


@lru_cache(maxsize=256)
def expected_max_normal(n: int) -> float:
    """E[max of n i.i.d. standard normals]: the integral of x * n * phi(x) * Phi(x)^(n-1) (order statistics,
    e.g. David & Nagaraja, "Order Statistics", 3rd ed., sec. 4.5), by the trapezoid rule on [-9, 9 + sqrt(2 ln n)].
    Known values: 0 for n = 1, 1/sqrt(pi) = 0.5642 for n = 2, 1.5388 for n = 10, 2.5076 for n = 100."""
    if n < 1:
        raise ValueError("n must be at least 1")
    if n == 1:
        return 0.0
    high = 9.0 + math.sqrt(2 * math.log(n))
    steps = 4000
    h = (high + 9.0) / steps
    total = 0.0
    for k in range(steps + 1):
        x = -9.0 + k * h
        cdf = 0.5 * (1 + math.erf(x / math.sqrt(2)))
        pdf = math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        term = x * n * pdf * (cdf ** (n - 1) if cdf > 0 else 0.0)
        total += term * (0.5 if k in (0, steps) else 1.0)
    return total * h


def metric_sigma(examples: int) -> float:
    """Standard error of a mean of per-example scores in [0, 1] at its largest (p = 0.5): 0.5 / sqrt(n)."""
    return 0.5 / math.sqrt(examples)


def optimism(trials: int, sigma: float) -> float:
    return sigma * expected_max_normal(trials)
