"""`llmspec eval`: run the spec's eval suites against a checkpoint and gate on the results."""

from __future__ import annotations

import importlib.util
import sys

import click

from llmspec.cli._options import PathParam, set_option

EVAL_EXTRA = ("numpy", "scipy", "torch", "transformers", "lm_eval")
"""The eval extra's modules (pyproject.toml [project.optional-dependencies] eval) that eval imports."""


def _installed(name: str) -> bool:
    if name in sys.modules:  # also a module blocked with sys.modules[name] = None
        return sys.modules[name] is not None
    return importlib.util.find_spec(name) is not None


@click.command("eval", short_help="Run the spec's lm-eval suites and judge its gates.")
@click.argument("spec", metavar="SPEC")
@set_option
@click.option("--model", "model", metavar="PATH", help="Checkpoint to evaluate (default: [eval].model, "
              "else [model].weights). llmspec:tiny-base / llmspec:tiny-finetuned are the built-in demo models.")
@click.option("--suite", "suites", multiple=True, metavar="NAME", help="Suite name or file (repeatable; default: "
              "[eval].suites).")
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate only the first N documents of each task.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True,
              help="auto: cuda if present, else mps, else cpu.")
@click.option("--baseline", metavar="RESULTS.json", type=PathParam(dir_okay=False),
              help="results.json of an earlier run, for the max_drop gates.")
@click.option("--output", "output", metavar="DIR", default="llmspec-results", show_default=True, type=PathParam(output=True),
              help="Where results.json, junit.xml, summary.md and samples/ go.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SEC",
              help="Stop after SEC seconds; the tasks finished so far are reported (exit 3).")
@click.option("--dry-run", is_flag=True, help="Print the plan (engine, devices, exact call or command); run nothing.")
@click.option("--trust-remote-code", is_flag=True, help="Allow the checkpoint's own code, when the spec also sets "
              "[model].trust_remote_code.")
@click.option("--allow-pickle", is_flag=True, help="Allow pickle-format weights (.bin/.pt), which can run code.")
@click.option("--trust-suite-code", is_flag=True, help="Allow the Python a user suite carries (!function, metric "
              "scripts, unsandboxed templates), when the spec also sets [eval].trust_suite_code.")
@click.option("--strict", is_flag=True, help="Baseline gates pass only on proven non-inferiority within max_drop.")
@click.option("--skip-gate", "skip_gates", multiple=True, metavar="TASK/METRIC", help="Skip this gate (instead of "
              "failing) when it cannot be evaluated: no baseline, no result, not comparable, undecidable. Repeatable.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display; print only the verdict line.")
def eval_cmd(spec: str, overrides: tuple[str, ...], model, suites, limit, device, baseline, output, timeout,
             dry_run, trust_remote_code, allow_pickle, trust_suite_code, strict, skip_gates, quiet) -> int:
    """Evaluate a checkpoint with the spec's lm-eval suites and judge its [[eval.gates]].

    Writes results.json, junit.xml, summary.md and per-sample logs to --output.
    Exit status: 0 every gate passed, 1 a gate failed, 2 usage or config error,
    3 infrastructure error (model missing, out of memory, task error, timeout).
    """
    from llmspec.cli._options import load_or_exit
    from llmspec.eval.integrity import Terminated, sigterm_as_interrupt
    from llmspec.eval.modelref import EvalError
    from llmspec.eval.runner import EvalOptions, run

    loaded = load_or_exit(spec, overrides)
    if loaded.eval is None and not suites:
        click.echo(f"llmspec eval: {spec} has no [eval] section, so there is nothing to run; add one, e.g. "
                   '[eval] suites = ["smoke"] with [[eval.gates]] (see suites/ and docs/eval.md), or pass --suite NAME',
                   err=True)
        return 2
    missing = next((m for m in EVAL_EXTRA if not _installed(m)), None)
    if missing is not None:  # one line naming the extra, not an internal error from the first import
        click.echo(f"llmspec eval: needs the eval extra ({missing} is not installed): pip install "
                   "'llmspec-cli[eval]'", err=True)
        return 2

    def log(message: str) -> None:
        if not quiet or message.startswith("warning"):
            click.echo(message, err=True)

    opts = EvalOptions(model=model, suites=suites, limit=limit, device=device, baseline=baseline, output=output,
                       timeout=timeout, dry_run=dry_run, trust_remote_code=trust_remote_code,
                       allow_pickle=allow_pickle, trust_suite_code=trust_suite_code, strict=strict, log=log,
                       progress=not quiet, skip_gates=tuple(skip_gates))
    try:
        with sigterm_as_interrupt():  # SIGTERM ends the run as Ctrl-C does: partial results, every report
            outcome = run(loaded, opts)
    except EvalError as e:
        click.echo(f"llmspec eval: {e}", err=True)
        return e.exit_code
    except KeyboardInterrupt as e:
        click.echo(f"llmspec eval: {'terminated (SIGTERM)' if isinstance(e, Terminated) else 'interrupted'}", err=True)
        return 3
    if dry_run:
        click.echo(outcome.results["plan"])
        return 0
    if not quiet:
        _print_table(outcome.results)
        for _name, path in outcome.paths.items():
            click.echo(f"wrote {path}", err=True)
    click.echo(f"llmspec eval: {outcome.verdict}: {outcome.reason}")
    return outcome.exit_code


def _print_table(results: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from llmspec.eval.gate_result import HOLM_NOTE, POWER_HEADER, power_cell
    from llmspec.textsafe import visible

    def text(value) -> str:  # names and reasons are data: control characters visible, no rich markup
        return escape(visible(value))

    table = Table(title="metrics", show_lines=False)
    for col in ("task", "metric", "value", "95% CI", "n"):
        table.add_column(col, justify="right" if col in ("value", "n") else "left")
    for task, tr in results.get("tasks", {}).items():
        for name, m in tr.get("metrics", {}).items():
            ci = f"[{m['ci_low']:.4g}, {m['ci_high']:.4g}]" if m.get("ci_low") is not None else "n/a"
            table.add_row(text(task), text(name), f"{m['value']:.4g}", ci, str(m["n"]))
    baseline = any(g.get("kind") == "baseline" for g in results.get("gates", []))
    gates = Table(title="gates")
    for col in ("gate", "check", "status", *((POWER_HEADER,) if baseline else ()), "reason"):
        gates.add_column(col, justify="right" if col == POWER_HEADER else "left")
    style = {"pass": "green", "fail": "red", "error": "yellow", "skipped": "dim", "undecidable": "yellow"}
    for g in results.get("gates", []):
        gates.add_row(text(g["metric"]), text(g["kind"]), f"[{style.get(g['status'], '')}]{text(g['status'])}[/]",
                      *((power_cell(g),) if baseline else ()), text(g["reason"]))
    console = Console()
    console.print(table)
    if results.get("gates"):
        console.print(gates)
    if baseline:
        console.print(escape(HOLM_NOTE), soft_wrap=True)
