"""Properties of baseline gates over n and m (Hypothesis): the verdict is the printed bound's verdict, a drop far
beyond the margin fails wherever the level is reachable, an identical candidate passes, and a gate whose level is
unreachable is undecidable (never passed).

The issue measured on the old code: bootstrap gates with a p-value floor above alpha/m passed anything
(+66% word perplexity with 4 gates), and "no proven drop beyond 5%: change -66%, upper bound -46.1%".
"""

from __future__ import annotations

import math

import numpy as np
from gate_synth import results
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmspec.eval import paired
from llmspec.eval.gates import evaluate_gates
from llmspec.eval.metrics import load_metrics

REG = load_metrics()
ALPHA = 0.05
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _accuracy(rng, n, p=0.7):
    return (rng.random(n) < p).astype(float)


def _f1(rng, n):
    return np.clip(rng.beta(2, 2, n), 0, 1)


def _rolling(rng, n, scale=1.0):
    words = rng.integers(5, 40, n)
    ll = -words * rng.gamma(4.0, 0.8, n) * scale
    return [(float(a), int(b)) for a, b in zip(ll, words)]


def _gates(metric, m, margin, unit="points", mode="regression"):
    return [{"metric": f"t/{metric}", "max_drop": margin, "drop_unit": unit, "mode": mode}] * m


def _judge(metric, cand, base, m, margin, unit="points", mode="regression"):
    rep = evaluate_gates(_gates(metric, m, margin, unit, mode), results({metric: cand}, registry=REG),
                         results({metric: base}, registry=REG), ALPHA, metrics=REG, n_boot=400)
    return rep


def _consistent(rep):
    for r in rep.results:
        assert r.adjusted_alpha is not None and r.bound is not None
        rejected = paired.rejects(r.bound, r.margin, r.mode)
        decided = r.status in ("pass", "fail")
        if decided:
            want = "fail" if rejected == (r.mode == "regression") else "pass"
            assert r.status == want, r.reason
        # the p-value route and the bound route agree at the level the gate was compared with
        assert (r.p_value <= r.adjusted_alpha) == rejected, (r.p_value, r.adjusted_alpha, r.bound, r.margin)


CASES = st.sampled_from(["acc", "f1", "word_perplexity"])


@SETTINGS
@given(kind=CASES, n=st.sampled_from([8, 20, 40, 100, 400]), m=st.sampled_from([1, 2, 5, 10, 20]),
       seed=st.integers(0, 2**32 - 1), drop=st.floats(-0.2, 0.3), mode=st.sampled_from(["regression", "non_inferiority"]))
def test_verdict_equals_bound_excludes_margin(kind, n, m, seed, drop, mode):
    rng = np.random.default_rng(seed)
    if kind == "acc":
        base = _accuracy(rng, n)
        cand = np.where(rng.random(n) < abs(drop), 1.0 - base, base)
        rep = _judge("acc", list(cand), list(base), m, 0.05, mode=mode)
    elif kind == "f1":
        base = _f1(rng, n)
        cand = np.clip(base - drop + rng.normal(0, 0.1, n), 0, 1)
        rep = _judge("f1", list(cand), list(base), m, 0.05, mode=mode)
    else:
        base = _rolling(rng, n)
        cand = [(ll * (1 + drop) + rng.normal(0, 1), w) for ll, w in base]
        rep = _judge("word_perplexity", cand, base, m, 5.0, unit="percent", mode=mode)
    _consistent(rep)
    for r in rep.results:
        assert r.status != "pass" or paired.rejects(r.bound, r.margin, r.mode) == (r.mode == "non_inferiority")


def _reachable(rep) -> bool:
    return all(r.status != "undecidable" for r in rep.results)


@SETTINGS
@given(kind=CASES, n=st.sampled_from([8, 20, 40, 100, 400]), m=st.sampled_from([1, 5, 10, 20]),
       seed=st.integers(0, 2**32 - 1))
def test_a_drop_far_beyond_the_margin_fails_or_is_undecidable(kind, n, m, seed):
    rng = np.random.default_rng(seed)
    if kind == "acc":
        base = np.ones(n)  # every document right in the baseline, wrong in the candidate: the largest drop
        rep = _judge("acc", list(np.zeros(n)), list(base), m, 0.05)
    elif kind == "f1":
        base = np.clip(_f1(rng, n) * 0.2 + 0.8, 0, 1)
        rep = _judge("f1", list(base - 0.7), list(base), m, 0.05)
    else:
        base = _rolling(rng, n)
        rep = _judge("word_perplexity", [(ll * 3.0, w) for ll, w in base], base, m, 5.0, unit="percent")
    _consistent(rep)
    assert not rep.passed and rep.exit_code in (1, 2)
    if _reachable(rep):
        assert all(r.status == "fail" for r in rep.results), [r.reason for r in rep.results]
        assert rep.exit_code == 1
    else:
        undecidable = [r for r in rep.results if r.status == "undecidable"]
        assert rep.exit_code == 2 and all("UNDECIDABLE" in r.reason and "needs at least" in r.reason
                                          for r in undecidable)


@SETTINGS
@given(kind=CASES, n=st.sampled_from([8, 20, 40, 100, 400]), m=st.sampled_from([1, 5, 10, 20]),
       seed=st.integers(0, 2**32 - 1))
def test_an_identical_candidate_passes(kind, n, m, seed):
    rng = np.random.default_rng(seed)
    if kind == "acc":
        base = list(_accuracy(rng, n))
        rep = _judge("acc", base, base, m, 0.05)
    elif kind == "f1":
        base = list(_f1(rng, n))
        rep = _judge("f1", base, base, m, 0.05)
    else:
        base = _rolling(rng, n)
        rep = _judge("word_perplexity", base, base, m, 5.0, unit="percent")
    _consistent(rep)
    assert all(r.status in ("pass", "undecidable") for r in rep.results)
    if _reachable(rep):
        assert rep.passed and rep.exit_code == 0


def test_old_floor_case_is_now_undecidable_not_passed():
    """Old code: 8 perplexity documents, 6 gates at alpha 0.05 -> floor 0.0089 > 0.05/6 and +200% passed."""
    rng = np.random.default_rng(0)
    base = _rolling(rng, 8)
    rep = _judge("word_perplexity", [(ll * 3.0, w) for ll, w in base], base, 6, 5.0, unit="percent")
    assert rep.exit_code == 2 and not rep.passed
    r = rep.results[0]
    assert r.status == "undecidable" and r.reason.startswith("UNDECIDABLE: at n=8")
    need = int(r.reason.split("needs at least ")[1].split(" ")[0].replace(",", ""))
    boot = paired.n_boot_for(ALPHA / 6, 400)
    assert paired.bootstrap_floor(need, boot) <= ALPHA / 6 < paired.bootstrap_floor(need - 1, boot)


def test_bootstrap_resamples_scale_with_the_number_of_gates():
    """1/(B+1) <= level/10 at Holm's smallest level alpha/m."""
    rng = np.random.default_rng(1)
    base = _rolling(rng, 200)
    cand = [(ll * 1.3, w) for ll, w in base]
    for m in (1, 20):
        rep = _judge("word_perplexity", cand, base, m, 5.0, unit="percent")
        r = rep.results[0]
        b = paired.n_boot_for(ALPHA / m, 400)
        assert 1 / (b + 1) <= ALPHA / m / 10
        assert r.status == "fail" and math.isfinite(r.bound)
