"""ReportData -> the run sections: memory per GPU (table and chart), compute and budget, lint findings, what
would fit, eval results and gates. Values come from the estimate contract (``Estimate.to_dict()``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmspec.eval.gate_result import HOLM_NOTE, power_cell
from llmspec.report import charts, fmt
from llmspec.report.doc import Bullets, Callout, Chart, Para, Section, Table, code, lit
from llmspec.report.model import ReportData

PHASES = ("training", "inference")


# -- memory ---------------------------------------------------------------------------------------------------
def _bars(data: ReportData) -> list[tuple[str, dict[str, int]]]:
    """(phase, {part: bytes, ..., "overhead": bytes}) for each phase that has an estimate."""
    bars = []
    for phase in PHASES:
        mem = data.memory(phase)
        if mem and mem.get("per_gpu_bytes") is not None:
            parts = {k: int(v) for k, v in (mem.get("breakdown") or {}).items() if v}
            if mem.get("overhead_bytes"):
                parts["overhead"] = int(mem["overhead_bytes"])
            bars.append((phase, parts))
    return bars


def memory_chart(data: ReportData) -> Chart | None:
    """The stacked bar chart of memory per GPU against capacity; None when there is no memory estimate."""
    bars = _bars(data)
    if not bars:
        return None
    cap = data.capacity_bytes or next((data.capacity(p) for p, _ in bars if data.capacity(p)), None)
    label = data.spec.hardware.accelerator if data.spec.hardware else (
        next((data.memory(p).get("accelerator") for p, _ in bars if data.memory(p).get("accelerator")), None) or "GPU")
    svg = charts.memory_chart(bars, cap, label)
    alt = "Memory per GPU: " + "; ".join(f"{p} {fmt.gib(sum(b.values()))}" for p, b in bars) + (
        f", against {fmt.gib(cap)} of one {lit(label)}" if cap else "")
    return Chart("memory", alt, svg, "" if svg else f"(No chart: {charts.INSTALL_HINT}.)")


def memory(data: ReportData) -> Section:
    section = Section("Memory per GPU", anchor="memory")
    if data.spec.hardware is not None:
        name = lit(data.spec.hardware.accelerator)
        section.add(Para(f"Capacity: {fmt.gib(data.capacity_bytes)} per {name}" +
                         (" (set by hardware.memory)." if data.spec.hardware.memory else ".") +
                         " The chart in the summary stacks these parts."))
    for phase, _ in _bars(data):
        mem = data.memory(phase)
        total = data.total_bytes(phase) or 0
        rows = [[fmt.label(k), fmt.gib(v), fmt.pct(v, total)] for k, v in (mem.get("breakdown") or {}).items() if v]
        overhead = int(mem.get("overhead_bytes") or 0)
        if overhead:
            rows.append(["overhead (CUDA context, workspaces, allocator)", fmt.gib(overhead), fmt.pct(overhead, total)])
        rows.append(["**total per GPU**", f"**{fmt.gib(total)}**", "100%"])
        capacity = data.capacity(phase)
        if capacity:
            headroom = capacity - total
            rows.append(["capacity" + (" (headroom)" if headroom >= 0 else " (**over by**)"),
                         f"{fmt.gib(capacity)} ({fmt.gib(abs(headroom))})", fmt.pct(total, capacity) + " used"])
        title = "Training" if phase == "training" else "Inference"
        if mem.get("peak_phase"):
            title += f" (peak in {lit(mem['peak_phase'])})"
        section.add(Para(f"**{title}**"), Table(["Part", "Size", "Share"], rows))
        con = mem.get("concurrency")  # paged engines (llmspec.estimate.result.Concurrency)
        if con:
            section.add(Para(f"Concurrent sequences of {con['tokens_per_sequence']:,} tokens: **{con['max_concurrent']}** "
                             f"of the {con['requested']} asked for (KV pool {fmt.gib(con['pool_bytes'])} per GPU)"
                             + (f"; the other {con['queued']} queue." if con["queued"] else ".")))
        if mem.get("assumptions"):
            section.add(Bullets([lit(_note(str(a))) for a in mem["assumptions"]]))
    if not _bars(data):
        section.add(Para(lit(data.estimate_error or "No memory estimate is available for this spec.")))
    return section


def _note(text: str) -> str:
    """An estimator assumption as the reader sees it: the overhead is a row of the table above (and part of
    its total), so the estimator's remark that it is kept out of its ``per_gpu_bytes`` field only confuses."""
    return text.replace("; not in per_gpu_bytes", "; its own row above")


# -- compute and budget -----------------------------------------------------------------------------------------
def _flat(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _flat(value, f"{prefix}.{key}" if prefix else str(key))
    elif not isinstance(node, list):
        yield prefix, node


def compute_value(data: ReportData, *names: str) -> float | None:
    """The first numeric compute value whose dotted key ends with one of ``names``."""
    flat = dict(_flat(data.estimate.get("compute") or {}))
    for name in names:
        for key, value in flat.items():
            if (key == name or key.endswith("." + name)) and isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
    return None


def _format(key: str, value: Any) -> str:
    """A compute value the estimator added after this table was written: formatted by its key's suffix."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return "n/a" if value is None else lit(value)
    leaf = key.rsplit(".", 1)[-1]
    if "flops" in leaf or "flop" in leaf:
        return fmt.flop(value)
    if leaf.endswith("bytes"):
        return fmt.gib(value)
    if "cost" in leaf or leaf.endswith("usd"):
        return fmt.money(value)
    if "hours" in leaf:
        return fmt.hours(value)
    if "tokens" in leaf and not leaf.endswith("per_s") and value >= 1000:
        return fmt.count(value)
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}"


def _rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


# compute key (Compute in llmspec/estimate/compute.py) -> (what a reviewer reads, how the value is shown)
COMPUTE_ROWS: dict[str, tuple[str, Any]] = {
    "tokens": ("Training tokens (all epochs)", fmt.count),
    "tokens_per_step": ("Tokens per optimizer step", fmt.count),
    "steps": ("Optimizer steps", lambda x: f"{int(x):,}"),
    "flops_per_token": ("Training FLOP per token (incl. recomputation)", fmt.flop),
    "model_flops_per_token": ("Model FLOP per token (what MFU counts)", fmt.flop),
    "total_flops": ("Training FLOP in total", fmt.flop),
    "peak_tflops": ("Peak dense TFLOP/s per GPU", _rate),
    "decode_tokens_per_s": ("Decode throughput bound, tokens/s", _rate),
    "prefill_tokens_per_s": ("Prefill throughput bound, tokens/s", _rate),
}
TRAINING_ONLY = ("tokens_per_step", "flops_per_token", "model_flops_per_token")


def _detail_rows(comp: dict, skip: set[str]) -> list[list[str]]:
    """The compute quantities, in words; training-only rows are left out when there is no training to time,
    and model FLOP when it equals executed FLOP (no recomputation)."""
    rows = []
    trains = comp.get("tokens") is not None or comp.get("steps") is not None
    for key, value in _flat(comp):
        if value is None or isinstance(value, (dict, list)) or key in skip or key in ("assumptions", "training_assumed"):
            continue
        if key in TRAINING_ONLY and not trains:
            continue
        if key == "model_flops_per_token" and value == comp.get("flops_per_token"):
            continue
        label, show = COMPUTE_ROWS.get(key, (fmt.label(key), None))
        rows.append([label, show(value) if show else _format(key, value)])
    return rows


def _budget_rows(data: ReportData) -> list[tuple[str, float | None, float | None, Any]]:
    hw = data.spec.hardware
    return [
        ("GPU-hours", compute_value(data, "gpu_hours"), hw.budget_gpu_hours if hw else None, fmt.hours),
        ("Wall-clock hours", compute_value(data, "wall_hours", "wall_clock_hours", "hours"),
         hw.budget_hours if hw else None, fmt.hours),
        ("Cost", compute_value(data, "cost_usd", "cost"), hw.budget_usd if hw else None, fmt.money),
    ]


def over_budget(data: ReportData) -> list[str]:
    """"GPU-hours 30.5 over the budget of 24.0", one per exceeded budget."""
    return [f"{name} {show(value)} over the budget of {show(budget)}" for name, value, budget, show in
            _budget_rows(data) if value is not None and budget and value > budget]


def budget_summary_rows(data: ReportData) -> list[list[str]]:
    out = []
    for name, value, budget, show in _budget_rows(data):
        if value is None:
            continue
        text = show(value)
        if budget:
            text += f" of {show(budget)} budget" + (" (**over**)" if value > budget else "")
        out.append([name, text])
    return out


def compute(data: ReportData) -> Section:
    section = Section("Compute, time and cost", anchor="compute")
    comp = data.estimate.get("compute")
    if not comp:
        return section.add(Para(lit(data.estimate_error or "No compute estimate is available for this spec.")))
    rows = []
    for name, value, budget, show in _budget_rows(data):
        if value is None and budget is None:
            continue
        status = ""
        if value is not None and budget:
            status = "over budget" if value > budget else f"within ({fmt.pct(value, budget)} used)"
        rows.append([name, show(value), show(budget) if budget else "none set", status or "-"])
    if rows:
        section.add(Table(["", "Estimate", "Budget", "Status"], rows, align=["l", "r", "r", "l"]))
    shown = {"gpu_hours", "wall_hours", "wall_clock_hours", "hours", "cost", "cost_usd"}  # in the budget table
    detail = _detail_rows(comp, shown if rows else set())
    if detail:
        section.add(Para("**Details**"), Table(["Quantity", "Value"], detail))
    notes = [lit(a) for a in comp.get("assumptions", [])] if isinstance(comp, dict) else []
    if notes:
        section.add(Bullets(notes))
    return section


# -- lint -------------------------------------------------------------------------------------------------------
def lint(data: ReportData) -> Section:
    section = Section("Lint findings", anchor="lint")
    if data.lint is None:
        return section.add(Callout("warn", lit(data.lint_error or "lint did not run")))
    if not data.lint:
        return section.add(Callout("ok", "No findings."))
    rows = []
    for f in data.lint:
        where = lit(f"{f.get('filename')}:{f.get('line')}:{f.get('column')}")
        rows.append([code(f["code"]), lit(f.get("severity", "")), code(f["key"]) if f.get("key") else where,
                     f.get("message", ""), f.get("fix") or "-"])
    section.add(Table(["Code", "Severity", "Where", "Finding", "Fix"], rows, align=["l"] * 5))
    section.add(Para("`llmspec rule CODE` explains a rule; `llmspec lint` shows each finding at its file:line:col."))
    return section


# -- what would fit ------------------------------------------------------------------------------------------------
def what_would_fit(data: ReportData) -> Section | None:
    failing = [p for p in PHASES if data.fits(p) is False]
    if not failing:
        return None
    section = Section("What would fit", anchor="fits")
    fixes = data.estimate.get("fits")
    if fixes is None:
        return section.add(Para("No fit suggestions are available from this version of the estimator."))
    if not fixes:
        return section.add(Callout("error", "No single change, or pair of changes, that llmspec tries brings this "
                                             "run under the memory of its GPUs; use more or larger GPUs."))
    rows = []
    for fix in fixes:
        sets = fix.get("set") or [f"{k}={_toml(v)}" for k, v in (fix.get("overrides") or {}).items()]
        cells = " ".join(code(f"--set {s}") for s in sets) or "-"
        after = fix.get("total_bytes") or fix.get("per_gpu_bytes")
        rows.append([lit(fix.get("mode", "")), lit(fix.get("description") or "change"), cells, fmt.gib(after),
                     lit(fix.get("impact") or "-")])
    section.add(Para(f"{' and '.join(p.capitalize() for p in failing)} does not fit. Each of these changes makes "
                     "it fit (re-estimated with the change applied), cheapest first:"),
                Table(["For", "Change", "Overrides", "Memory per GPU after", "Gives up"], rows,
                      align=["l", "l", "l", "r", "l"]))
    return section


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return str(value)


# -- eval ---------------------------------------------------------------------------------------------------------
def spec_hash(data: ReportData) -> str:
    """The spec hash ``llmspec eval`` writes to results.json (run.spec_hash)."""
    from llmspec.spec.hashing import spec_hash as _hash

    return _hash(data.spec)


def eval_results(data: ReportData) -> Section:
    results = data.results or {}
    section = Section("Eval results", anchor="eval")
    run = results.get("run") or {}
    versions = ", ".join(f"{k} {v}" for k, v in (run.get("versions") or {}).items() if v)
    section.add(Para(f"From {code(data.results_path)}" + (f": {lit(run.get('model'))}" if run.get("model") else "") +
                     (f" on {lit(run['device'])}" if run.get("device") else "") +
                     (f" ({lit(versions)})" if versions else "") + "."))
    if run.get("spec_hash") and run["spec_hash"] != spec_hash(data):
        section.add(Callout("warn", f"These results were written for a different version of the spec "
                                    f"({lit(run.get('spec') or 'unknown file')}): they may not describe this run."))
    rows = []
    for task, result in (results.get("tasks") or {}).items():
        for metric, m in (result.get("metrics") or {}).items():
            ci = "-"
            if m.get("ci_low") is not None and m.get("ci_high") is not None:
                ci = f"[{fmt.metric(m['ci_low'])}, {fmt.metric(m['ci_high'])}]"
            rows.append([lit(task), lit(metric), fmt.metric(m["value"]), ci, str(m.get("n", "")),
                         "higher" if m.get("higher_is_better") else "lower"])
    if rows:
        section.add(Table(["Task", "Metric", "Value", "95% CI", "n", "Better"], rows, align=["l", "l", "r", "r", "r", "l"]))
    gates = data.gates()
    if gates:
        grow = []
        for g in gates:
            status = {"pass": "pass", "fail": "**FAIL**", "error": "**ERROR**"}.get(g["status"], lit(g["status"]))
            grow.append([code(g["metric"]), lit(g.get("kind", "")), status,
                         fmt.metric(g.get("value")), lit(power_cell(g)), lit(g.get("reason", ""))])
        section.add(Para("**Gates**"), Table(["Gate", "Kind", "Status", "Value", "Detects (80% power)", "Reason"],
                                             grow, align=["l", "l", "l", "r", "r", "l"]))
        if any(g.get("kind") == "baseline" for g in gates):
            section.add(Para(lit(HOLM_NOTE)))
        failed = [g for g in gates if g["status"] in ("fail", "error")]
        section.add(Callout("error" if failed else "ok", f"{len(gates) - len(failed)} of {len(gates)} gates passed."))
    elif data.spec.eval and data.spec.eval.gates:
        section.add(Para("The results file has no gate outcomes; run `llmspec eval` to judge the spec's gates."))
    return section
