"""Gather what a design review shows about one spec: the spec, the accelerator, the estimate contract, lint
findings and (optionally) eval results.

Each source is read through its public contract only: ``llmspec.estimate.estimate(spec).to_dict()``,
``llmspec.lint.lint_paths``, and results.json as validated by ``llmspec.eval.results_schema.Results``. A source
that fails does not stop the report: its section says what went wrong.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmspec.spec.models import Spec


class ReportInputError(Exception):
    """A user-fixable problem with an input (unreadable results file): one line, exit 2."""


@dataclass
class ReportData:
    path: str
    """The spec file that was loaded."""
    display: str
    """How the report names it (the path, or ``REV:path`` for a git revision)."""
    spec: Spec
    overrides: tuple[str, ...] = ()
    accelerator: Any = None
    """llmspec.catalog.Accelerator, or None (no [hardware] or an unknown name)."""
    capacity_bytes: int | None = None
    """Memory per GPU: hardware.memory, else the catalog's."""
    estimate: dict = field(default_factory=dict)
    """``Estimate.to_dict()``; possibly only {"params": ...} when the full estimator is unavailable."""
    estimate_error: str | None = None
    lint: list[dict] | None = None
    """Finding.to_dict() of every finding, or None when lint could not run (see lint_error)."""
    lint_error: str | None = None
    results: dict | None = None
    results_path: str | None = None
    gate_power: list[dict] | None = None
    """Power by design of each max_drop gate (llmspec.eval.gateplan), before any run; None when it has none."""
    gate_power_error: str | None = None

    # -- derived values the sections and the diff share ------------------------------------------------
    def memory(self, phase: str) -> dict:
        """``estimate["memory"][phase]`` ("training" / "inference"), {} when absent."""
        return dict((self.estimate.get("memory") or {}).get(phase) or {})

    def total_bytes(self, phase: str) -> int | None:
        """Peak allocated plus overhead per GPU: what must fit in the GPU's memory."""
        mem = self.memory(phase)
        if mem.get("total_bytes") is not None:
            return int(mem["total_bytes"])
        if mem.get("per_gpu_bytes") is not None:
            return int(mem["per_gpu_bytes"]) + int(mem.get("overhead_bytes") or 0)
        return None

    def capacity(self, phase: str) -> int | None:
        return self.memory(phase).get("capacity_bytes") or self.capacity_bytes

    def fits(self, phase: str) -> bool | None:
        """Whether the phase fits on one GPU; None when there is nothing to judge (no estimate or no GPU)."""
        mem = self.memory(phase)
        if isinstance(mem.get("fits"), bool):
            return mem["fits"]
        total, cap = self.total_bytes(phase), self.capacity(phase)
        if total is None or not cap:
            return None
        return total <= cap

    def lint_counts(self) -> dict[str, int]:
        out = {"error": 0, "warning": 0, "info": 0}
        for f in self.lint or ():
            out[f.get("severity", "info")] = out.get(f.get("severity", "info"), 0) + 1
        return out

    def gates(self) -> list[dict]:
        return list((self.results or {}).get("gates") or [])


def gather(path: str, overrides: Sequence[str] = (), results: str | None = None,
           display: str | None = None, lint: bool = True) -> ReportData:
    """Load the spec (raises ``llmspec.spec.loader.SpecError``) and collect everything else around it."""
    from llmspec.project import load_spec

    overrides = tuple(overrides)
    spec = load_spec(path, overrides)
    data = ReportData(path=str(path), display=display or str(path), spec=spec, overrides=overrides)
    _accelerator(data)
    _estimate(data)
    if lint:
        _lint(data)
    _gate_power(data)
    if results is not None:
        data.results, data.results_path = load_results(results), str(results)
    return data


def _accelerator(data: ReportData) -> None:
    hw = data.spec.hardware
    if hw is None:
        return
    from llmspec.catalog import CatalogError, resolve

    extra = data.spec.source.accelerators if data.spec.source is not None else None  # resolved once, by the loader
    try:
        data.accelerator = resolve(hw.accelerator, extra)
    except CatalogError:
        data.accelerator = None
    data.capacity_bytes = hw.memory or (data.accelerator.memory_bytes if data.accelerator else None)


def _estimate(data: ReportData) -> None:
    estimate: Any = None
    try:
        from llmspec.estimate import estimate
    except ImportError:
        pass
    if estimate is not None:
        try:
            data.estimate = estimate(data.spec).to_dict()
            return
        except Exception as exc:
            data.estimate_error = f"the estimator failed on this spec ({type(exc).__name__}: {exc}); please report it"
    else:
        data.estimate_error = "memory and compute estimates are not available in this version of llmspec"
    try:
        from llmspec.estimate import count_params

        data.estimate = {"params": count_params(data.spec.arch, data.spec.training).to_dict()}
    except Exception as exc:
        data.estimate_error = (data.estimate_error or "") + f"; parameter count failed ({type(exc).__name__}: {exc})"


def _lint(data: ReportData) -> None:
    try:
        from llmspec.lint import Options, lint_paths
    except ImportError:
        data.lint_error = "lint is not available in this version of llmspec"
        return
    try:
        result = lint_paths([data.path], Options(overrides=data.overrides))
    except Exception as exc:
        data.lint_error = f"lint could not run: {exc}"
        return
    data.lint = [f.to_dict() for f in result.findings]


def _gate_power(data: ReportData) -> None:
    """n, test, level and the drop each max_drop gate detects with 80% power, as ``eval --dry-run`` prints them."""
    ev = data.spec.eval
    if ev is None or not any(g.max_drop is not None for g in ev.gates):
        return
    try:
        from llmspec.eval.gateplan import plan_gates, power_text
    except ImportError:
        data.gate_power_error = "gate power needs the eval extra (pip install 'llmspec-cli[eval]')"
        return
    units = {g.metric: g.drop_unit for g in ev.gates}
    try:
        plans = plan_gates(data.spec)
    except Exception as exc:
        data.gate_power_error = f"gate power could not be planned ({type(exc).__name__}: {exc}); please report it"
        return
    data.gate_power = [{"metric": p.metric, "n": p.n, "method": p.method, "level": p.level,
                        "detects": power_text(p, units.get(p.metric) == "percent"), "undecidable": p.undecidable}
                       for p in plans]


def load_results(path: str) -> dict:
    """Read a results.json written by ``llmspec eval``; a missing or malformed file is a ReportInputError."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportInputError(f"{path}: no such results file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportInputError(f"{path}: cannot read results ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"{path}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg})") from None
    from pydantic import ValidationError

    from llmspec.eval.results_schema import Results

    try:
        return Results.model_validate(raw).model_dump(mode="json")
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ReportInputError(f"{path}: not an llmspec results file ({where}: {err['msg']})") from None
