"""``llmspec diff``: what changing a spec does. Data only; :mod:`.diff_render` writes Markdown and JSON.

Both sides are gathered exactly as ``llmspec report`` gathers one spec (estimate contract, lint, results), and
compared on effective values: a key counts as changed when the validated spec differs (``"40M"`` and
``40_000_000`` are the same), so ``extends`` and ``hf_config`` changes show up as the keys they change.
Lint findings are matched on (code, key), not position or wording: moving a line or changing a number in a
message does not make a finding "new".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from llmspec.report.model import ReportData, gather

SCHEMA_VERSION = 1
TOP_SECTIONS = ("meta", "model", "training", "sampling", "inference", "hardware", "eval")


@dataclass
class Change:
    key: str
    old: Any
    new: Any


@dataclass
class Delta:
    name: str
    old: float | None
    new: float | None
    unit: str
    """"params", "bytes", "hours", "usd", "flops"."""

    @property
    def delta(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old


@dataclass
class DiffResult:
    old: dict
    """{"name": display, "model": name, "accelerator": ..., "capacity_bytes": ..., "fits": {...}}"""
    new: dict
    changes: list[Change] = field(default_factory=list)
    deltas: list[Delta] = field(default_factory=list)
    lint_introduced: list[dict] = field(default_factory=list)
    lint_fixed: list[dict] = field(default_factory=list)
    lint_unchanged: int = 0
    lint_available: bool = True
    gates: list[dict] = field(default_factory=list)
    """[{"metric", "old_status", "new_status", "old_value", "new_value"}] when both sides have results."""
    summary: str = ""

    def delta(self, name: str) -> Delta | None:
        return next((d for d in self.deltas if d.name == name), None)

    def to_dict(self) -> dict:
        out = {"schema_version": SCHEMA_VERSION, "summary": self.summary, "old": self.old, "new": self.new,
               "changes": [asdict(c) for c in self.changes],
               "deltas": {d.name: {"old": d.old, "new": d.new, "delta": d.delta, "unit": d.unit} for d in self.deltas},
               "lint": {"available": self.lint_available, "introduced": self.lint_introduced,
                        "fixed": self.lint_fixed, "unchanged": self.lint_unchanged},
               "gates": self.gates}
        return out


def compare(old_path: str, new_path: str, overrides: Sequence[str] = (), old_name: str | None = None,
            new_name: str | None = None, old_results: str | None = None,
            new_results: str | None = None) -> DiffResult:
    """Gather both sides (``overrides`` apply to both) and compare them. Raises SpecError / ReportInputError."""
    a = gather(old_path, overrides, old_results, display=old_name)
    b = gather(new_path, overrides, new_results, display=new_name)
    result = DiffResult(old=_side(a), new=_side(b))
    result.changes = changed_keys(a, b)
    result.deltas = _deltas(a, b)
    _lint(result, a, b)
    if a.results is not None and b.results is not None:
        result.gates = _gates(a, b)
    from llmspec.report.diff_render import lead

    result.summary = lead(result)
    return result


def _side(d: ReportData) -> dict:
    hw = d.spec.hardware
    return {"name": d.display, "model": d.spec.model.name,
            "accelerator": hw.accelerator if hw else None,
            "gpus": hw.world_size if hw else None,
            "capacity_bytes": d.capacity_bytes,
            "fits": {p: d.fits(p) for p in ("training", "inference")},
            "estimate_error": d.estimate_error}


# -- keys -------------------------------------------------------------------------------------------------------
def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys of the effective spec; lists of tables by index (eval.gates[0].min), other lists as values."""
    out: dict[str, Any] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
        for i, value in enumerate(node):
            out.update(flatten(value, f"{prefix}[{i}]"))
    else:
        out[prefix] = node
    return out


def _effective(d: ReportData) -> dict:
    dumped = d.spec.model_dump(mode="json")
    dumped.pop("extends", None)  # the base's keys are compared instead
    return dumped


def _written(d: ReportData, key: str, effective: Any) -> Any:
    """What the user wrote for ``key`` ("40M") when it is a scalar that means ``effective``; else effective."""
    node: Any = getattr(d.spec.source, "raw", None) or {}
    for part in key.replace("[", ".[").split("."):
        if part.startswith("["):
            index = int(part[1:-1])
            node = node[index] if isinstance(node, list) and index < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return effective
    return node if isinstance(node, (str, int, float, bool)) else effective


def changed_keys(a: ReportData, b: ReportData) -> list[Change]:
    old, new = _effective(a), _effective(b)
    changes: list[Change] = []
    for section in ("version", *TOP_SECTIONS):
        x, y = old.get(section), new.get(section)
        if x == y:
            continue
        if x is None or y is None:  # a whole table added or removed: one line, not every default in it
            changes.append(Change(section, None if x is None else "(table)", None if y is None else "(table)"))
            continue
        fx, fy = flatten(x, section), flatten(y, section)
        for key in [*fx, *(k for k in fy if k not in fx)]:
            if fx.get(key) != fy.get(key):
                changes.append(Change(key, _written(a, key, fx.get(key)), _written(b, key, fy.get(key))))
    return changes


# -- numbers ----------------------------------------------------------------------------------------------------
def _deltas(a: ReportData, b: ReportData) -> list[Delta]:
    from llmspec.report.sections_run import compute_value

    def params(d: ReportData, key: str) -> float | None:
        return (d.estimate.get("params") or {}).get(key)

    rows = [
        Delta("parameters", params(a, "total"), params(b, "total"), "params"),
        Delta("active_parameters", params(a, "active"), params(b, "active"), "params"),
        Delta("trainable_parameters", params(a, "trainable"), params(b, "trainable"), "params"),
        Delta("training_memory_per_gpu", a.total_bytes("training"), b.total_bytes("training"), "bytes"),
        Delta("inference_memory_per_gpu", a.total_bytes("inference"), b.total_bytes("inference"), "bytes"),
        Delta("gpu_capacity", a.capacity_bytes, b.capacity_bytes, "bytes"),
        Delta("training_flops", compute_value(a, "total_flops"), compute_value(b, "total_flops"), "flops"),
        Delta("gpu_hours", compute_value(a, "gpu_hours"), compute_value(b, "gpu_hours"), "hours"),
        Delta("wall_hours", compute_value(a, "wall_hours", "wall_clock_hours", "hours"),
              compute_value(b, "wall_hours", "wall_clock_hours", "hours"), "hours"),
        Delta("cost", compute_value(a, "cost_usd", "cost"), compute_value(b, "cost_usd", "cost"), "usd"),
    ]
    return [d for d in rows if d.old is not None or d.new is not None]


# -- lint and gates -----------------------------------------------------------------------------------------------
def _lint(result: DiffResult, a: ReportData, b: ReportData) -> None:
    if a.lint is None or b.lint is None:
        result.lint_available = False
        return
    def ident(f: dict) -> tuple:
        return (f["code"], f.get("key") or "")
    old, new = Counter(ident(f) for f in a.lint), Counter(ident(f) for f in b.lint)
    introduced, fixed = new - old, old - new
    result.lint_introduced = _take(b.lint, introduced, ident)
    result.lint_fixed = _take(a.lint, fixed, ident)
    result.lint_unchanged = sum((old & new).values())


def _take(findings: list[dict], wanted: Counter, ident) -> list[dict]:
    left, out = Counter(wanted), []
    for f in findings:
        if left[ident(f)] > 0:
            left[ident(f)] -= 1
            out.append({k: f.get(k) for k in ("code", "severity", "key", "message", "fix")})
    return out


def _gates(a: ReportData, b: ReportData) -> list[dict]:
    def by_metric(d: ReportData) -> dict[str, dict]:
        return {f"{g['metric']} ({g.get('kind', '')})": g for g in d.gates()}
    old, new = by_metric(a), by_metric(b)
    out = []
    for name in [*old, *(k for k in new if k not in old)]:
        x, y = old.get(name, {}), new.get(name, {})
        out.append({"gate": name, "old_status": x.get("status"), "new_status": y.get("status"),
                    "old_value": x.get("value"), "new_value": y.get("value")})
    return out
