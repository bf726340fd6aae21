"""The statistics under the gates: Tango's paired-proportion score test, Holm, bootstrap bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmspec.eval import paired


def _restricted_mle_numeric(b: int, c: int, n: int, delta: float) -> float:
    """Maximise the multinomial log-likelihood over p_c with p_b = p_c + delta by a fine grid (no closed form)."""
    m = n - b - c
    lo = max(0.0, -delta) + 1e-9
    hi = (1 - delta) / 2 - 1e-9
    grid = np.linspace(lo, hi, 400_001)
    pb = grid + delta
    ll = b * np.log(pb) + c * np.log(grid) + m * np.log(np.clip(1 - pb - grid, 1e-300, None))
    return float(grid[np.argmax(ll)])


@pytest.mark.parametrize(
    "b,c,n,delta",
    [(12, 5, 100, 0.0), (12, 5, 100, -0.05), (3, 20, 200, 0.02), (30, 31, 500, -0.1), (0, 4, 50, -0.02)],
)
def test_tango_closed_form_mle_matches_numeric_maximum(b, c, n, delta):
    # recover q21 from tango_z: Z = (b-c-n d)/sqrt(n(2 q21 + d(1-d)))
    z = paired.tango_z(b, c, n, delta)
    q21 = (((b - c - n * delta) / z) ** 2 / n - delta * (1 - delta)) / 2
    assert q21 == pytest.approx(_restricted_mle_numeric(b, c, n, delta), abs=2e-5)


def test_tango_at_zero_margin_is_mcnemar():
    for b, c in [(10, 4), (3, 9), (25, 25)]:
        assert paired.tango_z(b, c, 300, 0.0) == pytest.approx((b - c) / math.sqrt(b + c))


def test_tango_z_decreases_in_delta_and_bound_inverts_the_test():
    r = paired.paired_proportions([1.0] * 60 + [0.0] * 40, [1.0] * 50 + [0.0] * 10 + [1.0] * 20 + [0.0] * 20, 0.0, "regression")
    zs = [paired.tango_z(r.b, r.c, r.n, d) for d in np.linspace(-0.5, 0.5, 101)]
    assert all(a > b for a, b in zip(zs, zs[1:]))
    for mode in ("regression", "non_inferiority"):
        bound = r.bound(0.05, mode)
        # at the bound itself the one-sided p-value equals alpha
        p = paired.tango_p(r.b, r.c, r.n, -bound, mode)
        assert p == pytest.approx(0.05, abs=1e-6)
    assert r.bound(0.05, "non_inferiority") < r.estimate < r.bound(0.05, "regression")


def test_holm_step_down():
    rejected, levels, adjusted = paired.holm([0.01, 0.04, 0.03, 0.2], 0.05)
    # sorted: 0.01 <= .05/4 yes; 0.03 <= .05/3 no -> stop; the rest are compared with the level it stopped at
    assert rejected == [True, False, False, False]
    assert levels == pytest.approx([0.0125, 0.05 / 3, 0.05 / 3, 0.05 / 3])
    assert adjusted == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert paired.holm([0.001, 0.002], 0.05)[0] == [True, True]


def test_holm_level_agrees_with_the_verdict_after_the_step_down_stops():
    """Old code: after a non-rejection, later tests kept their own larger level, so p <= level yet not rejected
    (p = 0.03, 0.03 at alpha 0.05: the second was 'compared' with 0.05), and the printed bound contradicted
    the verdict."""
    rejected, levels, _ = paired.holm([0.03, 0.03], 0.05)
    assert rejected == [False, False]
    assert all((p <= lv) == r for p, lv, r in zip([0.03, 0.03], levels, rejected))


def test_bootstrap_p_value_and_bounds():
    draws = np.linspace(-1.0, 1.0, 2001)
    reg = paired.paired_bootstrap(draws, 0.0, 0.5, "regression", n=10_000)
    # n large: the expansion is negligible, p is the tail fraction
    assert reg.p_value == pytest.approx((1 + 1501) / 2002, rel=1e-3)
    assert reg.bound(0.05, "regression") == pytest.approx(0.9, abs=0.002)
    ni = paired.paired_bootstrap(draws, 0.0, 0.5, "non_inferiority", n=10_000)
    assert ni.p_value == pytest.approx((1 + 501) / 2002, rel=1e-3)
    assert ni.bound(0.05, "non_inferiority") == pytest.approx(-0.9, abs=0.002)


def test_bootstrap_floor_is_the_smallest_p_value():
    """The floor the issue measured (B = 2000): 0.0089 at n = 8, 0.0023 at n = 20, 0.0012 at n = 40."""
    for n, want in [(8, 0.0089), (20, 0.0023), (40, 0.0012)]:
        assert paired.bootstrap_floor(n, 2000) == pytest.approx(want, abs=1e-4)
    draws = np.full(2000, -5.0)  # every resample far beyond the boundary: the smallest tail there is
    assert paired.paired_bootstrap(draws, -5.0, 0.05, "regression", n=8).p_value == paired.bootstrap_floor(8, 2000)
    assert paired.n_boot_for(0.05 / 20) == 3999 and paired.n_boot_for(0.05) == 2000


def test_needed_n_is_where_the_floor_reaches_the_level():
    level = 0.05 / 20
    n = paired.needed_n(lambda k: paired.bootstrap_floor(k, 3999), level)
    assert paired.bootstrap_floor(n, 3999) <= level < paired.bootstrap_floor(n - 1, 3999)
    n = paired.needed_n(lambda k: paired.tango_floor(k, 0.05, "regression"), level)
    assert paired.tango_floor(n, 0.05, "regression") <= level < paired.tango_floor(n - 1, 0.05, "regression")


def test_paired_t_against_scipy_ttest_rel():
    """The paired t-test's p-value is scipy's ttest_rel on the shifted differences (an independent implementation)."""
    from scipy.stats import ttest_rel

    rng = np.random.default_rng(3)
    base = rng.uniform(0, 1, 50)
    cand = np.clip(base + rng.normal(-0.03, 0.1, 50), 0, 1)
    for margin, mode, alt in [(0.0, "regression", "less"), (0.05, "regression", "less"), (0.05, "non_inferiority", "greater")]:
        r = paired.paired_mean(cand - base, margin, mode)
        want = ttest_rel(cand + margin, base, alternative=alt).pvalue
        assert r.p_value == pytest.approx(want, rel=1e-9)


def test_mde_formula():
    # z_.95 + z_.80 = 1.6449 + 0.8416
    assert paired.mde(0.01, 0.05) == pytest.approx(0.024865, abs=1e-5)
    assert paired.mde(math.inf, 0.05) == math.inf


def test_continuity_correction_moves_one_count_towards_the_null():
    # at margin 0 the corrected statistic is McNemar's with Edwards' correction: (|b - c| - 1) / sqrt(b + c)
    b, c, n = 4, 15, 300
    z = (abs(b - c) - 1) / math.sqrt(b + c)
    assert paired.tango_p(b, c, n, 0.0, "regression") == pytest.approx(paired._N.cdf(-z))
    assert paired.tango_p(c, b, n, 0.0, "non_inferiority") == pytest.approx(1 - paired._N.cdf(z))


def test_expanded_bootstrap_p_agrees_with_its_bound():
    rng = np.random.default_rng(0)
    draws = rng.normal(0.01, 0.02, 4000)
    for n, mode in [(20, "regression"), (400, "regression"), (30, "non_inferiority")]:
        for margin in (0.0, 0.02, 0.04):
            r = paired.paired_bootstrap(draws, 0.01, margin, mode, n=n)
            bound = r.bound(0.05, mode)
            rejected = bound < -margin if mode == "regression" else bound > -margin
            assert (r.p_value <= 0.05) == rejected
            plain = paired.paired_bootstrap(draws, 0.01, margin, mode, n=10**9).p_value
            if plain < 0.5:  # in the rejection tail the expanded test is the more cautious one
                assert r.p_value >= plain


def test_an_inferred_proportion_needs_0_1_values_in_both_runs():
    """Old code: an lm-eval metric without a declared type (aggregated by mean) was tested as a 0/1 proportion
    (Tango) when the candidate's logged values were all 0 or 1, even if the baseline's were not (F1 of 0.5): Tango
    then ran on non-binary values. Now both runs must be 0/1; otherwise the paired t-test on the means."""
    from llmspec.eval.gates import evaluate_gates

    def run(values):
        entry = {"value": sum(values) / len(values), "n": len(values), "higher_is_better": True, "source": "lm-eval",
                 "aggregation": "mean", "per_sample": {f"d{i}": v for i, v in enumerate(values)}}
        return {"schema_version": 1, "tasks": {"t": {"provenance": {"task_version": "1.0"}, "metrics": {"f1,none": entry}}}}

    cand = run([1.0, 0.0] * 50)
    gate = [{"metric": "t/f1,none", "max_drop": 0.05}]
    assert evaluate_gates(gate, cand, run([0.5] * 100), 0.05).results[0].method == "paired-t"
    assert evaluate_gates(gate, cand, run([0.0, 1.0] * 50), 0.05).results[0].method == "tango-score-cc"
