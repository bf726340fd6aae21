"""Gates: absolute thresholds and baseline comparisons of eval results, with Holm's correction across a run.

``evaluate_gates(gates, results, baseline, alpha)`` takes ``[[eval.gates]]`` (llmspec.spec.models.Gate or
dicts of the same keys) and results.json dicts (llmspec.eval.results_schema). Each gate gives one result per
check: a ``threshold`` result for min/max (point value against the bound) and a ``baseline`` result for
max_drop (a one-sided test of the paired per-sample difference, see llmspec.eval.paired). The statistics are
explained in docs/metrics-and-gates.md.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from llmspec.eval import paired
from llmspec.eval.gate_baseline import Pending, baseline_test, finish, metric_for, undecidable
from llmspec.eval.gate_result import GateReport, GateResult
from llmspec.eval.gate_result import fmt as _fmt
from llmspec.eval.gate_result import get as _get

__all__ = ["GateReport", "GateResult", "evaluate_gates", "provenance_mismatch"]

PROVENANCE_KEYS = {
    "task_version": "task version",
    "config_hash": "task config/prompt hash",
    "num_fewshot": "few-shot setting",
    "limit": "limit",
    "lm_eval_version": "lm-eval version",
}
N_BOOT = 2000


def _as_dict(results: Any) -> dict:
    return results.model_dump(mode="json") if hasattr(results, "model_dump") else (results or {})


def _lookup(results: dict, task: str, metric: str) -> dict | None:
    """The metric's entry; a bare name not scored by llmspec falls back to lm-eval's "name,none"."""
    found = ((results.get("tasks") or {}).get(task) or {}).get("metrics", {})
    return found.get(metric) if metric in found or "," in metric else found.get(f"{metric},none")


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
    pending: list[Pending] = []
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
        metric_obj = metric_for(metrics, metric, entry)
        hib = bool(getattr(metric_obj, "higher_is_better", entry.get("higher_is_better", True)))
        if kind == "threshold":
            out.append(_threshold(gate, name, entry, index))
        if _get(gate, "max_drop") is None:
            continue
        if baseline is None:
            missing = "no baseline given: max_drop cannot be checked; pass --baseline RESULTS.json (or --skip-gate " \
                  f"{name} to skip it)"
            out.append(cannot(name, "baseline", missing, index))
            continue
        bentry = _lookup(baseline, task, metric)
        refused = provenance_mismatch(results, baseline, task) if bentry is not None else f"baseline has no {name}"
        if refused or bentry is None:
            out.append(cannot(name, "baseline", refused or f"baseline has no {name}", index))
            continue
        got = baseline_test(gate, metric_obj, entry, bentry, hib, index, seed + index, boot)
        if isinstance(got, GateResult):
            out.append(got)
        else:
            pending.append(got)
            out.append(got.result)
    if pending:
        rejected, levels, adjusted = paired.holm([p.test.p_value for p in pending], alpha)
        for p, rej, level, adj in zip(pending, rejected, levels, adjusted):
            p.result.p_adjusted = adj
            finish(p, rej, level, alpha, len(pending))
            why = undecidable(p, alpha, len(pending))
            if why:
                r = p.result
                r.reason = (f"{'skipped by --skip-gate: ' if r.metric in skip else ''}{why}; observed change "
                            f"{_fmt(r.diff)}")
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
