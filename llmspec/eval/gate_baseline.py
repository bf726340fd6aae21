"""The baseline check of one max_drop gate: the paired test that fits the metric, its bound at the Holm level,
reachability (undecidable gates) and the power figure. Called by llmspec.eval.gates.evaluate_gates."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmspec.eval import paired
from llmspec.eval.gate_result import GateResult
from llmspec.eval.gate_result import fmt as _fmt
from llmspec.eval.gate_result import get as _get
from llmspec.eval.metrics.bootstrap import resampled_stats

SIGMA_BOUNDED = 0.5  # the largest standard deviation of values in [0, 1] (accuracy, F1): the conservative choice


@dataclass
class _LoggedMean:
    """An lm-eval metric aggregated by its mean, with per-sample values logged (llmspec.eval.native)."""

    higher_is_better: bool
    proportion: bool
    mean: bool = True

    def aggregate(self, values: list) -> float:
        return float(np.mean(np.asarray(values, dtype=float)))


def metric_for(metrics: dict[str, Any], metric: str, entry: dict) -> Any:
    if metric in metrics:
        return metrics[metric]
    if entry.get("source") == "lm-eval" and entry.get("aggregation") == "mean" and entry.get("per_sample"):
        values = list(entry["per_sample"].values())
        return _LoggedMean(bool(entry.get("higher_is_better", True)), all(v in (0, 1) for v in values))
    return None


@dataclass
class Pending:
    result: GateResult
    test: paired.TestResult
    sigma: float  # per-sample standard deviation assumed for the power figure


def _paired_values(cand: dict, base: dict) -> tuple[list, list, int]:
    keys = [k for k in cand if k in base]
    dropped = len(cand) + len(base) - 2 * len(keys)
    return [cand[k] for k in keys], [base[k] for k in keys], dropped


def baseline_test(
    gate: Any, metric_obj: Any, entry: dict, bentry: dict, hib: bool, index: int, seed: int, n_boot: int
) -> GateResult | Pending:
    """The paired test that fits the metric: Tango for 0/1 values, the t-test for other means (points margins),
    the bootstrap for everything else (ratios of sums, macro-F1, percent margins)."""
    name = _get(gate, "metric")
    mode = _get(gate, "mode", "regression")
    unit = _get(gate, "drop_unit", "points")
    cand, base, dropped = _paired_values(entry.get("per_sample") or {}, bentry.get("per_sample") or {})
    res = GateResult(name, "baseline", "error", "", mode=mode, drop_unit=unit, gate_index=index, n=len(cand))
    res.value, res.baseline_value = _num(entry.get("value")), _num(bentry.get("value"))
    if len(cand) < 2:
        res.reason = f"only {len(cand)} documents pair with the baseline by doc hash; cannot compare"
        return res
    if dropped:
        res.warnings.append(f"{dropped} documents without a partner in the other run were left out")
    sign = 1.0 if hib else -1.0
    res.margin = float(_get(gate, "max_drop")) / (100.0 if unit == "percent" else 1.0)
    test: paired.TestResult
    # Tango's test needs 0/1 values in both runs: an lm-eval metric's type is inferred from one run's logged values
    binary = all(v in (0, 1) for v in (*cand, *base))
    if unit == "points" and getattr(metric_obj, "proportion", False) and binary:
        test = paired.paired_proportions(*((cand, base) if hib else (base, cand)), res.margin, mode)
        sigma = SIGMA_BOUNDED  # not the baseline's own p(1-p): a baseline at 1.0 would claim perfect power
    elif unit == "points" and getattr(metric_obj, "mean", False):
        g = sign * (np.asarray(cand, dtype=float) - np.asarray(base, dtype=float))
        test = paired.paired_mean(g, res.margin, mode)
        values = np.asarray(base + cand, dtype=float)
        bounded = bool(values.min() >= 0.0 and values.max() <= 1.0)
        sigma = SIGMA_BOUNDED if bounded else float(np.std(np.asarray(base, dtype=float), ddof=1))
    else:
        if metric_obj is None:
            agg = entry.get("aggregation")
            res.reason = (f"lm-eval aggregates {name} with {agg!r}, which llmspec cannot recompute on paired "
                          "samples; gate it with min/max, or gate an llmspec metric" if entry.get("source") == "lm-eval"
                          else f"metric {name.split('/', 1)[1]!r} is not installed: cannot recompute it on resamples")
            return res
        c_stats, b_stats = resampled_stats(metric_obj, [cand, base], n_boot=n_boot, seed=seed)
        c_val, b_val = float(metric_obj.aggregate(cand)), float(metric_obj.aggregate(base))
        with np.errstate(divide="ignore", invalid="ignore"):
            if unit == "percent":
                draws = sign * (c_stats - b_stats) / np.abs(b_stats)
                est = sign * (c_val - b_val) / abs(b_val) if b_val else math.nan
                sides = [b_stats / abs(b_val), c_stats / abs(b_val)] if b_val else []
            else:
                draws, est, sides = sign * (c_stats - b_stats), sign * (c_val - b_val), [b_stats, c_stats]
        test = paired.paired_bootstrap(draws, est, res.margin, mode, n=len(cand))
        # a side's bootstrap SE is sigma/sqrt(n): the larger of the two, as a per-sample sigma; an aggregate in
        # [0, 1] (macro-F1) gets at least 0.5, as a mean of such values would (a perfect baseline has SE 0)
        spreads = [float(np.std(f, ddof=1)) for x in sides if (f := x[np.isfinite(x)]).size > 1]
        sigma = max(spreads) * math.sqrt(len(cand)) if spreads else math.inf
        if unit == "points" and 0.0 <= min(c_val, b_val) and max(c_val, b_val) <= 1.0:
            sigma = max(sigma, SIGMA_BOUNDED)
    res.diff, res.p_value, res.method = test.estimate, test.p_value, test.method
    return Pending(res, test, sigma)


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def _floor_at(p: Pending) -> Callable[[int], float]:
    t, r = p.test, p.result
    if isinstance(t, paired.TangoResult):
        return lambda n: paired.tango_floor(n, r.margin or 0.0, r.mode or "regression")
    if isinstance(t, paired.BootstrapResult):
        b = t.draws.size if t.draws is not None else 0
        return lambda n: paired.bootstrap_floor(n, b)
    return lambda n: 0.0


def undecidable(p: Pending, alpha: float, m: int) -> str | None:
    """Why no data could decide this gate at Holm's first level alpha/m, or None."""
    level = alpha / m
    if p.test.floor <= level:
        return None
    need = paired.needed_n(_floor_at(p), level, start=max(2, p.result.n or 2))
    how = f"at least {need:,} documents" if need else "far more documents"
    return (f"UNDECIDABLE: at n={p.result.n} the smallest p-value {p.test.method} can reach is {p.test.floor:.3g}, "
            f"above the level {level:.3g} (alpha {alpha:g} / {m} baseline gates), so no result could "
            f"{'fail' if p.result.mode == 'regression' else 'pass'} it; it needs {how}, fewer baseline gates or "
            "a larger eval.alpha")


def finish(p: Pending, rejected: bool, level: float, alpha: float, m: int) -> None:
    r, t = p.result, p.test
    r.adjusted_alpha = level
    r.bound = t.bound(level, r.mode or "regression")
    r.mde = paired.mde(t.se, level)
    r.detectable_drop = paired.detectable_drop(r.margin or 0.0, p.sigma, r.n or 0, level)

    def f(x: float | None, sign: str = "+") -> str:
        if r.drop_unit == "percent" and x is not None and math.isfinite(x):
            return f"{100 * x:{sign}.3g}%"
        return _fmt(x)

    how = (f"{t.method}; marginal {100 * (1 - level):.4g}% one-sided bound at this gate's Holm level {level:.3g}, "
           f"alpha {alpha:g} over {m} baseline gates")
    allowed = r.margin or 0.0
    if r.mode == "regression":
        r.status = "fail" if rejected else "pass"
        verdict = "proven drop beyond" if rejected else "no proven drop beyond"
        r.reason = f"{verdict} {f(allowed, '')}: change {f(r.diff)}, upper bound {f(r.bound)} ({how})"
    else:
        r.status = "pass" if rejected else "fail"
        verdict = "non-inferior within" if rejected else "non-inferiority within"
        tail = "" if rejected else " not shown"
        r.reason = f"{verdict} {f(allowed, '')}{tail}: change {f(r.diff)}, lower bound {f(r.bound)} ({how})"
    if r.detectable_drop is not None and r.detectable_drop > 2 * allowed:
        r.warnings.append(
            f"{r.metric}: at n={r.n} this gate detects with {paired.POWER:.0%} power only drops of "
            f"{f(r.detectable_drop, '')} or more (unpaired-variance assumption), over twice its margin "
            f"{f(allowed, '')}"
        )
