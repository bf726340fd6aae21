"""`llmspec sweep`: plan a spec's [sweep] before any GPU time, run it on Optuna or Ray Tune, report the trials."""

from __future__ import annotations

import json

import click

from llmspec.cli._options import load_or_exit, set_option

EXTRAS = {"optuna": ("optuna", "sweep-optuna"), "ray": ("ray.tune", "sweep-ray")}
"""engine -> (module it needs, the llmspec extra that installs it)."""


@click.group("sweep", short_help="Plan, run and report hyperparameter sweeps ([sweep] in a spec).")
def sweep() -> None:
    """Hyperparameter sweeps: a spec's [sweep] table names distributions over its keys.

    `plan` checks every point before any GPU time (no engine needed); `run` hands the space to Optuna or
    Ray Tune; `report` shows the best recorded trials.
    """


def _load_sweep(spec_path: str, overrides: tuple[str, ...]):
    spec = load_or_exit(spec_path, overrides)
    if spec.sweep is None:
        loc = spec.source.locate(())
        click.echo(f"{loc}: {spec_path} has no [sweep] table; add one (see docs/sweeps.md)", err=True)
        raise SystemExit(2)
    return spec


@sweep.command("plan", short_help="Expand or sample the space; validate, lint and estimate every point.")
@click.argument("spec_path", metavar="SPEC")
@set_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--points", "n", type=click.IntRange(1, 10_000_000), default=None,
              help="Points to sample for random / tpe (default: budget.max_trials, else 20).")
@click.option("--no-lint", is_flag=True, help="Skip the full lint of each point (the fast path still judges "
              "memory and budget).")
def plan_cmd(spec_path: str, overrides: tuple[str, ...], fmt: str, n: int | None, no_lint: bool) -> int:
    """Plan the sweep of SPEC: expand the grid or sample the space with the seed, validate and estimate every
    point, prune the points that do not fit (MEM001, MEM003) or break the run's or the sweep's budget, and
    lint the rest.

    Exit status: 0 when some point is feasible, 1 when none is, 2 for an invalid spec.
    """
    from llmspec.sweep.plan import make_plan

    spec = _load_sweep(spec_path, overrides)
    plan = make_plan(spec, n=n, lint=not no_lint)
    if fmt == "json":
        click.echo(json.dumps(plan.to_dict(), indent=2, default=str))
    else:
        from llmspec.sweep.render import plan_text

        click.echo(plan_text(plan))
    return 0 if plan.feasible else 1


def require_engine(engine: str) -> None:
    """Exit 2 with the extra to install when the engine's package is missing."""
    import importlib

    module, extra = EXTRAS[engine]
    try:
        importlib.import_module(module)
    except ImportError:
        click.echo(f"llmspec sweep run --engine {engine} needs {module.split('.')[0]}, which is not installed: "
                   f"pip install 'llmspec-cli[{extra}]'  (`llmspec sweep plan` works without it)", err=True)
        raise SystemExit(2) from None


@sweep.command("run", short_help="Run the sweep on Optuna or Ray Tune (infeasible points never run).")
@click.argument("spec_path", metavar="SPEC")
@set_option
@click.option("--engine", type=click.Choice(["optuna", "ray"]), default="optuna", show_default=True)
@click.option("--train", "target", required=True, metavar="MODULE:FUNCTION",
              help="Your training function; it receives a TrialRun (a concrete, validated spec per trial) and "
                   "returns the objective, e.g. via run.evaluate() (`llmspec eval` on its checkpoint). "
                   "llmspec.sweep.demo:train_tiny trains the built-in tiny model on the CPU.")
@click.option("--trials", "n", type=click.IntRange(1, 1_000_000), default=None,
              help="Trials to run (default: budget.max_trials, else 20); refused points do not count.")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Where trials.jsonl, trial-NNNN/ and the engine's storage go (default: sweeps/<spec name>).")
@click.option("--storage", default=None, metavar="journal|sqlite|URL",
              help="Optuna storage: a local journal file (default), sqlite (one worker), or a database URL.")
@click.option("--workers", type=click.IntRange(1, 4096), default=1, show_default=True,
              help="Trials at once (Optuna threads, or Ray's concurrent trials; a local Ray gets max(2, workers) CPUs).")
@click.option("--ray-address", default=None, metavar="ADDRESS",
              help="Ray: an existing cluster (e.g. ray://head:10001 or auto); default starts a local Ray.")
@click.option("--trust-suite-code", is_flag=True,
              help="Let the trials' eval run code in user suites (!function, utils modules), when the spec also sets "
                   "[eval].trust_suite_code (docs/security.md).")
def run_cmd(spec_path: str, overrides: tuple[str, ...], engine: str, target: str, n: int | None, out: str | None,
            storage: str | None, workers: int, ray_address: str | None, trust_suite_code: bool) -> int:
    """Run the [sweep] of SPEC on Optuna or Ray Tune. Each suggested point is judged first (validated,
    estimated, memory and budget rules); infeasible points are refused before they run. Every trial's spec,
    estimate and result go to OUT/trials.jsonl; `llmspec sweep report OUT` shows the best.

    Exit status: 0 done, 1 no trial completed, 2 usage error (missing extra, bad spec, bad --train).
    """
    from pathlib import Path

    from llmspec.sweep.trial import SweepError, load_train

    require_engine(engine)
    spec = _load_sweep(spec_path, overrides)
    import re

    # the model name is free text: keep it to one safe path component
    out_dir = Path(out) if out else Path("sweeps") / (re.sub(r"[^A-Za-z0-9._-]+", "-", spec.model.name).strip(".-")
                                                      or "sweep")
    try:
        train = load_train(target)
        if engine == "optuna":
            from llmspec.sweep.optuna import run as run_engine

            result = run_engine(spec, train, out_dir, n_trials=n, storage=storage, workers=workers,
                                trust_suite_code=trust_suite_code)
        else:
            from llmspec.sweep.ray import run as run_ray

            result = run_ray(spec, train, out_dir, n_trials=n, workers=workers, address=ray_address,
                                 overrides=overrides, trust_suite_code=trust_suite_code)
    except SweepError as exc:
        click.echo(f"llmspec sweep run: {exc}", err=True)
        return 2
    click.echo(f"{engine}: {result['ran']} trials ran, {result['refused']} infeasible points refused before "
               f"running; records in {out_dir / 'trials.jsonl'}")
    from llmspec.sweep.summary import report_text

    click.echo(report_text(out_dir))
    return 0 if result["best"] is not None else 1


@sweep.command("report", short_help="The best recorded trials of a sweep run, and the held-out gap.")
@click.argument("out", metavar="OUT", type=click.Path(file_okay=False))
@click.option("-k", "k", type=click.IntRange(1, 1000), default=5, show_default=True, help="Trials to show.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def report_cmd(out: str, k: int, fmt: str) -> int:
    """Show the best trials recorded in OUT/trials.jsonl (by `llmspec sweep run --out OUT`), the counts per
    state, and the winner's score on the held-out suite next to its validation score."""
    from llmspec.sweep.summary import report_data, report_text
    from llmspec.sweep.trial import SweepError

    try:
        if fmt == "json":
            click.echo(json.dumps(report_data(out, k), indent=2, default=str))
        else:
            click.echo(report_text(out, k))
    except SweepError as exc:
        click.echo(f"llmspec sweep report: {exc}", err=True)
        return 2
    return 0
