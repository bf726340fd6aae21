"""One gate verdict (``GateResult``) and a run's verdicts (``GateReport``): the shape results.json stores
(llmspec.eval.results_schema.GateResultModel)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any


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


def get(gate: Any, key: str, default: Any = None) -> Any:
    return gate.get(key, default) if isinstance(gate, dict) else getattr(gate, key, default)


def fmt(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.4g}"


HOLM_NOTE = ("Baseline-gate bounds are marginal one-sided bounds, each at its gate's Holm level: they are not "
             "simultaneous confidence intervals (Strassburger & Bretz 2008). Each verdict is exactly whether its "
             "own bound excludes the margin.")
POWER_HEADER = "detects (80% power)"


def power_cell(g: dict) -> str:
    """A baseline gate's smallest drop detected with 80% power at its n and level (unpaired-variance assumption),
    in the gate's units; empty for threshold gates."""
    if g.get("kind") != "baseline":
        return ""
    x = g.get("detectable_drop")
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{100 * x:.3g}%" if g.get("drop_unit") == "percent" else f"{x:.3g}"

