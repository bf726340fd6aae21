"""Text output of `llmspec sweep plan` (plain terminal text; values from the spec are shown with repr)."""

from __future__ import annotations

from typing import Any

from llmspec.sweep.plan import Plan
from llmspec.units import format_bytes

_STATUS_WORDS = {
    "feasible": "feasible", "invalid": "invalid spec", "does-not-fit": "do not fit", "over-budget": "over the run budget",
    "lint-error": "with a lint error",
    "over-sweep-budget": "over the sweep budget", "error": "estimate failed",
}


def _show(span: Any) -> str:
    if span is None:
        return "none"
    if "values" in span:
        return ", ".join(span["values"])
    low, high = span["min"], span["max"]
    return f"{low:g}" if low == high else f"{low:g} .. {high:g} ({span['distinct']} values)"


def plan_text(plan: Plan) -> str:
    sweep = plan.spec.sweep
    assert sweep is not None
    n = len(plan.verdicts)
    counts = plan.counts()
    path = plan.spec.source.path if plan.spec.source is not None else "spec"
    how = "grid" if sweep.method == "grid" else f"{sweep.method}, seed {sweep.seed}"
    lines = [f"{path}: {n} points ({how}) over {len(sweep.parameters)} parameters"]
    codes = plan.code_counts()
    parts = []
    for status, count in counts.items():
        if count or status == "feasible":
            why = [f"{c} {k}" for c, k in sorted(codes.items()) if any(
                v.status == status and c in v.codes for v in plan.verdicts)]
            parts.append(f"{count} {_STATUS_WORDS[status]}" + (f" ({', '.join(why)})" if why and status != "feasible"
                                                                else ""))
    lines.append("  " + "; ".join(parts))
    for note in plan.notes:
        lines.append(f"  note: {note}")
    lines.append("feasible region:")
    width = max((len(k) for k in sweep.parameters), default=0)
    for key, span in plan.region().items():
        lines.append(f"  {key:<{width}}  {_show(span['feasible'])}   (swept: {_show(span['all'])})")
    feasible = plan.feasible
    if feasible:
        peak = max((v.train_bytes or 0) for v in feasible)
        cap = feasible[0].capacity_bytes
        if peak:
            lines.append(f"  largest training memory among feasible points: {format_bytes(peak)} per GPU"
                         + (f" of {format_bytes(cap)}" if cap else ""))
    totals = plan.totals()
    gpu_hours = totals["gpu_hours"]
    hours = "GPU-hours unknown" if gpu_hours is None else (
        f"{gpu_hours:,.1f} GPU-hours" if gpu_hours >= 0.1 else f"{gpu_hours:.2g} GPU-hours")
    cost = f", cost {totals['cost']:,.2f}" if totals["cost"] is not None else ""
    lines.append(f"feasible part: {len(feasible)} trial{'s' * (len(feasible) != 1)}, {hours}{cost}")
    for f in plan.sweep_findings:
        lines.append(f"{f.file}:{f.line}:{f.col}: {f.code} [{f.severity}] {f.message}")
    if plan.linted:
        lines.append(f"findings of the full lint ({plan.linted} valid points):")
        if not plan.findings:
            lines.append("  none")
        for t in plan.findings.values():
            lines.append(f"  {t.code} {t.severity}: {t.summary.rstrip('.')} for {t.points} of {plan.linted} points")
    rates = plan.rates()
    text = "" if n < 100 else f"rate: {rates['fast_points_per_s']:,.0f} points/s validated, estimated and judged"
    if rates["lint_points_per_s"] and text:
        text += f"; full lint {rates['lint_points_per_s']:,.0f} points/s"
    if text:
        lines.append(text)
    if not feasible:
        lines.append("no point is feasible: shrink the space, or see the codes above (`llmspec rule CODE`)")
    return "\n".join(lines)
