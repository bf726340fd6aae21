"""Power by design: what each baseline gate can detect at its n, known before any run (lint, --dry-run).

For every ``max_drop`` gate: its n (the smallest of [eval].limit, the suite task's limit and the rows of a local
task's data file; None when unknown), the test it will get (llmspec.eval.gates), the smallest p-value that
test can reach at n against Holm's first level alpha/m (undecidable when above), and the smallest drop it
detects with 80% power under the stated conservative assumption: per-sample values in [0, 1] (accuracy, F1)
have sigma <= 0.5, and the two runs' difference has at most the unpaired variance 2 sigma^2 / n
(llmspec.eval.paired.detectable_drop). For ratio metrics (perplexity) sigma is unknown before a run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from llmspec.eval import paired
from llmspec.eval.gate_baseline import SIGMA_BOUNDED
from llmspec.eval.gatecheck import spec_suites
from llmspec.eval.suite import Suite, SuiteTask
from llmspec.eval.taskinfo import TaskYamlError, read_task

PROPORTIONS = {"acc", "acc_norm", "exact_match", "em", "acc_mutual_info", "acc_bytes", "acc_all"}
BOUNDED_MEANS = {"f1", "token_f1"}  # per-item values in [0, 1], aggregated by their mean


@dataclass
class GatePlan:
    index: int
    metric: str
    n: int | None
    method: str  # tango-score-cc | paired-t | paired-bootstrap-expanded
    level: float  # Holm's first level alpha / m
    floor: float | None
    needed_n: int | None
    detectable_drop: float | None  # in the gate's units; None when sigma is unknown

    @property
    def undecidable(self) -> bool:
        return self.floor is not None and self.floor > self.level


def _rows(suite: Suite, task: SuiteTask) -> int | None:
    path = suite.task_path(task)
    if path is None:
        return None
    try:
        cfg = read_task(path)
    except TaskYamlError:
        return None
    kw = cfg.get("dataset_kwargs") or {}
    files = kw.get("data_file") or kw.get("data_files")
    if isinstance(files, dict):
        files = files.get(cfg.get("test_split") or "test")
    if not isinstance(files, str) or not files.endswith(".jsonl"):
        return None
    f = Path(files) if Path(files).is_absolute() else path.parent / files
    try:
        return sum(1 for line in f.read_text(encoding="utf-8").splitlines() if line.strip())
    except OSError:
        return None


def _n(spec, suites: list[Suite], task: str) -> int | None:
    for s in suites:
        for t in s.tasks:
            if t.task == task:
                sizes = [x for x in (spec.eval.limit, t.limit, _rows(s, t)) if x]
                return min(sizes) if sizes else None
    return None


def _tango_floor(n: int, margin: float, mode: str) -> float:
    return paired.tango_floor(n, margin, mode)


def _boot_floor(n: int, n_boot: int) -> float:
    return paired.bootstrap_floor(n, n_boot)


def plan_gates(spec, suites: list[Suite] | None = None) -> list[GatePlan]:
    ev = spec.eval
    if ev is None:
        return []
    if suites is None:
        suites = spec_suites(spec)[0]
    drops = [(i, g) for i, g in enumerate(ev.gates) if g.max_drop is not None]
    m = len(drops)
    if not m:
        return []
    level = ev.alpha / m
    boot = paired.n_boot_for(level)
    out = []
    for i, g in drops:
        task, _, metric = g.metric.partition("/")
        base = metric.split(",", 1)[0]
        n = _n(spec, suites, task)
        margin = g.max_drop / (100.0 if g.drop_unit == "percent" else 1.0)
        floor_at: Callable[[int], float] | None = None
        sigma = None
        if g.drop_unit == "points" and base in PROPORTIONS:
            method, sigma = "tango-score-cc", SIGMA_BOUNDED
            floor_at = partial(_tango_floor, margin=margin, mode=g.mode)
        elif g.drop_unit == "points" and base in BOUNDED_MEANS:
            method, sigma = "paired-t", SIGMA_BOUNDED
        else:
            method = "paired-bootstrap-expanded"
            floor_at = partial(_boot_floor, n_boot=boot)
        floor = floor_at(n) if floor_at and n else (0.0 if n else None)
        need = paired.needed_n(floor_at, level) if floor_at and floor is not None and floor > level else None
        drop = paired.detectable_drop(margin, sigma, n, level) if sigma is not None and n else None
        out.append(GatePlan(i, g.metric, n, method, level, floor, need,
                            drop if drop is None or math.isfinite(drop) else None))
    return out


def power_text(p: GatePlan, percent: bool) -> str:
    """What the gate detects with 80% power, in the gate's units, or why that is unknown (one short phrase)."""
    if p.undecidable:
        need = f"{p.needed_n:,}" if p.needed_n else "far more"
        return f"UNDECIDABLE (smallest reachable p-value {p.floor:.3g}; needs n >= {need})"
    if p.detectable_drop is None:
        return "n/a (sigma unknown before a run)" if p.n else "n/a (n unknown before a run)"
    return f"a drop of {100 * p.detectable_drop:.3g}%" if percent else f"a drop of {p.detectable_drop:.3g}"


def describe(plans: list[GatePlan], unit_of: dict[str, str]) -> list[str]:
    """One line per baseline gate for --dry-run."""
    lines = []
    for p in plans:
        head = f"  {p.metric}: n={p.n if p.n is not None else 'unknown'}, {p.method} at level {p.level:.3g}"
        text = power_text(p, unit_of.get(p.metric) == "percent")
        lines.append(f"{head}: {text}" if p.undecidable or p.detectable_drop is None
                     else f"{head}: detects {text} with 80% power")
    return lines
