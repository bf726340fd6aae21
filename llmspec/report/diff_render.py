"""Render a :class:`~llmspec.report.diff.DiffResult`: a lead paragraph in words, Markdown for a pull-request
comment (short: impact table first, details folded), and JSON for tools."""

from __future__ import annotations

from typing import Any

from llmspec.report import fmt
from llmspec.report.diff import DiffResult
from llmspec.report.doc import Table, code, lit
from llmspec.report.markdown import inline, table
from llmspec.textsafe import json_dumps

_LABELS = {
    "parameters": "Parameters", "active_parameters": "Active parameters", "trainable_parameters": "Trainable parameters",
    "training_memory_per_gpu": "Training memory per GPU", "inference_memory_per_gpu": "Inference memory per GPU",
    "gpu_capacity": "GPU memory", "training_flops": "Training FLOP", "gpu_hours": "GPU-hours",
    "wall_hours": "Wall-clock hours", "cost": "Cost",
}
MAX_KEYS_OPEN = 12  # more changed keys than this are folded into <details> to keep the comment short


def show(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return {"params": fmt.count, "bytes": fmt.gib, "hours": fmt.hours, "usd": fmt.money,
            "flops": fmt.flop}.get(unit, str)(value)


def _memory_sentence(result: DiffResult, phase: str) -> str | None:
    d = result.delta(f"{phase}_memory_per_gpu")
    if d is None or d.old is None or d.new is None or d.old == d.new:
        return None
    verb = "rises" if d.new > d.old else "falls"
    text = f"{phase.capitalize()} memory per GPU {verb} from {fmt.gib(d.old)} to {fmt.gib(d.new)} ({fmt.signed_pct(d.old, d.new)})"
    was, now = result.old["fits"].get(phase), result.new["fits"].get(phase)
    gpu = lit(result.new.get("accelerator") or "the GPU")
    if was and now is False:
        text += f": it no longer fits the {gpu}"
    elif was is False and now:
        text += f": it now fits the {gpu}"
    elif now is False:
        text += f": it still does not fit the {gpu}"
    return text


def lead(result: DiffResult) -> str:
    """A few sentences: what the change does to memory, cost and risk."""
    if not result.changes:
        return "No effective change: both specs describe the same model and run."
    keys = [c.key for c in result.changes]
    parts = [f"Changes {len(keys)} key{'s' * (len(keys) != 1)} ({', '.join(code(k) for k in keys[:3])}"
             f"{', ...' if len(keys) > 3 else ''})."]
    for phase in ("training", "inference"):
        sentence = _memory_sentence(result, phase)
        if sentence:
            parts.append(sentence + ".")
    money = []
    for name in ("trainable_parameters", "gpu_hours", "cost"):
        d = result.delta(name)
        if d and d.delta:
            sign = "+" if d.delta > 0 else "-"
            words = {"trainable_parameters": "trainable parameters", "gpu_hours": "GPU-hours", "cost": "cost"}[name]
            money.append(f"{words} {sign}{show(abs(d.delta), d.unit)} "
                         f"({fmt.signed_pct(d.old, d.new)})")
    if money:
        text = "; ".join(money)
        parts.append(text[0].upper() + text[1:] + ".")
    if result.lint_available and (result.lint_introduced or result.lint_fixed):
        bits = []
        if result.lint_introduced:
            errors = [f["code"] for f in result.lint_introduced if f["severity"] == "error"]
            bits.append(f"introduces {len(result.lint_introduced)} lint finding{'s' * (len(result.lint_introduced) != 1)}"
                        + (f" ({len(errors)} error{'s' * (len(errors) != 1)}: {', '.join(sorted(set(errors)))})" if errors else ""))
        if result.lint_fixed:
            n = len(result.lint_fixed)
            bits.append(f"fixes {n}" if result.lint_introduced else f"fixes {n} lint finding{'s' * (n != 1)}")
        text = " and ".join(bits)
        parts.append(text[0].upper() + text[1:] + ".")
    broke = [g["gate"] for g in result.gates if g["old_status"] == "pass" and g["new_status"] in ("fail", "error")]
    healed = [g["gate"] for g in result.gates if g["old_status"] in ("fail", "error") and g["new_status"] == "pass"]
    if broke:
        parts.append(f"Gate{'s' * (len(broke) != 1)} now failing: {', '.join(code(g) for g in broke)}.")
    if healed:
        parts.append(f"Gate{'s' * (len(healed) != 1)} now passing: {', '.join(code(g) for g in healed)}.")
    return " ".join(parts)


def _value(v: Any) -> str:
    if v is None:
        return "(unset)"
    if isinstance(v, str):
        return v if v == "(table)" else code(v) if v else code('""')
    return code(json_dumps(v))


def diff_markdown(result: DiffResult) -> str:
    names = f"{code(result.old['name'])} → {code(result.new['name'])}"
    out = [f"### llmspec diff: {inline(names)}", "", inline(result.summary, block_start=True), ""]
    if result.changes:
        rows = []
        for d in result.deltas:
            if d.old == d.new and d.name in ("gpu_capacity", "active_parameters"):
                continue
            rows.append([_LABELS.get(d.name, d.name), show(d.old, d.unit), show(d.new, d.unit),
                         "-" if d.delta in (None, 0) else f"{'+' if d.delta > 0 else '-'}{show(abs(d.delta), d.unit)} "
                         f"({fmt.signed_pct(d.old, d.new)})"])
        for phase in ("training", "inference"):
            x, y = result.old["fits"].get(phase), result.new["fits"].get(phase)
            if x is not None or y is not None:
                word = {True: "yes", False: "**no**", None: "n/a"}
                rows.append([f"Fits ({phase})", word[x], word[y], "-" if x == y else "changed"])
        if rows:
            out += [table(Table(["", "Old", "New", "Change"], rows)), ""]
        keys = table(Table(["Key", "Old", "New"], [[code(c.key), _value(c.old), _value(c.new)] for c in result.changes],
                           align=["l", "l", "l"]))
        if len(result.changes) > MAX_KEYS_OPEN:
            out += [f"<details><summary>{len(result.changes)} changed keys</summary>", "", keys, "", "</details>", ""]
        else:
            out += ["**Changed keys**", "", keys, ""]
    if not result.lint_available:
        out += ["_Lint did not run on both sides._", ""]
    for title, items in (("Lint findings introduced", result.lint_introduced), ("Lint findings fixed", result.lint_fixed)):
        if items:
            rows = [[code(f["code"]), lit(f["severity"]), code(f["key"]) if f.get("key") else "-", f["message"]]
                    for f in items]
            out += [f"**{title}**", "", table(Table(["Code", "Severity", "Key", "Finding"], rows, align=["l"] * 4)), ""]
    if result.gates:
        rows = [[code(g["gate"]), _status(g["old_status"], g["old_value"]), _status(g["new_status"], g["new_value"])]
                for g in result.gates]
        out += ["**Eval gates**", "", table(Table(["Gate", "Old", "New"], rows, align=["l", "l", "l"])), ""]
    out.append("<sub>llmspec diff: estimates are analytic; `llmspec report` shows each side in full.</sub>")
    return "\n".join(out) + "\n"


def _status(status: str | None, value: float | None) -> str:
    if status is None:
        return "-"
    word = status if status == "pass" else f"**{lit(status)}**"
    return word + (f" ({fmt.metric(value)})" if value is not None else "")


def diff_json(result: DiffResult) -> str:
    return json_dumps(result.to_dict(), indent=2, sort_keys=False) + "\n"
