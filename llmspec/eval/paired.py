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
  Continuity-corrected: the numerator b - c - n*delta is moved 1 count towards the null, which at delta = 0 is
  McNemar's test with Edwards' correction (A. L. Edwards 1948, Psychometrika 13:185-187) and in proportion units
  the +-1/n correction of the paired-difference interval (Fleiss, Levin & Paik 2003, "Statistical Methods for
  Rates and Proportions", 3rd ed., ch. 13). Without it the asymptotic test is liberal: its exact size
  reaches 5.4-7.3% at nominal 5% for n = 20..1000 (benchmarks/gate_calibration.md); with it the size stays
  <= 5% at alpha = 0.05 over the whole nuisance range measured there.
- Other metrics: paired bootstrap over documents (see llmspec.eval.metrics.bootstrap), with the expanded
  percentile bound of Hesterberg (2015, "What teachers should know about the bootstrap", The American
  Statistician 69:371-386): the percentile level z_{1-a} is replaced by sqrt(n/(n-1)) t_{n-1,1-a},
  which undoes the narrowness bias of the plain percentile bound (measured 6.2-6.6% false failures at
  n = 20, 5.2-5.3% at n = 100 for nominal 5%; expanded: 5.0-5.2% at n = 20, within Monte-Carlo error from
  n = 40). Tail fraction (1 + #{g* beyond the boundary}) / (B + 1) (Davison & Hinkley 1997, "Bootstrap
  Methods and their Application", ch. 4), mapped through the same expansion to a p-value.
- Student t CDF through the regularized incomplete beta function, I_x(a, b) by its continued fraction
  (Press et al., "Numerical Recipes", 3rd ed., sec. 6.4; Abramowitz & Stegun 26.7.1).
- Holm (1979), "A simple sequentially rejective multiple test procedure", Scand. J. Statist. 6:65-70.
- Minimum detectable effect at power 1-beta for a one-sided level-a z test: (z_{1-a} + z_{1-beta}) * SE
  (e.g. Chow, Shao & Wang, "Sample Size Calculations in Clinical Research", 2nd ed., sec. 3.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

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


@dataclass
class TangoResult(TestResult):
    b: int = 0
    c: int = 0
    n: int = 0

    def bound(self, alpha: float, mode: str) -> float:
        """Upper (regression) or lower (non_inferiority) one-sided (1-alpha) bound, by inverting Tango's test."""
        z = _N.inv_cdf(1.0 - alpha)
        target = -z if mode == "regression" else z  # Z(delta) is decreasing in delta
        cc = _cc(mode)
        lo, hi = -1.0 + 1e-12, 1.0 - 1e-12
        for _ in range(64):  # interval width 2 * 2**-64: below float resolution near the bound
            mid = (lo + hi) / 2.0
            if tango_z(self.b, self.c, self.n, mid, cc) > target:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2.0


def _cc(mode: str) -> float:
    return -CONTINUITY if mode == "regression" else CONTINUITY


def tango_p(b: int, c: int, n: int, margin: float, mode: str) -> float:
    """One-sided continuity-corrected p-value of Tango's test at the boundary g = -margin."""
    zval = tango_z(b, c, n, -margin, _cc(mode))
    return _N.cdf(zval) if mode == "regression" else 1.0 - _N.cdf(zval)


def paired_proportions(cand: Sequence[float], base: Sequence[float], margin: float, mode: str) -> TangoResult:
    """Tango's one-sided score test of the paired difference of 0/1 outcomes at boundary -margin."""
    b = sum(1 for x, y in zip(cand, base) if x >= 0.5 and y < 0.5)
    c = sum(1 for x, y in zip(cand, base) if x < 0.5 and y >= 0.5)
    n = len(cand)
    p = tango_p(b, c, n, margin, mode)
    # planning SE (Wald) for the MDE; with no discordant pair, use the rule-of-three upper bound 3/n on the
    # discordance rate (Hanley & Lippman-Hand 1983, JAMA 249:1743) so that a tiny n still warns.
    disc = max((b + c) / n, 3.0 / n) if n else 1.0
    se = math.sqrt(max(disc - ((b - c) / n) ** 2, 0.0) / n) if n else math.inf
    return TangoResult(p_value=p, estimate=(b - c) / n if n else 0.0, se=se, method="tango-score-cc", b=b, c=c, n=n)


# ---------------------------------------------------------------- paired bootstrap


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes 6.4)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betai(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with df degrees of freedom (A&S 26.7.1 via I_x(df/2, 1/2))."""
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * _betai(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_ppf(q: float, df: float) -> float:
    """Quantile of Student's t (bisection on t_cdf)."""
    lo, hi = -1e6, 1e6
    for _ in range(200):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if t_cdf(mid, df) < q else (lo, mid)
        if hi - lo < 1e-12 * max(1.0, abs(mid)):
            break
    return (lo + hi) / 2.0


def expanded_z(alpha: float, n: int) -> float:
    """Hesterberg's (2015) expanded percentile level: sqrt(n/(n-1)) t_{n-1, 1-alpha} replaces z_{1-alpha}."""
    return math.sqrt(n / (n - 1)) * t_ppf(1.0 - alpha, n - 1) if n > 1 else math.inf


@dataclass
class BootstrapResult(TestResult):
    draws: np.ndarray | None = None
    n: int = 0

    def bound(self, alpha: float, mode: str) -> float:
        finite = self.draws[np.isfinite(self.draws)]
        if not finite.size:
            return math.nan
        z = expanded_z(alpha, self.n) if self.n else _N.inv_cdf(1.0 - alpha)  # n = 0: plain percentile
        q = _N.cdf(z) if mode == "regression" else _N.cdf(-z)
        return float(np.quantile(finite, q))


def bootstrap_p(tail: float, n: int) -> float:
    """p-value from the bootstrap tail fraction beyond the boundary, through the expanded percentile map:
    rejecting at level alpha <=> Phi^-1(1 - tail) >= sqrt(n/(n-1)) t_{n-1,1-alpha}."""
    if n <= 1:
        return 1.0
    w = _N.inv_cdf(min(max(1.0 - tail, 1e-300), 1.0 - 1e-16))
    return 1.0 - t_cdf(w * math.sqrt((n - 1) / n), n - 1)


def paired_bootstrap(g_draws: np.ndarray, estimate: float, margin: float, mode: str, n: int = 0) -> BootstrapResult:
    """Test from bootstrap draws of g (same resampled documents on both sides); n: documents per resample
    (0: uncorrected percentile test, tail fraction as the p-value)."""
    finite = g_draws[np.isfinite(g_draws)]
    B = finite.size
    beyond = int((finite >= -margin).sum()) if mode == "regression" else int((finite <= -margin).sum())
    tail = (1 + beyond) / (B + 1)
    p = bootstrap_p(tail, n) if n else tail
    se = float(np.std(finite, ddof=1)) if B > 1 else math.inf
    method = "paired-bootstrap-expanded" if n else "paired-bootstrap"
    return BootstrapResult(p_value=p, estimate=estimate, se=se, method=method, draws=finite, n=n)


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
