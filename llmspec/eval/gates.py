"""Gates: absolute thresholds and baseline comparisons of eval results, with Holm's correction across a run.

``evaluate_gates(gates, results, baseline, alpha)`` takes ``[[eval.gates]]`` (llmspec.spec.models.Gate or
dicts of the same keys) and results.json dicts (llmspec.eval.results_schema). Each gate gives one result per
check: a ``threshold`` result for min/max (point value against the bound) and a ``baseline`` result for
max_drop (a one-sided test of the paired per-sample difference, see llmspec.eval.paired). The statistics are
explained in docs/metrics-and-gates.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from llmspec.eval import paired
from llmspec.eval.metrics.bootstrap import resampled_stats

PROVENANCE_KEYS = {
    "task_version": "task version",
    "config_hash": "task config/prompt hash",
    "num_fewshot": "few-shot setting",
    "limit": "limit",
    "lm_eval_version": "lm-eval version",
}
N_BOOT = 2000


@dataclass
class GateResult:
    metric: str
    kind: str  # "threshold" | "baseline"
    status: str  # "pass" | "fail" | "skipped" | "error" | "undecidable"
    reason: str
    value: float | None = None
    baseline_value: float | None = None
    diff: float | None = None  # observed change, positive = better (relative for percent margins)
    bound: float | None = None  # one-sided CI bound of diff at adjusted_alpha
    margin: float | None = None  # allowed drop in the units of diff
    p_value: float | None = None  # raw one-sided p-value of this gate's test
    p_adjusted: float | None = None  # Holm-adjusted p-value (reject when <= alpha)
    adjusted_alpha: float | None = None
    method: str | None = None
    mode: str | None = None
    drop_unit: str | None = None  # "points" | "percent" (diff, bound, margin and mde are then fractions)
    n: int | None = None
    mde: float | None = None  # observed-spread minimum detectable shift beyond the margin
    detectable_drop: float | None = None  # smallest drop found with 80% power, unpaired-variance assumption
    gate_index: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status in ("pass", "skipped")

    def to_json(self) -> dict:
        d = asdict(self)
        d["passed"] = self.passed
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


@dataclass
class GateReport:
    results: list[GateResult]
    alpha: float
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def errors(self) -> list[GateResult]:
        return [r for r in self.results if r.status in ("error", "undecidable")]

    @property
    def exit_code(self) -> int:
        """2 when a gate could not be evaluated or decided (config/baseline problem), 1 when one failed, else 0."""
        return 2 if self.errors else (0 if self.passed else 1)

    def __iter__(self) -> Iterator[GateResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def to_json(self) -> list[dict]:
        return [r.to_json() for r in self.results]


def _get(gate: Any, key: str, default: Any = None) -> Any:
    return gate.get(key, default) if isinstance(gate, dict) else getattr(gate, key, default)


def _as_dict(results: Any) -> dict:
    return results.model_dump(mode="json") if hasattr(results, "model_dump") else (results or {})


def _lookup(results: dict, task: str, metric: str) -> dict | None:
    return ((results.get("tasks") or {}).get(task) or {}).get("metrics", {}).get(metric)


def provenance_mismatch(results: dict, baseline: dict, task: str) -> str | None:
    """Why the baseline's run of ``task`` is not comparable with this one, or None."""
    mine = ((results.get("tasks") or {}).get(task) or {}).get("provenance") or {}
    theirs = ((baseline.get("tasks") or {}).get(task) or {}).get("provenance") or {}
    diffs = [
        f"{label} {theirs.get(key)!r} -> {mine.get(key)!r}"
        for key, label in PROVENANCE_KEYS.items()
        if mine.get(key) != theirs.get(key)
    ]
    return "baseline not comparable: " + "; ".join(diffs) if diffs else None


def _fmt(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.4g}"


def _threshold(gate: Any, metric: str, entry: dict, index: int) -> GateResult:
    value = float(entry["value"])
    lo, hi = _get(gate, "min"), _get(gate, "max")
    if lo is not None and value < lo:
        status, reason = "fail", f"{metric} = {_fmt(value)} < min {_fmt(lo)}"
    elif hi is not None and value > hi:
        status, reason = "fail", f"{metric} = {_fmt(value)} > max {_fmt(hi)}"
    else:
        parts = ([f">= min {_fmt(lo)}"] if lo is not None else []) + ([f"<= max {_fmt(hi)}"] if hi is not None else [])
        status, reason = "pass", f"{metric} = {_fmt(value)} " + " and ".join(parts)
    ci = f" (n={entry.get('n')})"
    if entry.get("ci_low") is not None and entry.get("ci_high") is not None:
        conf = f"{100 * float(entry.get('confidence', 0.95)):.3g}%"
        ci = f" ({conf} CI {_fmt(entry['ci_low'])}..{_fmt(entry['ci_high'])}, n={entry.get('n')})"
    return GateResult(metric, "threshold", status, reason + ci, value=value, n=entry.get("n"), gate_index=index)


@dataclass
class _Pending:
    result: GateResult
    test: paired.TestResult
    sigma: float  # per-sample standard deviation of the baseline, for the planning power figure


def _paired_values(cand: dict, base: dict) -> tuple[list, list, int]:
    keys = [k for k in cand if k in base]
    dropped = len(cand) + len(base) - 2 * len(keys)
    return [cand[k] for k in keys], [base[k] for k in keys], dropped


def _baseline_test(
    gate: Any, metric_obj: Any, entry: dict, bentry: dict, hib: bool, index: int, seed: int, n_boot: int
) -> GateResult | _Pending:
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
    if unit == "points" and getattr(metric_obj, "proportion", False):
        test = paired.paired_proportions(*((cand, base) if hib else (base, cand)), res.margin, mode)
        p0 = float(np.mean(np.asarray(base, dtype=float) >= 0.5))
        sigma = math.sqrt(p0 * (1.0 - p0))
    elif unit == "points" and getattr(metric_obj, "mean", False):
        g = sign * (np.asarray(cand, dtype=float) - np.asarray(base, dtype=float))
        test = paired.paired_mean(g, res.margin, mode)
        sigma = float(np.std(np.asarray(base, dtype=float), ddof=1))
    else:
        if metric_obj is None:
            res.reason = f"metric {name.split('/', 1)[1]!r} is not installed: cannot recompute it on resamples"
            return res
        c_stats, b_stats = resampled_stats(metric_obj, [cand, base], n_boot=n_boot, seed=seed)
        c_val, b_val = float(metric_obj.aggregate(cand)), float(metric_obj.aggregate(base))
        with np.errstate(divide="ignore", invalid="ignore"):
            if unit == "percent":
                draws = sign * (c_stats - b_stats) / np.abs(b_stats)
                est = sign * (c_val - b_val) / abs(b_val) if b_val else math.nan
                base_rel = b_stats / abs(b_val) if b_val else b_stats * math.nan
            else:
                draws, est, base_rel = sign * (c_stats - b_stats), sign * (c_val - b_val), b_stats
        test = paired.paired_bootstrap(draws, est, res.margin, mode, n=len(cand))
        finite = base_rel[np.isfinite(base_rel)]
        # the baseline's own bootstrap SE is sigma/sqrt(n): convert back to a per-sample sigma
        sigma = float(np.std(finite, ddof=1)) * math.sqrt(len(cand)) if finite.size > 1 else math.inf
    res.diff, res.p_value, res.method = test.estimate, test.p_value, test.method
    return _Pending(res, test, sigma)


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def _floor_at(p: _Pending) -> Callable[[int], float]:
    t, r = p.test, p.result
    if isinstance(t, paired.TangoResult):
        return lambda n: paired.tango_floor(n, r.margin or 0.0, r.mode or "regression")
    if isinstance(t, paired.BootstrapResult):
        b = t.draws.size if t.draws is not None else 0
        return lambda n: paired.bootstrap_floor(n, b)
    return lambda n: 0.0


def _undecidable(p: _Pending, alpha: float, m: int) -> str | None:
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


def _finish(p: _Pending, rejected: bool, level: float, alpha: float, m: int) -> None:
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


def evaluate_gates(
    gates: Sequence[Any],
    results: Any,
    baseline: Any | None = None,
    alpha: float = 0.05,
    *,
    metrics: dict[str, Any] | None = None,
    seed: int = 0,
    n_boot: int = N_BOOT,
    skip: Collection[str] = (),
) -> GateReport:
    """Judge every gate; baseline tests are Holm-corrected together at family-wise level ``alpha``.

    ``metrics`` defaults to load_metrics(); ``seed`` drives the paired bootstrap (deterministic), which draws at
    least ``n_boot`` resamples and enough for 1/(B+1) <= alpha/(10 m). A result's ``p_adjusted`` is its
    Holm-adjusted p-value (compare it with ``alpha``); ``adjusted_alpha`` is the level its raw ``p_value`` was
    compared with in the step-down, and ``bound`` the marginal one-sided bound at that level: the gate rejects
    exactly when that bound excludes the margin.

    Fail closed: a gate that cannot be evaluated (no result, no baseline, a baseline that is not comparable) is
    an ``error``, and one whose test cannot reach its level at this n is ``undecidable``; both exit 2, unless the
    gate's metric is in ``skip`` (the user's --skip-gate), which makes it ``skipped``.
    """
    if metrics is None:
        from llmspec.eval.metrics.api import load_metrics

        metrics = load_metrics()
    results, baseline = _as_dict(results), (_as_dict(baseline) if baseline is not None else None)
    out: list[GateResult] = []
    pending: list[_Pending] = []
    m_static = sum(1 for g in gates if _get(g, "max_drop") is not None)
    boot = paired.n_boot_for(alpha / max(m_static, 1), n_boot)

    def cannot(name: str, kind: str, why: str, index: int, status: str = "error") -> GateResult:
        if name in skip:
            return GateResult(name, kind, "skipped", f"skipped by --skip-gate: {why}", gate_index=index)
        return GateResult(name, kind, status, why, gate_index=index)

    for index, gate in enumerate(gates):
        name = str(_get(gate, "metric"))
        if "/" not in name:
            out.append(GateResult(name, "threshold", "error", f"gate metric {name!r} is not 'task/metric'", gate_index=index))
            continue
        task, metric = name.split("/", 1)
        entry = _lookup(results, task, metric)
        kind = "threshold" if _get(gate, "min") is not None or _get(gate, "max") is not None else "baseline"
        if entry is None:
            out.append(cannot(name, kind, f"no result for {name} in this run{_known(results, task)}", index))
            continue
        metric_obj = metrics.get(metric)
        hib = bool(getattr(metric_obj, "higher_is_better", entry.get("higher_is_better", True)))
        if kind == "threshold":
            out.append(_threshold(gate, name, entry, index))
        if _get(gate, "max_drop") is None:
            continue
        if baseline is None:
            why = "no baseline given: max_drop cannot be checked; pass --baseline RESULTS.json (or --skip-gate " \
                  f"{name} to skip it)"
            out.append(cannot(name, "baseline", why, index))
            continue
        bentry = _lookup(baseline, task, metric)
        why = provenance_mismatch(results, baseline, task) if bentry is not None else f"baseline has no {name}"
        if why:
            out.append(cannot(name, "baseline", why, index))
            continue
        got = _baseline_test(gate, metric_obj, entry, bentry, hib, index, seed + index, boot)
        if isinstance(got, GateResult):
            out.append(got)
        else:
            pending.append(got)
            out.append(got.result)
    if pending:
        rejected, levels, adjusted = paired.holm([p.test.p_value for p in pending], alpha)
        for p, rej, level, adj in zip(pending, rejected, levels, adjusted):
            p.result.p_adjusted = adj
            _finish(p, rej, level, alpha, len(pending))
            why = _undecidable(p, alpha, len(pending))
            if why:
                r = p.result
                r.reason = f"{'skipped by --skip-gate: ' if r.metric in skip else ''}{why}; observed change {_fmt(r.diff)}"
                r.status = "skipped" if r.metric in skip else "undecidable"
    out.sort(key=lambda r: (r.gate_index, r.kind != "threshold"))
    return GateReport(out, alpha, [w for r in out for w in r.warnings])


def _known(results: dict, task: str) -> str:
    """'; TASK reports: a, b, c' (or the tasks that ran), for a gate naming something the run does not have."""
    tasks = results.get("tasks") or {}
    if task in tasks:
        names = sorted(set((tasks[task] or {}).get("metrics") or {}) | set((tasks[task] or {}).get("lm_eval") or {}))
        return f"; {task} reports: {', '.join(names)}" if names else ""
    return f"; tasks in this run: {', '.join(sorted(tasks))}" if tasks else ""
