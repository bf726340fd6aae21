"""What a training function receives per trial, the objective through `llmspec eval`, and the trial records.

Both engines (:mod:`llmspec.sweep.optuna`, :mod:`llmspec.sweep.ray`) call the user's ``train(run)`` with a
:class:`TrialRun`: a concrete, validated spec (the point written out as ``spec.toml`` and loaded by the normal
loader), its estimate and a directory for the checkpoint. ``run.report(step, value)`` passes intermediate
objective values to the engine's ASHA; it raises the engine's own "stop" exception when ASHA stops the trial.
Every trial, refused points included, is one line of ``trials.jsonl`` in the sweep's output directory.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmspec.spec.models import Spec

TRIALS_FILE = "trials.jsonl"
_LOCK = threading.Lock()


class SweepError(Exception):
    """A user-fixable problem running a sweep (bad --train target, missing suite): one line, exit 2."""


@dataclass
class TrialRun:
    number: int
    spec: Spec
    """The trial's concrete spec: validated, no [sweep] table."""
    overrides: dict[str, Any]
    directory: Path
    """The trial's own directory (spec.toml, checkpoint/, eval/)."""
    estimate: dict[str, Any]
    objective_metric: str
    suite: str | None
    """Absolute path of the validation suite file, when the spec's objective names one."""
    _report: Callable[[int, float], None] = field(repr=False, default=lambda step, value: None)
    rung: int | None = None
    """sweep.asha.min_resource: report at least this often (in the training function's steps)."""
    reports: list[tuple[int, float]] = field(default_factory=list)
    trust_suite_code: bool = False
    """`sweep run --trust-suite-code`: the command-line half of the consent a user suite with code needs (the spec
    half is [eval].trust_suite_code), passed to every trial's `llmspec eval`."""

    @property
    def checkpoint(self) -> Path:
        return self.directory / "checkpoint"

    def report(self, step: int, value: float) -> None:
        """An intermediate objective value at ``step`` (the ASHA resource); may stop the trial."""
        self.reports.append((step, float(value)))
        self._report(step, float(value))

    def evaluate(self, checkpoint: Path | None = None, suite: str | None = None) -> float:
        """The objective metric of ``llmspec eval`` on the checkpoint (default: the validation suite)."""
        return eval_metric(self.spec, checkpoint or self.checkpoint, suite or self.suite, self.objective_metric,
                           self.directory / "eval", trust_suite_code=self.trust_suite_code)


def eval_metric(spec: Spec, checkpoint: Path, suite: str | None, metric: str, output: Path, *,
                trust_suite_code: bool = False) -> float:
    """Run `llmspec eval` (its runner, in this process) on ``checkpoint`` and return ``task/metric``."""
    from llmspec.eval.runner import EvalOptions, run

    opts = EvalOptions(model=str(checkpoint), suites=(suite,) if suite else (), output=str(output),
                       progress=False, log=lambda message: None, trust_suite_code=trust_suite_code)
    outcome = run(spec, opts)
    task, name = metric.split("/", 1)
    entry = (outcome.results.get("tasks", {}).get(task, {}).get("metrics", {}) or {}).get(name)
    if entry is None or entry.get("value") is None:
        raise SweepError(f"llmspec eval reported no {metric!r} (exit {outcome.exit_code}: {outcome.reason}); "
                         "check [sweep.objective] metric against the suite's tasks")
    return float(entry["value"])


def resolve_suite(spec: Spec, ref: str | None) -> str | None:
    """A suite name or path from the spec, as an absolute file path (trial specs live in other directories)."""
    if ref is None:
        return None
    from llmspec.eval.suite import SuiteError, find_suite

    base = Path(spec.source.path).parent if spec.source is not None else Path.cwd()
    try:
        return str(find_suite(ref, base))
    except SuiteError as exc:
        raise SweepError(str(exc)) from None


def load_train(target: str) -> Callable[[TrialRun], Any]:
    """``"package.module:function"`` -> the function."""
    import importlib

    module, sep, name = target.partition(":")
    if not sep or not module or not name:
        raise SweepError(f"--train {target!r}: expected MODULE:FUNCTION, e.g. mypkg.train:train")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise SweepError(f"--train {target!r}: cannot import it ({type(exc).__name__}: {exc})") from None
    if not callable(fn):
        raise SweepError(f"--train {target!r} is not a function")
    return fn


class Recorder:
    """Appends one JSON line per trial to ``<out>/trials.jsonl`` (safe across threads; one writer per process)."""

    def __init__(self, out: Path, engine: str, spec_path: str | None, direction: str, metric: str):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.path = self.out / TRIALS_FILE
        self.header = {"engine": engine, "spec": spec_path, "direction": direction, "metric": metric}

    def record(self, **fields: Any) -> None:
        row = {**self.header, "time": time.time(), "pid": os.getpid(), **fields}
        line = json.dumps(row, default=str, sort_keys=True)
        with _LOCK, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def read_trials(out: Path) -> list[dict]:
    path = Path(out) / TRIALS_FILE
    if not path.is_file():
        raise SweepError(f"{path}: no such file; run `llmspec sweep run` with --out {out} first")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SweepError(f"{path}:{n}:{exc.colno}: not JSON ({exc.msg})") from None
    return rows
