"""What both engines share: judging a suggested point before it runs, building its TrialRun, the holdout check.

An engine (Optuna, Ray Tune) suggests overrides; :func:`prepare` judges them with the fast path. An infeasible
point gets no TrialRun: the engine refuses it before anything runs and it is recorded as ``infeasible``. A
feasible point is written out as ``<out>/trial-NNNN/spec.toml`` and loaded back with the normal loader, so the
training function receives exactly the spec `llmspec check` would accept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from llmspec.spec.models import Spec
from llmspec.sweep.fast import FastPath, Verdict, with_overrides
from llmspec.sweep.toml_out import dumps
from llmspec.sweep.trial import Recorder, SweepError, TrialRun, eval_metric, resolve_suite


class Sweeper:
    """One sweep run: the base spec, its fast path, the output directory and the record."""

    def __init__(self, spec: Spec, out: Path, engine: str, *, trust_suite_code: bool = False):
        if spec.sweep is None or spec.sweep.objective is None:
            raise SweepError("`llmspec sweep run` needs [sweep.objective] metric = \"task/metric\" (what to optimise)")
        _check_objective(spec)
        self.spec = spec
        self.trust_suite_code = trust_suite_code
        self.sweep = spec.sweep
        self.objective = spec.sweep.objective
        self.out = Path(out).resolve()
        self.fast = FastPath(spec)
        self.suite = resolve_suite(spec, self.objective.suite)
        self.holdout = resolve_suite(spec, self.objective.holdout_suite)
        path = spec.source.path if spec.source is not None else None
        self.recorder = Recorder(self.out, engine, path, self.objective.direction, self.objective.metric)

    def judge(self, number: int, overrides: Mapping[str, Any]) -> Verdict:
        """The fast path's verdict; an infeasible point is recorded (it will never run)."""
        verdict = self.fast.evaluate(number, overrides)
        if not verdict.feasible:
            self.recorder.record(number=number, state="infeasible", overrides=dict(overrides), codes=verdict.codes,
                                 messages=verdict.messages, estimate=verdict.to_dict()["estimate"], value=None)
        return verdict

    def prepare(self, number: int, overrides: Mapping[str, Any],
                report: Callable[[int, float], None]) -> tuple[Verdict, TrialRun | None]:
        verdict = self.judge(number, overrides)
        if not verdict.feasible:
            return verdict, None
        directory = self.out / f"trial-{number:04d}"
        directory.mkdir(parents=True, exist_ok=True)
        spec_file = directory / "spec.toml"
        spec_file.write_text(dumps(with_overrides(self.fast.doc, overrides)), encoding="utf-8")
        from llmspec.spec.loader import SpecError, load_spec

        try:
            concrete = load_spec(spec_file, accelerators=self.fast.accelerators)
        except SpecError as exc:  # the fast path said valid: a disagreement is a bug, never a silent pass
            raise SweepError(f"trial {number}: the fast path accepted a point that check rejects ({exc}); "
                             "please report it") from None
        run = TrialRun(number, concrete, dict(overrides), directory, verdict.to_dict()["estimate"],
                       self.objective.metric, self.suite, report,
                       rung=self.sweep.asha.min_resource if self.sweep.asha else None,
                       trust_suite_code=self.trust_suite_code)
        return verdict, run

    def finished(self, run: TrialRun, state: str, value: float | None, error: str | None = None) -> None:
        self.recorder.record(number=run.number, state=state, overrides=run.overrides, codes=[],
                             estimate=run.estimate, value=value, reports=run.reports,
                             spec_file=str(run.directory / "spec.toml"), error=error)

    def confirm(self, best: Mapping[str, Any]) -> dict[str, Any] | None:
        """Score the winner on the held-out suite (never tuned on) and record the gap to its validation score."""
        if self.holdout is None or best.get("value") is None:
            return None
        directory = Path(str(best["spec_file"])).parent
        from llmspec.spec.loader import load_spec

        spec = load_spec(directory / "spec.toml", accelerators=self.fast.accelerators)
        task_metric = _holdout_metric(self.objective.metric, self.holdout)
        value = eval_metric(spec, directory / "checkpoint", self.holdout, task_metric, directory / "eval-holdout",
                            trust_suite_code=self.trust_suite_code)
        gap = value - float(best["value"])
        row = {"number": best["number"], "state": "holdout", "metric": task_metric, "value": value,
               "validation_value": best["value"], "gap": gap}
        self.recorder.record(**row)
        return row


def _check_objective(spec: Spec) -> None:
    """Refuse to start when the objective names a task or metric its suites do not report (lint's SWP003): found
    before the first trial trains, not after it."""
    from llmspec.lint.rule import Context
    from llmspec.lint.rules.swp003_objective_metric_unknown import RULE

    for f in RULE().check(Context(spec, spec.source.accelerators if spec.source is not None else None)) or ():
        raise SweepError(f"{f.file}:{f.line}:{f.col}: {f.message}; {f.fix}")


def _holdout_metric(metric: str, holdout_suite: str) -> str:
    """The objective's metric name on the held-out suite's task: its only task, or the same task name."""
    from llmspec.eval.suite import load_suite

    suite = load_suite(Path(holdout_suite))
    task, name = metric.split("/", 1)
    names = [t.task for t in suite.tasks]
    if task in names:
        return metric
    if len(names) == 1:
        return f"{names[0]}/{name}"
    raise SweepError(f"held-out suite {holdout_suite}: no task {task!r} and more than one task ({', '.join(names)}); "
                     "give it one task, or the objective's task name")


def best_trials(rows: list[dict], direction: str, k: int = 5) -> list[dict]:
    done = [r for r in rows if r.get("state") == "complete" and r.get("value") is not None]
    return sorted(done, key=lambda r: r["value"], reverse=direction == "maximize")[:k]
