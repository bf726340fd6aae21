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
