"""Run a spec's sweep on Optuna (>= 5): the study, its sampler and pruner come from [sweep].

- space: each parameter becomes ``suggest_categorical`` / ``suggest_float`` (``log=True`` for log_uniform) /
  ``suggest_int`` (with its step), suggested only while its condition holds (Optuna's define-by-run space);
- sampler: grid -> ``GridSampler`` over the grid axes, random -> ``RandomSampler``, tpe -> ``TPESampler``, all
  seeded with sweep.seed;
- ASHA: ``SuccessiveHalvingPruner(min_resource, reduction_factor)`` (Optuna's asynchronous successive halving);
  the training function reports through ``run.report(step, value)``;
- constraints: ``trial.set_constraint("llmspec_infeasible", 1.0 or 0.0)``, the per-trial API of Optuna 5 (the
  samplers' ``constraints_func`` argument is deprecated since 5.0.0); an infeasible point is refused before it
  runs (the trial ends pruned, and its constraint tells constraint-aware samplers why);
- storage: a local ``JournalFileBackend`` file (``<out>/optuna.journal``) by default, which several processes can
  share; ``sqlite`` for ``<out>/optuna.db`` (one worker only: SQLite misbehaves under concurrent writers); or a
  database URL (``postgresql://...``) for many workers on many hosts.

Infeasible points do not count towards the number of trials: the study stops after that many trials *ran*.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from llmspec.spec.models import Spec
from llmspec.spec.sweep import Parameter, Sweep
from llmspec.sweep.engine import Sweeper, best_trials
from llmspec.sweep.space import active, axis, trials
from llmspec.sweep.trial import SweepError, TrialRun, read_trials

CONSTRAINT = "llmspec_infeasible"
MAX_REFUSED_PER_TRIAL = 50
"""Stop after this many refused points per trial asked for (a space that is almost all infeasible)."""


def _encode(values: list[Any]) -> list[Any]:
    """Optuna's categorical choices must be None, bool, int, float or str: arrays are passed as JSON text."""
    return [json.dumps(v) if isinstance(v, list) else v for v in values]


def _decode(param: Parameter, value: Any) -> Any:
    if isinstance(value, str) and any(isinstance(v, list) for v in param.values or []):
        return json.loads(value)
    return value


def suggest(trial: optuna.Trial, sweep: Sweep, base: dict) -> dict[str, Any]:
    """The trial's overrides: every active parameter suggested by the study's sampler. Under the grid every
    parameter is suggested (GridSampler's grid covers them all) and the inactive ones are dropped afterwards."""
    point: dict[str, Any] = {}
    inactive: set[str] = set()
    for key, param in sweep.parameters.items():
        if param.when and not active(param, point, base):
            if sweep.method != "grid":
                continue
            inactive.add(key)
        if param.kind == "choice":
            point[key] = _decode(param, trial.suggest_categorical(key, _encode(list(param.values or []))))
        elif param.kind == "int":
            point[key] = trial.suggest_int(key, int(param.low or 0), int(param.high or 0), step=int(param.step or 1))
        else:
            point[key] = trial.suggest_float(key, float(param.low or 0), float(param.high or 0),
                                             log=param.kind == "log_uniform", step=param.step)
    return {k: v for k, v in point.items() if k not in inactive}


def sampler_for(sweep: Sweep) -> optuna.samplers.BaseSampler:
    if sweep.method == "grid":
        return optuna.samplers.GridSampler({k: _encode(axis(p)) for k, p in sweep.parameters.items()},
                                           seed=sweep.seed)
    if sweep.method == "random":
        return optuna.samplers.RandomSampler(seed=sweep.seed)
    return optuna.samplers.TPESampler(seed=sweep.seed)


def pruner_for(sweep: Sweep) -> optuna.pruners.BasePruner:
    if sweep.asha is None:
        return optuna.pruners.NopPruner()
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=sweep.asha.min_resource,
                                                  reduction_factor=sweep.asha.reduction_factor)


def storage_for(out: Path, storage: str | None, workers: int) -> Any:
    if storage is None or storage == "journal":
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(str(out / "optuna.journal")))
    if storage == "sqlite":
        if workers > 1:
            raise SweepError("--storage sqlite is for one worker (SQLite misbehaves with concurrent writers); use "
                             "the default journal file, or a database URL for many workers")
        return f"sqlite:///{out / 'optuna.db'}"
    return storage


def build_study(spec: Spec, out: Path, storage: str | None = None, workers: int = 1,
                study_name: str | None = None) -> optuna.Study:
    sweep = spec.sweep
    assert sweep is not None and sweep.objective is not None
    out.mkdir(parents=True, exist_ok=True)
    return optuna.create_study(storage=storage_for(out, storage, workers), sampler=sampler_for(sweep),
                               pruner=pruner_for(sweep), study_name=study_name or f"llmspec-{spec.model.name}",
                               direction=sweep.objective.direction, load_if_exists=True)


def run(spec: Spec, train: Callable[[TrialRun], Any], out: Path, n_trials: int | None = None,
        storage: str | None = None, workers: int = 1, trust_suite_code: bool = False) -> dict[str, Any]:
    """Run the sweep; returns {"study", "best", "holdout", "ran", "refused"}."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sweeper = Sweeper(spec, out, "optuna", trust_suite_code=trust_suite_code)
    sweep = sweeper.sweep
    wanted = n_trials or trials(sweep)
    study = build_study(spec, sweeper.out, storage, workers)
    counts = {"ran": 0, "refused": 0}
    lock = threading.Lock()

    seen: set[str] = set()
    stopped: list[SweepError] = []

    def objective(trial: optuna.Trial) -> float:
        overrides = suggest(trial, sweep, sweeper.fast.values)
        if sweep.method == "grid":  # grid points that differ only in an inactive parameter are one point
            ident = json.dumps(overrides, sort_keys=True)
            with lock:
                duplicate = ident in seen
                seen.add(ident)
            if duplicate:
                raise optuna.TrialPruned("the same point as an earlier trial (its other values are inactive)")

        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"ASHA stopped the trial at step {step}")

        verdict, trial_run = sweeper.prepare(trial.number, overrides, report)
        trial.set_user_attr("estimate", verdict.to_dict()["estimate"])
        if trial_run is None:
            trial.set_constraint(CONSTRAINT, 1.0)
            trial.set_user_attr("codes", verdict.codes)
            with lock:
                counts["refused"] += 1
            raise optuna.TrialPruned(f"infeasible before running: {', '.join(verdict.codes)}")
        trial.set_constraint(CONSTRAINT, 0.0)
        with lock:
            counts["ran"] += 1
        try:
            value = _value(train(trial_run), sweeper.objective.metric)
        except optuna.TrialPruned:
            sweeper.finished(trial_run, "stopped-early", trial_run.reports[-1][1] if trial_run.reports else None)
            raise
        except SweepError as exc:  # a user-fixable problem (one line, exit 2): stop here, without Optuna's traceback
            sweeper.finished(trial_run, "failed", None, str(exc))
            stopped.append(exc)
            trial.study.stop()
            raise optuna.TrialPruned(f"stopped: {exc}") from None
        except Exception as exc:
            sweeper.finished(trial_run, "failed", None, f"{type(exc).__name__}: {exc}")
            raise
        sweeper.finished(trial_run, "complete", value)
        return value

    def enough(study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        if counts["ran"] >= wanted or counts["refused"] >= MAX_REFUSED_PER_TRIAL * wanted:
            study.stop()

    study.optimize(objective, n_trials=wanted * (MAX_REFUSED_PER_TRIAL + 1), n_jobs=workers, callbacks=[enough],
                   catch=(RuntimeError, ValueError, OSError))
    if stopped:
        raise stopped[0]
    rows = read_trials(sweeper.out)
    best = best_trials(rows, sweeper.objective.direction, 1)
    holdout = sweeper.confirm(best[0]) if best else None
    return {"study": study, "best": best[0] if best else None, "holdout": holdout, **counts}


def _value(result: Any, metric: str) -> float:
    if isinstance(result, dict):
        if metric not in result:
            raise SweepError(f"the training function returned {sorted(result)}, without the objective {metric!r}")
        result = result[metric]
    return float(result)
