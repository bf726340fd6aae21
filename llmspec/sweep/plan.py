"""`llmspec sweep plan`: every point of the space validated, estimated, judged and linted before any GPU time."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from llmspec.spec.models import Spec
from llmspec.sweep.fast import FastPath, Verdict
from llmspec.sweep.space import points

TPE_NOTE = ("method = \"tpe\" chooses each trial from the results of earlier ones, which do not exist before the "
            "sweep runs; this plan can only sample the prior (the same distributions, seeded), so it shows the "
            "region TPE searches, not the points it will pick")


@dataclass
class RuleTally:
    code: str
    name: str
    summary: str
    severity: str
    points: int = 0
    example: str = ""


@dataclass
class Plan:
    spec: Spec
    verdicts: list[Verdict]
    findings: dict[str, RuleTally] = field(default_factory=dict)
    fast_seconds: float = 0.0
    lint_seconds: float = 0.0
    linted: int = 0
    notes: list[str] = field(default_factory=list)
    sweep_findings: list = field(default_factory=list)
    """Findings of the SWP rules on the sweep itself (llmspec.lint.rule.Finding)."""

    @property
    def feasible(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.feasible]

    def counts(self) -> dict[str, int]:
        out = Counter(v.status for v in self.verdicts)
        return {k: out.get(k, 0) for k in ("feasible", "invalid", "does-not-fit", "over-budget", "lint-error",
                                           "over-sweep-budget", "error")}

    def code_counts(self) -> dict[str, int]:
        return dict(Counter(c for v in self.verdicts for c in v.codes))

    def totals(self) -> dict[str, float | None]:
        feasible = self.feasible
        hours = [v.gpu_hours for v in feasible]
        costs = [v.cost for v in feasible]
        return {"gpu_hours": sum(h for h in hours if h is not None) if any(h is not None for h in hours) else None,
                "cost": sum(c for c in costs if c is not None) if any(c is not None for c in costs) else None}

    def region(self) -> dict[str, dict[str, Any]]:
        """Per swept key: the values (or range) among feasible points, and among all points."""
        assert self.spec.sweep is not None
        out = {}
        for key in self.spec.sweep.parameters:
            every = [v.overrides[key] for v in self.verdicts if key in v.overrides]
            ok = [v.overrides[key] for v in self.feasible if key in v.overrides]
            out[key] = {"feasible": _span(ok), "all": _span(every)}
        return out

    def rates(self) -> dict[str, float | None]:
        n = len(self.verdicts)
        return {"fast_points_per_s": n / self.fast_seconds if self.fast_seconds > 0 else None,
                "lint_points_per_s": self.linted / self.lint_seconds if self.lint_seconds > 0 else None}

    def to_dict(self) -> dict:
        assert self.spec.sweep is not None
        return {
            "spec": self.spec.source.path if self.spec.source is not None else None,
            "method": self.spec.sweep.method,
            "notes": self.notes,
            "counts": {"points": len(self.verdicts), **self.counts()},
            "codes": self.code_counts(),
            "feasible_region": self.region(),
            "sweep_findings": [f.to_dict() for f in self.sweep_findings],
            "findings": [{"code": t.code, "name": t.name, "severity": t.severity, "summary": t.summary,
                          "points": t.points, "of": self.linted, "example": t.example}
                         for t in self.findings.values()],
            "feasible_totals": self.totals(),
            "rates": self.rates(),
            "points": [v.to_dict() for v in self.verdicts],
        }


def _span(values: list[Any]) -> Any:
    if not values:
        return None
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return {"min": min(values), "max": max(values), "distinct": len(set(values))}
    return {"values": sorted({json.dumps(v) for v in values})}


def sweep_budget(spec: Spec, verdicts: list[Verdict]) -> None:
    """Points past the sweep's budget (trials, GPU-hours, cost of the feasible points so far) become
    over-sweep-budget, in plan order."""
    assert spec.sweep is not None
    budget = spec.sweep.budget
    if budget is None:
        return
    trials, hours, cost = 0, 0.0, 0.0
    for v in verdicts:
        if not v.feasible:
            continue
        reasons = []
        if budget.max_trials is not None and trials + 1 > budget.max_trials:
            reasons.append(f"the sweep's max_trials ({budget.max_trials}) is used up")
        if budget.gpu_hours is not None and v.gpu_hours is not None and hours + v.gpu_hours > budget.gpu_hours:
            reasons.append(f"it would take the sweep to {hours + v.gpu_hours:,.1f} GPU-hours, over its budget of "
                           f"{budget.gpu_hours:,g}")
        if budget.cost is not None and v.cost is not None and cost + v.cost > budget.cost:
            reasons.append(f"it would take the sweep to {cost + v.cost:,.2f}, over its cost budget of {budget.cost:,g}")
        if reasons:
            v.status, v.codes, v.messages = "over-sweep-budget", [*v.codes, "SWEEP-BUDGET"], reasons
            continue
        trials += 1
        hours += v.gpu_hours or 0.0
        cost += v.cost or 0.0


def make_plan(spec: Spec, n: int | None = None, lint: bool = True) -> Plan:
    """Expand or sample the sweep of ``spec``; judge every point (fast path), then lint the valid ones."""
    assert spec.sweep is not None, "make_plan needs a spec with a [sweep] table"
    fast = FastPath(spec)
    start = time.perf_counter()
    verdicts = [fast.evaluate(i, p, keep_spec=lint) for i, p in enumerate(points(spec.sweep, fast.values, n))]
    plan = Plan(spec, verdicts, fast_seconds=time.perf_counter() - start)
    sweep_budget(spec, verdicts)
    if spec.sweep.method == "tpe":
        plan.notes.append(TPE_NOTE)
    if lint:
        _lint_points(plan)
    for v in verdicts:
        v.spec = None
    return plan


def _lint_points(plan: Plan) -> None:
    from llmspec.lint.registry import all_rules
    from llmspec.lint.rule import Context

    rules = [cls() for cls in all_rules().values() if not cls.opt_in]
    accelerators = plan.spec.source.accelerators if plan.spec.source is not None else None
    ctx = Context(plan.spec, accelerators)
    plan.sweep_findings = [f for rule in rules if rule.code.startswith("SWP") for f in rule.check(ctx) or ()]
    start = time.perf_counter()
    for v in plan.verdicts:
        if v.spec is None:
            continue
        plan.linted += 1
        ctx = Context(v.spec, accelerators)
        seen: set[tuple[str, str]] = set()
        for rule in rules:
            try:
                found = list(rule.check(ctx) or ())
            except Exception as exc:  # counted, never hidden: a crashed rule is a finding of its own
                found = []
                tally = plan.findings.setdefault("LNT003", RuleTally("LNT003", "rule-crashed", "a rule crashed",
                                                                     "error"))
                tally.points += 1
                tally.example = tally.example or f"{rule.code}: {type(exc).__name__}: {exc}"
            for f in found:
                if (f.code, f.severity) in seen:
                    continue
                seen.add((f.code, f.severity))
                tally = plan.findings.setdefault(f"{f.code} {f.severity}",
                                                 RuleTally(f.code, rule.name, rule.summary(), f.severity))
                tally.points += 1
                tally.example = tally.example or f.message
    plan.lint_seconds = time.perf_counter() - start
    plan.findings = dict(sorted(plan.findings.items()))
