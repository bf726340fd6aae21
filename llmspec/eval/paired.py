"""One-sided tests of a paired difference against a margin, Holm's step-down, and the minimum detectable effect.

Conventions: ``g`` is the change of the candidate against the baseline, signed so that positive is better
(``cand - base`` for higher-is-better metrics, ``base - cand`` otherwise; divided by |baseline| for percent
margins). A gate allows a drop of ``margin`` >= 0, i.e. the boundary is ``g = -margin``.

- regression mode:      H0: g >= -margin   vs  H1: g < -margin   (rejecting H0 = a proven regression: fail)
- non_inferiority mode: H0: g <= -margin   vs  H1: g > -margin   (rejecting H0 = proven non-inferior: pass)

Sources:
- Paired proportions (accuracy): Tango's score test and interval for the difference of paired proportions,
  T. Tango (1998), "Equivalence test and confidence interval for the difference in proportions for the
  paired-sample design", Statistics in Medicine 17:891-908 (restricted MLE in closed form; at margin 0 the
  statistic is McNemar's). Liu, Hsueh & Chen (2002, Stat. Med. 21:1115) recommend it for non-inferiority.
- Other metrics: paired percentile bootstrap over documents (see llmspec.eval.metrics.bootstrap); p-value
  (1 + #{g* beyond the boundary}) / (B + 1) (Davison & Hinkley 1997, "Bootstrap Methods and their
  Application", ch. 4).
- Holm (1979), "A simple sequentially rejective multiple test procedure", Scand. J. Statist. 6:65-70.
- Minimum detectable effect at power 1-beta for a one-sided level-a z test: (z_{1-a} + z_{1-beta}) * SE
  (e.g. Chow, Shao & Wang, "Sample Size Calculations in Clinical Research", 2nd ed., sec. 3.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

import numpy as np

_N = NormalDist()
POWER = 0.8


@dataclass
class TestResult:
    p_value: float
    estimate: float  # observed g
    se: float  # standard error of g (for the MDE)
    method: str

    def bound(self, alpha: float, mode: str) -> float:  # overridden per method
        raise NotImplementedError


# ---------------------------------------------------------------- paired proportions (Tango 1998)


def tango_z(b: int, c: int, n: int, delta: float) -> float:
    """Tango's score statistic for H0: p_b - p_c = delta. b: pairs (candidate right, baseline wrong);
    c: pairs (candidate wrong, baseline right); n: all pairs."""
    if n <= 0:
        return 0.0
    a_ = 2.0 * n
    b_ = -b - c + (2.0 * n - b + c) * delta
    c_ = -c * delta * (1.0 - delta)
    disc = max(b_ * b_ - 4.0 * a_ * c_, 0.0)
    q21 = (math.sqrt(disc) - b_) / (2.0 * a_)  # restricted MLE of p_c under H0
    var = n * (2.0 * q21 + delta * (1.0 - delta))
    num = b - c - n * delta
    if var <= 0.0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


@dataclass
class TangoResult(TestResult):
    b: int = 0
    c: int = 0
    n: int = 0

    def bound(self, alpha: float, mode: str) -> float:
        """Upper (regression) or lower (non_inferiority) one-sided (1-alpha) bound, by inverting Tango's test."""
        z = _N.inv_cdf(1.0 - alpha)
        target = -z if mode == "regression" else z  # Z(delta) is decreasing in delta
        lo, hi = -1.0 + 1e-12, 1.0 - 1e-12
        for _ in range(64):  # interval width 2 * 2**-64: below float resolution near the bound
            mid = (lo + hi) / 2.0
            if tango_z(self.b, self.c, self.n, mid) > target:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2.0


def paired_proportions(cand: Sequence[float], base: Sequence[float], margin: float, mode: str) -> TangoResult:
    """Tango's one-sided score test of the paired difference of 0/1 outcomes at boundary -margin."""
    b = sum(1 for x, y in zip(cand, base) if x >= 0.5 and y < 0.5)
    c = sum(1 for x, y in zip(cand, base) if x < 0.5 and y >= 0.5)
    n = len(cand)
    zval = tango_z(b, c, n, -margin)
    p = _N.cdf(zval) if mode == "regression" else 1.0 - _N.cdf(zval)
    # planning SE (Wald) for the MDE; with no discordant pair, use the rule-of-three upper bound 3/n on the
    # discordance rate (Hanley & Lippman-Hand 1983, JAMA 249:1743) so that a tiny n still warns.
    disc = max((b + c) / n, 3.0 / n) if n else 1.0
    se = math.sqrt(max(disc - ((b - c) / n) ** 2, 0.0) / n) if n else math.inf
    return TangoResult(p_value=p, estimate=(b - c) / n if n else 0.0, se=se, method="tango-score", b=b, c=c, n=n)


# ---------------------------------------------------------------- paired bootstrap


@dataclass
class BootstrapResult(TestResult):
    draws: np.ndarray | None = None

    def bound(self, alpha: float, mode: str) -> float:
        finite = self.draws[np.isfinite(self.draws)]
        q = 1.0 - alpha if mode == "regression" else alpha
        return float(np.quantile(finite, q)) if finite.size else math.nan


def paired_bootstrap(g_draws: np.ndarray, estimate: float, margin: float, mode: str) -> BootstrapResult:
    """Test from bootstrap draws of g (same resampled documents on both sides)."""
    finite = g_draws[np.isfinite(g_draws)]
    B = finite.size
    beyond = int((finite >= -margin).sum()) if mode == "regression" else int((finite <= -margin).sum())
    p = (1 + beyond) / (B + 1)
    se = float(np.std(finite, ddof=1)) if B > 1 else math.inf
    return BootstrapResult(p_value=p, estimate=estimate, se=se, method="paired-bootstrap", draws=finite)


# ---------------------------------------------------------------- Holm and power


def holm(p_values: Sequence[float], alpha: float) -> tuple[list[bool], list[float], list[float]]:
    """Holm's step-down: (rejected, level each test is compared with, Holm-adjusted p-value), input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    rejected = [False] * m
    levels = [alpha] * m
    adjusted = [1.0] * m
    running = 0.0
    stopped = False
    for rank, i in enumerate(order):
        levels[i] = alpha / (m - rank)
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
        if not stopped and p_values[i] <= levels[i]:
            rejected[i] = True
        else:
            stopped = True
    return rejected, levels, adjusted


def mde(se: float, alpha: float, power: float = POWER) -> float:
    """Smallest true shift beyond the margin detected with probability ``power`` by a level-alpha test."""
    if not math.isfinite(se):
        return math.inf
    return (_N.inv_cdf(1.0 - alpha) + _N.inv_cdf(power)) * se
