"""The sweep section of `llmspec report`: the plan's counts, feasible region and cost, and (with the report extra)
a chart of per-GPU training memory over two swept axes against the GPU's capacity.

Swept keys are spec field names (checked by the [sweep] model), so they go in code marks; values written by the
user are plain text, which the report's renderers escape.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict

from llmspec.report.doc import Chart, Para, Section, Table
from llmspec.sweep.fast import _estimate_free
from llmspec.sweep.plan import Plan, make_plan
from llmspec.sweep.render import _STATUS_WORDS, _show

CAPACITY_COLOUR = "#C00000"


def sweep_section(spec) -> Section:
    section = Section("Hyperparameter sweep", anchor="sweep")
    try:
        plan = make_plan(spec, lint=False)
    except Exception as exc:  # the report goes on; this section says what went wrong
        return section.add(Para(f"The sweep could not be planned ({type(exc).__name__}: {exc}); please report it."))
    sweep = spec.sweep
    counts = plan.counts()
    n = len(plan.verdicts)
    how = "the full grid" if sweep.method == "grid" else f"{n} {sweep.method} samples (seed {sweep.seed})"
    section.add(Para(f"{n} points, {how}, over {len(sweep.parameters)} parameters: "
                     + "; ".join(f"{c} {_STATUS_WORDS[s]}" for s, c in counts.items() if c or s == "feasible") + "."))
    for note in plan.notes:
        section.add(Para(f"Note: {note}."))
    rows = [[f"`{key}`", _show(span["all"]), _show(span["feasible"])] for key, span in plan.region().items()]
    section.add(Table(["swept key", "values swept", "feasible values"], rows, align=["l", "l", "l"]))
    totals = plan.totals()
    hours = totals["gpu_hours"]
    cost = totals["cost"]
    section.add(Para(f"Feasible part: {len(plan.feasible)} trials, "
                     + (f"{hours:,.1f} GPU-hours" if hours is not None else "GPU-hours unknown")
                     + (f", cost {cost:,.2f}" if cost is not None else "") + "."))
    if sweep.objective is not None:
        section.add(Para(f"Objective: {sweep.objective.direction} {sweep.objective.metric}"
                         + (f" on suite {sweep.objective.suite}" if sweep.objective.suite else "")
                         + (f"; the winner is confirmed on {sweep.objective.holdout_suite}"
                            if sweep.objective.holdout_suite else "; no held-out suite confirms the winner") + "."))
    chart = memory_chart(plan)
    if chart is not None:
        section.add(chart)
    return section


def chart_axes(plan: Plan) -> tuple[str, str] | None:
    """The two numeric swept keys that move training memory most (None when fewer than two exist)."""
    assert plan.spec.sweep is not None
    spread = {}
    for key in plan.spec.sweep.parameters:
        if _estimate_free(key):
            continue
        by_value: dict = defaultdict(list)
        for v in plan.verdicts:
            value = v.overrides.get(key)
            if v.train_bytes is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
                by_value[value].append(v.train_bytes)
        if len(by_value) >= 2:
            means = [sum(b) / len(b) for b in by_value.values()]
            spread[key] = max(means) - min(means)
    ranked = sorted(spread, key=lambda k: -spread[k])
    return (ranked[0], ranked[1]) if len(ranked) >= 2 else None


def memory_chart(plan: Plan) -> Chart | None:
    axes = chart_axes(plan)
    if axes is None:
        return None
    x_key, series_key = axes
    # the largest training memory over the other swept keys, per (x, series) pair
    peak: dict = defaultdict(dict)
    for v in plan.verdicts:
        if v.train_bytes is None or x_key not in v.overrides or series_key not in v.overrides:
            continue
        x, s = v.overrides[x_key], v.overrides[series_key]
        peak[s][x] = max(peak[s].get(x, 0), v.train_bytes)
    capacity = next((v.capacity_bytes for v in plan.verdicts if v.capacity_bytes), None)
    alt = (f"Largest training memory per GPU over {x_key} (x) and {series_key} (one line per value), against the "
           f"capacity of {capacity / 2**30:,.1f} GiB" if capacity else f"Training memory over {x_key} and {series_key}")
    try:
        import matplotlib
    except ImportError:
        return Chart("sweep-memory", alt, None, "(No chart: install the report extra for charts: "
                                                "pip install 'llmspec-cli[report]'.)")
    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.hashsalt": "llmspec", "svg.fonttype": "path", "font.size": 9}):
        fig = Figure(figsize=(7.0, 3.6))
        ax = fig.add_subplot()
        for s in sorted(peak, key=lambda value: (str(type(value)), value)):
            xs = sorted(peak[s])
            ax.plot(xs, [peak[s][x] / 2**30 for x in xs], marker="o", label=f"{series_key} = {json.dumps(s)}")
        if capacity:
            ax.axhline(capacity / 2**30, color=CAPACITY_COLOUR, linestyle="--", linewidth=1.5,
                       label=f"capacity {capacity / 2**30:,.1f} GiB")
        ax.set_xlabel(x_key)
        ax.set_ylabel("training memory per GPU (GiB, largest)")
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "llmspec"})
    svg = buffer.getvalue()
    return Chart("sweep-memory", alt, svg[svg.find("<svg"):])
