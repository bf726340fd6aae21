"""Run a spec's sweep on Ray Tune: a ``Tuner`` with the space, a search algorithm and Ray's ASHA scheduler.

- search: :class:`FeasibleSearcher`, a Ray ``Searcher`` that wraps the points source and refuses infeasible
  points inside ``suggest`` (each is judged by the fast path and recorded), so they never become trials and never
  use up ``num_samples``. The points source is the same seeded grid / prior samples that `sweep plan` lists
  (method grid or random), or Ray's ``OptunaSearch`` with Optuna's TPE sampler (method tpe; needs optuna too);
- ASHA: ``ASHAScheduler(time_attr="step", grace_period=min_resource, max_t=max_resource, reduction_factor)``;
- reporting: ``tune.report({"objective": ..., "step": ...})`` from ``run.report``; the final `llmspec eval`
  score is reported as ``eval_objective`` with the last ``objective`` again;
- each trial runs with ``OMP_NUM_THREADS=1`` (Ray's runtime environment) and 1 CPU.

Local Ray by default (``ray.init(num_cpus=...)``); ``address="auto"`` or ``"ray://head:10001"`` joins a cluster
(the output directory must then be on storage every node can write, e.g. NFS, for trials.jsonl and checkpoints).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search import Searcher

from llmspec.spec.models import Spec
from llmspec.sweep.engine import Sweeper, best_trials
from llmspec.sweep.space import points, trials
from llmspec.sweep.trial import SweepError, TrialRun, read_trials

MAX_REFUSED_PER_TRIAL = 50


class FeasibleSearcher(Searcher):
    """Suggests only feasible points; infeasible ones are judged, recorded and skipped here, in the driver."""

    def __init__(self, sweeper: Sweeper, source: list[dict[str, Any]] | None, inner: Searcher | None,
                 metric: str, mode: str):
        super().__init__(metric=metric, mode=mode)
        self.sweeper, self.source, self.inner = sweeper, source, inner  # a list: Ray pickles the searcher
        self.number = 0
        self.refused = 0
        self.limit = MAX_REFUSED_PER_TRIAL * trials(sweeper.sweep)

    def suggest(self, trial_id: str) -> dict | None:
        while self.refused < self.limit:
            if self.inner is not None:
                config = self.inner.suggest(f"{trial_id}-{self.number}")
                if config is None or config == Searcher.FINISHED:
                    return config
                params = self.sweeper.sweep.parameters
                overrides = {k: json.loads(v) if isinstance(v, str) and any(isinstance(c, list) for c in
                                                                            params[k].values or []) else v
                             for k, v in config.items()}
            else:
                assert self.source is not None
                if self.number >= len(self.source):
                    return Searcher.FINISHED  # type: ignore[return-value]
                overrides = self.source[self.number]
            number, self.number = self.number, self.number + 1
            verdict = self.sweeper.judge(number, overrides)
            if verdict.feasible:
                if self.inner is not None:
                    self._inner_ids = getattr(self, "_inner_ids", {})
                    self._inner_ids[trial_id] = f"{trial_id}-{number}"
                return {"number": number, "overrides": overrides}
            self.refused += 1
            if self.inner is not None:
                self.inner.on_trial_complete(f"{trial_id}-{number}", None, error=True)
        return Searcher.FINISHED  # type: ignore[return-value]

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if self.inner is not None:
            inner_id = getattr(self, "_inner_ids", {}).get(trial_id)
            if inner_id is not None:
                self.inner.on_trial_complete(inner_id, result, error=error)


def _inner_tpe(sweeper: Sweeper, metric: str, mode: str) -> Searcher:
    try:
        import optuna
        from ray.tune.search.optuna import OptunaSearch
    except ImportError:
        raise SweepError("method = \"tpe\" on Ray uses Ray's OptunaSearch: pip install 'llmspec-cli[sweep-optuna]' "
                         "as well") from None
    space: dict[str, optuna.distributions.BaseDistribution] = {}
    for key, p in sweeper.sweep.parameters.items():
        if p.kind == "choice":
            space[key] = optuna.distributions.CategoricalDistribution(
                [json.dumps(v) if isinstance(v, list) else v for v in p.values or []])
        elif p.kind == "int":
            space[key] = optuna.distributions.IntDistribution(int(p.low or 0), int(p.high or 0), step=int(p.step or 1))
        else:
            space[key] = optuna.distributions.FloatDistribution(float(p.low or 0), float(p.high or 0),
                                                                log=p.kind == "log_uniform", step=p.step)
    return OptunaSearch(space=space, metric=metric, mode=mode,
                        sampler=optuna.samplers.TPESampler(seed=sweeper.sweep.seed))


def make_trainable(spec_path: str, overrides: tuple[str, ...], out: Path, train: Callable[[TrialRun], Any],
                   trust_suite_code: bool = False):
    """The function each Ray trial runs: rebuild the sweeper from the spec file, then train the trial's point."""

    def trainable(config: dict) -> None:
        os.environ["OMP_NUM_THREADS"] = "1"
        from llmspec.spec.loader import load_spec

        sweeper = Sweeper(load_spec(spec_path, overrides), out, "ray", trust_suite_code=trust_suite_code)
        last: dict[str, float] = {}

        def report(step: int, value: float) -> None:
            last.update(objective=value, step=step)
            tune.report({"objective": value, "step": step})

        verdict, run = sweeper.prepare(config["number"], config["overrides"], report)
        if run is None:  # the driver judged it feasible; the same spec and code cannot disagree
            raise SweepError(f"trial {config['number']} is infeasible in the worker: {verdict.codes}")
        try:
            result = train(run)
            value = float(result[sweeper.objective.metric] if isinstance(result, dict) else result)
        except Exception as exc:
            sweeper.finished(run, "failed", None, f"{type(exc).__name__}: {exc}")
            raise
        sweeper.finished(run, "complete", value)
        tune.report({"objective": last.get("objective", value), "step": last.get("step", 0),
                     "eval_objective": value, "final": 1})

    return trainable


def run(spec: Spec, train: Callable[[TrialRun], Any], out: Path, n_trials: int | None = None, workers: int = 1,
        address: str | None = None, overrides: tuple[str, ...] = (), trust_suite_code: bool = False) -> dict[str, Any]:
    sweeper = Sweeper(spec, out, "ray", trust_suite_code=trust_suite_code)
    sweep, objective = sweeper.sweep, sweeper.objective
    mode = "max" if objective.direction == "maximize" else "min"
    wanted = n_trials or trials(sweep)
    if sweep.method == "tpe":
        searcher = FeasibleSearcher(sweeper, None, _inner_tpe(sweeper, "objective", mode), "objective", mode)
    else:
        searcher = FeasibleSearcher(sweeper, list(points(sweep, sweeper.fast.values, n=wanted * (MAX_REFUSED_PER_TRIAL + 1))),
                                    None, "objective", mode)
    # max_t one past max_resource: Ray's ASHA stops a trial that reports step >= max_t, which would cut off the
    # final `llmspec eval` of a trial that trained to the end; rungs stay at min_resource * reduction_factor**k
    scheduler = (ASHAScheduler(time_attr="step", grace_period=sweep.asha.min_resource,
                               max_t=sweep.asha.max_resource + 1, reduction_factor=sweep.asha.reduction_factor)
                 if sweep.asha else FIFOScheduler())
    started = not ray.is_initialized()
    if started:
        env = {"env_vars": {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}}
        if address:
            ray.init(address=address, runtime_env=env, log_to_driver=False)
        else:
            ray.init(num_cpus=max(2, workers), runtime_env=env, include_dashboard=False, log_to_driver=False)
    try:
        path = spec.source.path if spec.source is not None else None
        if path is None:
            raise SweepError("a Ray sweep needs a spec loaded from a file")
        trainable = tune.with_resources(make_trainable(str(Path(path).resolve()), overrides, sweeper.out, train, trust_suite_code),
                                        {"cpu": 1})
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(metric="objective", mode=mode, search_alg=searcher, scheduler=scheduler,
                                        num_samples=wanted, max_concurrent_trials=workers),
            run_config=tune.RunConfig(name="llmspec", storage_path=str(sweeper.out / "ray"), verbose=0),
        )
        grid = tuner.fit()
        for result in [grid[i] for i in range(len(grid))]:  # trials that ASHA stopped never reached their final report
            metrics, config = result.metrics or {}, result.config or {}
            if not metrics.get("final") and metrics.get("step") is not None:
                sweeper.recorder.record(number=config.get("number"), state="stopped-early",
                                        overrides=config.get("overrides"), value=metrics.get("objective"),
                                        step=metrics.get("step"))
    finally:
        if started:
            ray.shutdown()
    rows = read_trials(sweeper.out)
    best = best_trials(rows, objective.direction, 1)
    holdout = sweeper.confirm(best[0]) if best else None
    return {"best": best[0] if best else None, "holdout": holdout, "ran": len(grid), "refused": searcher.refused,
            "grid": grid}
