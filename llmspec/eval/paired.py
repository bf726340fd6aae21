"""One-sided tests of a paired difference against a margin, Holm's step-down, reachability and power.

Conventions: ``g`` is the change of the candidate against the baseline, signed so that positive is better
(``cand - base`` for higher-is-better metrics, ``base - cand`` otherwise; divided by |baseline| for percent
margins). A gate allows a drop of ``margin`` >= 0, i.e. the boundary is ``g = -margin``.

- regression mode:      H0: g >= -margin   vs  H1: g < -margin   (rejecting H0 = a proven regression: fail)
- non_inferiority mode: H0: g <= -margin   vs  H1: g > -margin   (rejecting H0 = proven non-inferior: pass)

Every test here has ``bound(level, mode)``, the one-sided (1 - level) confidence bound obtained by inverting the
same test, so that ``p_value <= level`` exactly when the bound lies beyond the boundary (tests/gates checks this
as a property), and ``floor``, the smallest p-value the test can reach at its n: when the floor is above the
level a gate is compared with, no data can reject, and the gate is undecidable rather than silently passing.

Sources:
- 0/1 per-sample values (accuracy), points margins: Tango's score test for the difference of paired proportions,
  T. Tango (1998), Statistics in Medicine 17:891-908 (restricted MLE in closed form; at margin 0 McNemar's
  statistic), recommended for non-inferiority by Liu, Hsueh & Chen (2002, Stat. Med. 21:1115). Continuity-
  corrected by one count towards the null (Edwards 1948, Psychometrika 13:185-187; Fleiss, Levin & Paik 2003,
  ch. 13): without it the exact size reaches 5.4-7.3% at nominal 5% (benchmarks/gate_calibration.md).
- Other per-sample means (token F1 per item, log-likelihoods), points margins: the paired t-test on the
  per-sample differences (Student 1908; e.g. Wasserman, "All of Statistics", sec. 10.1), scipy.stats.t.
- Metrics that are not means of per-sample values (perplexity as a ratio of sums, macro-F1) and percent margins
  (a ratio of means): paired bootstrap over documents (llmspec.eval.metrics.bootstrap) with Hesterberg's
  expanded percentile level (2015, The American Statistician 69:371-386): z_{1-a} is replaced by
  sqrt(n/(n-1)) t_{n-1,1-a}. Tail fraction (1 + #{g* beyond the boundary}) / (B + 1) (Davison & Hinkley 1997,
  "Bootstrap Methods and their Application", ch. 4) mapped through the same expansion to a p-value. The bound is
  the order statistic that the same rule rejects at, so bound and p-value agree exactly.
- Holm (1979), Scand. J. Statist. 6:65-70. The bounds printed are marginal one-sided bounds at the level each
  gate was compared with in the step-down; they are not simultaneous intervals (for those, see Strassburger &
  Bretz 2008, Stat. Med. 27:4914-4927), but each verdict is exactly "this bound excludes the margin".
- Power: the smallest true drop detected with probability 1 - beta by a one-sided level-a test is
  margin + (z_{1-a} + z_{1-beta}) * SE (Chow, Shao & Wang, "Sample Size Calculations in Clinical Research",
  2nd ed., sec. 3.2). For planning, SE assumes the conservative unpaired variance 2 sigma^2 / n, which holds
  whenever the two runs' per-sample values are not negatively correlated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

_N = NormalDist()
POWER = 0.8
MAX_N = 10_000_000  # needed_n searches up to this many documents


@dataclass
class TestResult:
    p_value: float
    estimate: float  # observed g
    se: float  # standard error of g
    method: str
    floor: float = 0.0  # smallest p-value this test can reach at its n (and B)

    def bound(self, alpha: float, mode: str) -> float:  # overridden per method
        raise NotImplementedError


def rejects(bound: float, margin: float, mode: str) -> bool:
    """Whether a one-sided bound excludes the boundary -margin (the verdict, stated through the bound)."""
    return bound < -margin if mode == "regression" else bound > -margin


# ---------------------------------------------------------------- paired proportions (Tango 1998)


CONTINUITY = 1.0  # counts the numerator moves towards the null (Edwards 1948; see the module docstring)


def tango_z(b: int, c: int, n: int, delta: float, cc: float = 0.0) -> float:
    """Tango's score statistic for H0: p_b - p_c = delta. b: pairs (candidate right, baseline wrong);
    c: pairs (candidate wrong, baseline right); n: all pairs. ``cc`` > 0 moves the numerator |cc| counts down
    (cc > 0, for a test that rejects for large Z) or up (cc < 0, rejecting for small Z): towards the null."""
    if n <= 0:
        return 0.0
    a_ = 2.0 * n
    b_ = -b - c + (2.0 * n - b + c) * delta
    c_ = -c * delta * (1.0 - delta)
    disc = max(b_ * b_ - 4.0 * a_ * c_, 0.0)
    q21 = (math.sqrt(disc) - b_) / (2.0 * a_)  # restricted MLE of p_c under H0
    var = n * (2.0 * q21 + delta * (1.0 - delta))
    num = b - c - n * delta - cc
    if var <= 0.0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def _cc(mode: str) -> float:
    return -CONTINUITY if mode == "regression" else CONTINUITY


def tango_p(b: int, c: int, n: int, margin: float, mode: str) -> float:
    """One-sided continuity-corrected p-value of Tango's test at the boundary g = -margin."""
    zval = tango_z(b, c, n, -margin, _cc(mode))
    return _N.cdf(zval) if mode == "regression" else 1.0 - _N.cdf(zval)


def tango_floor(n: int, margin: float, mode: str) -> float:
    """Smallest p-value at n: every pair discordant in the rejecting direction."""
    return tango_p(0, n, n, margin, mode) if mode == "regression" else tango_p(n, 0, n, margin, mode)


@dataclass
class TangoResult(TestResult):
    b: int = 0
    c: int = 0
    n: int = 0

    def bound(self, alpha: float, mode: str) -> float:
        """Upper (regression) or lower (non_inferiority) one-sided (1-alpha) bound: the boundary -delta at which
        the test's p-value equals alpha (bisection; tango_p is monotone in the margin)."""
        lo, hi = -1.0, 1.0  # candidate values of g = -margin
        for _ in range(64):  # width 2**-63: below float resolution
            mid = (lo + hi) / 2.0
            p = tango_p(self.b, self.c, self.n, -mid, mode)
            # regression: p grows with the boundary value g0 (rejecting needs g0 above the bound)
            if (p <= alpha) == (mode == "regression"):
                hi = mid
            else:
                lo = mid
        return hi if mode == "regression" else lo


def paired_proportions(cand: Sequence[float], base: Sequence[float], margin: float, mode: str) -> TangoResult:
    """Tango's one-sided score test of the paired difference of 0/1 outcomes at boundary -margin."""
    b = sum(1 for x, y in zip(cand, base) if x >= 0.5 and y < 0.5)
    c = sum(1 for x, y in zip(cand, base) if x < 0.5 and y >= 0.5)
    n = len(cand)
    p = tango_p(b, c, n, margin, mode)
    se = math.sqrt(max((b + c) / n - ((b - c) / n) ** 2, 0.0) / n) if n else math.inf
    return TangoResult(p_value=p, estimate=(b - c) / n if n else 0.0, se=se, method="tango-score-cc",
                       floor=tango_floor(n, margin, mode), b=b, c=c, n=n)


# ---------------------------------------------------------------- paired t-test (means of per-sample values)


@dataclass
class MeanResult(TestResult):
    n: int = 0

    def bound(self, alpha: float, mode: str) -> float:
        if self.se == 0.0:
            return self.estimate
        from scipy.stats import t

        q = float(t.ppf(1.0 - alpha, self.n - 1)) * self.se
        return self.estimate + q if mode == "regression" else self.estimate - q


def mean_p(estimate: float, se: float, n: int, margin: float, mode: str) -> float:
    if se == 0.0:  # every difference equal: decided by its sign against the boundary
        return 0.0 if rejects(estimate, margin, mode) else 1.0
    from scipy.stats import t

    stat = (estimate + margin) / se
    return float(t.cdf(stat, n - 1)) if mode == "regression" else float(t.sf(stat, n - 1))


def paired_mean(g: Sequence[float], margin: float, mode: str) -> MeanResult:
    """Paired t-test of the mean per-sample difference g (signed, positive = better) at boundary -margin."""
    arr = np.asarray(g, dtype=float)
    n = arr.size
    est = float(arr.mean())
    se = float(arr.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    return MeanResult(p_value=mean_p(est, se, n, margin, mode), estimate=est, se=se, method="paired-t", floor=0.0,
                      n=n)


# ---------------------------------------------------------------- paired bootstrap


def expanded_z(alpha: float, n: int) -> float:
    """Hesterberg's (2015) expanded percentile level: sqrt(n/(n-1)) t_{n-1, 1-alpha} replaces z_{1-alpha}."""
    from scipy.stats import t

    return math.sqrt(n / (n - 1)) * float(t.ppf(1.0 - alpha, n - 1)) if n > 1 else math.inf


def bootstrap_p(tail: float, n: int) -> float:
    """p-value from the bootstrap tail fraction beyond the boundary, through the expanded percentile map:
    rejecting at level alpha <=> Phi^-1(1 - tail) >= sqrt(n/(n-1)) t_{n-1,1-alpha}."""
    if n <= 1:
        return 1.0
    from scipy.stats import t

    w = _N.inv_cdf(min(max(1.0 - tail, 1e-300), 1.0 - 1e-16))
    return float(t.sf(w * math.sqrt((n - 1) / n), n - 1))


def bootstrap_floor(n: int, n_boot: int) -> float:
    """Smallest p-value with B = n_boot resamples: no resample beyond the boundary, tail 1/(B+1)."""
    return bootstrap_p(1.0 / (n_boot + 1), n)


def n_boot_for(level: float, minimum: int = 2000) -> int:
    """Resamples so that the tail resolution 1/(B+1) is at most level/10 (and at least ``minimum``)."""
    return max(minimum, math.ceil(10.0 / level) - 1)


@dataclass
class BootstrapResult(TestResult):
    draws: np.ndarray | None = None
    n: int = 0

    def bound(self, alpha: float, mode: str) -> float:
        """The order statistic at which the tail rule flips: rejecting at alpha <=> (1 + k) / (B + 1) <= q with
        q = 1 - Phi(expanded z), i.e. at most k_max = floor(q (B + 1)) - 1 draws on the null side."""
        if self.draws is None or not self.draws.size:
            return math.nan
        z = expanded_z(alpha, self.n)
        q = 1.0 - _N.cdf(z)
        k_max = math.floor(q * (self.draws.size + 1) + 1e-9) - 1
        if k_max < 0:  # no rejection possible at this level
            return math.inf if mode == "regression" else -math.inf
        ordered = np.sort(self.draws)
        # regression: reject iff #{g* >= -margin} <= k_max iff the (k_max+1)-th largest draw < -margin
        return float(ordered[-(k_max + 1)]) if mode == "regression" else float(ordered[k_max])


def paired_bootstrap(g_draws: np.ndarray, estimate: float, margin: float, mode: str, n: int) -> BootstrapResult:
    """Test from bootstrap draws of g (same resampled documents on both sides); n: documents per resample."""
    finite = g_draws[np.isfinite(g_draws)]
    B = finite.size
    beyond = int((finite >= -margin).sum()) if mode == "regression" else int((finite <= -margin).sum())
    tail = (1 + beyond) / (B + 1)
    se = float(np.std(finite, ddof=1)) if B > 1 else math.inf
    return BootstrapResult(p_value=bootstrap_p(tail, n), estimate=estimate, se=se, method="paired-bootstrap-expanded",
                           floor=bootstrap_floor(n, B), draws=finite, n=n)


# ---------------------------------------------------------------- Holm, reachability and power


def holm(p_values: Sequence[float], alpha: float) -> tuple[list[bool], list[float], list[float]]:
    """Holm's step-down: (rejected, level each test is compared with, Holm-adjusted p-value), input order.

    Tests after the first non-rejection are compared with the level at which the procedure stopped, so that for
    every test ``rejected == (p <= level)`` (their p-values are at least the one that stopped it)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    rejected = [False] * m
    levels = [alpha] * m
    adjusted = [1.0] * m
    running = 0.0
    stop_level: float | None = None
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
        if stop_level is None:
            levels[i] = alpha / (m - rank)
            if p_values[i] <= levels[i]:
                rejected[i] = True
            else:
                stop_level = levels[i]
        else:
            levels[i] = stop_level
    return rejected, levels, adjusted


def needed_n(floor_at: Callable[[int], float], level: float, start: int = 2) -> int | None:
    """Smallest n >= start with floor_at(n) <= level (floor_at decreasing in n), or None beyond MAX_N."""
    if floor_at(start) <= level:
        return start
    hi = start
    while floor_at(hi) > level:
        if hi >= MAX_N:
            return None
        hi = min(hi * 2, MAX_N)
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if floor_at(mid) <= level else (mid, hi)
    return hi


def mde(se: float, alpha: float, power: float = POWER) -> float:
    """Smallest true shift beyond the margin detected with probability ``power`` by a level-alpha test."""
    if not math.isfinite(se):
        return math.inf
    return (_N.inv_cdf(1.0 - alpha) + _N.inv_cdf(power)) * se


def detectable_drop(margin: float, sigma: float, n: int, level: float, power: float = POWER) -> float:
    """Smallest true drop detected with ``power`` at level ``level``, assuming the unpaired variance 2 sigma^2/n
    of the difference (conservative when the two runs' per-sample values are not negatively correlated)."""
    if n < 2:
        return math.inf
    return margin + mde(math.sqrt(2.0 * sigma * sigma / n), level, power)
