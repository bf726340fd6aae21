"""`llmspec lint`, `llmspec rule CODE` and `llmspec rules`: parse the command line, hand off to llmspec.lint."""

from __future__ import annotations

import os
import sys

import click

from llmspec.cli._options import PathParam, set_option

FORMAT_NAMES = ("full", "concise", "json", "github", "sarif", "junit")


def _codes(values: tuple[str, ...]) -> list[str]:
    return [c.strip().upper() for v in values for c in v.split(",") if c.strip()]


@click.command(short_help="Find what will go wrong in a run, before it starts.")
@click.argument("paths", nargs=-1, type=PathParam(), metavar="[PATH]...")
@click.option("-f", "--format", "output_format", type=click.Choice(FORMAT_NAMES), default="full", show_default=True,
              help="Output format. full shows the source line; github prints workflow annotations; sarif is for "
                   "GitHub code scanning; junit for CI test reports.")
@click.option("-o", "--output", "output_file", type=PathParam(dir_okay=False, writable=True, output=True),
              help="Write the report to this file instead of standard output.")
@click.option("--select", multiple=True, metavar="CODES",
              help="Only these codes or prefixes (comma-separated, e.g. MEM,OVF001); replaces the config's select.")
@click.option("--ignore", multiple=True, metavar="CODES", help="Skip these codes or prefixes (added to the config's).")
@set_option
@click.option("--strict", is_flag=True, help="Warnings fail the run too (exit 1).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--statistics", is_flag=True, help="Print a count per code instead of each finding.")
@click.option("--data", is_flag=True, help="Also run the opt-in checks that read dataset files (train/eval overlap).")
@click.option("--config", "config_path", type=PathParam(exists=True, dir_okay=False),
              help="Use this llmspec.toml / pyproject.toml instead of the nearest one.")
@click.option("--color/--no-color", default=None, help="Colour the full and concise formats (default: on a terminal).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per CPU for 64 specs or more).")
@click.option("--from", "tool", type=click.Choice(["trl", "axolotl", "llamafactory", "litgpt", "torchtune"]),
              help="The tool every YAML training config is for (default: told by its keys).")
@click.option("--sharding-config", "sharding", multiple=True, type=PathParam(exists=True, dir_okay=False),
              help="An accelerate, DeepSpeed or FSDP config the YAML training configs run with (as `llmspec import "
                   "CONFIG SHARDING...` reads it).")
@click.option("--skip-other-yaml", is_flag=True,
              help="Skip named YAML files that are no training config (pre-commit names every staged file).")
@click.option("--require-specs", is_flag=True,
              help="For CI: a named file that is no spec, or a run that finds no spec at all, is an error (exit 2) "
                   "instead of being skipped.")
def lint(paths, output_format, output_file, select, ignore, overrides, strict, exit_zero, statistics, data,
         config_path, color, jobs, tool, sharding, skip_other_yaml, require_specs) -> int:
    """Lint spec files: memory, overfitting, sampling, context, budget, hardware, security and eval rules.

    PATH is a spec file, a training config of another tool (axolotl, TRL, ... YAML; linted as it stands, at its
    own line:col), or a folder searched for both (default: the current folder). TOML files that are not specs
    (pyproject.toml, ...) and YAML files that are no training config are skipped there; a named TOML file that is
    no spec is skipped too (pre-commit names every staged .toml), and said so in one line on stderr
    (--require-specs makes it an error). Every finding points at file:line:col, says what was found, the limit
    and the fix; `llmspec rule CODE` explains a rule.

    Exit status: 0 no error-level findings, 1 error-level findings (or warnings with --strict),
    2 usage or configuration error: a missing path or a spec file that cannot be read (one `file:line:col` line,
    as `llmspec check` prints it), and with --require-specs a named file that is no spec or no spec found at all.
    """
    from pathlib import Path

    from llmspec.config import ConfigError
    from llmspec.lint.engine import ForeignConfigError, LintUsageError, MissingPaths, Options, lint_paths, unreadable
    from llmspec.lint.formats import renderer
    from llmspec.textsafe import visible

    options = Options(
        select=_codes(select) or None, ignore=_codes(ignore), overrides=overrides, data=data,
        config=Path(config_path) if config_path else None, jobs=jobs, tool=tool, skip_other_yaml=skip_other_yaml,
        sharding=sharding,
    )
    try:
        result = lint_paths(paths or (".",), options)
    except MissingPaths as exc:  # every one, each as `llmspec check` says it
        for line in exc.lines:
            click.echo(visible(line), err=True)
        click.get_current_context().exit(2)
    except (ConfigError, LintUsageError) as exc:
        click.echo(visible(exc) if isinstance(exc, ForeignConfigError) else f"llmspec lint: {exc}", err=True)
        click.get_current_context().exit(2)
    if color is None:
        color = output_file is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    if statistics and output_format in ("full", "concise"):
        from llmspec.lint.formats.text import statistics_text

        text = statistics_text(result, color=color)
    elif statistics and output_format == "json":
        import json

        from llmspec.lint.formats import statistics as stats

        text = json.dumps([{"code": c, "name": n, "severity": s, "count": k} for c, n, s, k in stats(result)],
                          indent=2) + "\n"
    else:
        text = renderer(output_format)(result, color=color)
    if output_file:
        try:
            with open(output_file, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            click.echo(f"llmspec lint: {output_file}: cannot write the report ({exc.strerror or exc})", err=True)
            click.get_current_context().exit(2)
    else:
        click.echo(text, nl=False)
    for error in result.errors:  # after every other file's findings: one bad config never hides them
        click.echo(visible(error), err=True)
    if require_specs:  # CI: nothing named may be skipped, and a run must lint something
        for path in result.skipped:
            click.echo(visible(f"{path}:1:1: not an llmspec spec (no [model] table or extends key, and not only "
                               "spec sections); name only specs, or drop --require-specs"), err=True)
        if not result.files and not result.skipped:
            where = ", ".join(paths) if paths else "."
            click.echo(visible(f"{where}: no spec files found; check the path, or drop --require-specs"), err=True)
    if result.errors or (require_specs and (result.skipped or not result.files)):
        click.get_current_context().exit(2)
    if not result.files and paths and result.skipped:  # every named file is some other tool's TOML or YAML
        click.echo(visible(f"llmspec lint: no spec files found: skipped {', '.join(result.skipped)}, which "
                           f"{'is no spec' if len(result.skipped) == 1 else 'are no specs'} (no [model] table or "
                           "extends key; --require-specs makes this an error)"), err=True)
    elif not result.files and paths:
        click.echo(visible("llmspec lint: no spec files found in " + ", ".join(paths)), err=True)
    elif result.skipped:  # named, so never silently: one line for all of them (pre-commit names pyproject.toml)
        click.echo(visible(f"llmspec lint: skipped {len(result.skipped)} named file(s) that are no spec: "
                           f"{', '.join(result.skipped)} (--require-specs makes this an error)"), err=True)
    if not exit_zero and any(unreadable(f) and f.file in paths for f in result.findings):
        # a spec named on the command line that cannot be read: exit 2, as `llmspec check` (one found in a folder
        # stays an SPC003 finding at error level, exit 1, beside the other files' findings; --exit-zero, which
        # reports everything and exits 0, keeps its word)
        click.get_current_context().exit(2)
    failing = result.count("error") + (result.count("warning") if strict else 0)
    # exit through click so that the code survives both `llmspec` (main) and click's test runner
    click.get_current_context().exit(0 if exit_zero or not failing else 1)


@click.command(short_help="Explain a lint rule, with its evidence and examples.")
@click.argument("code")
def rule(code: str) -> int:
    """Explain a rule: what it checks, why (with sources), a bad and a good example, its thresholds."""
    from llmspec.lint.docs import rule_text
    from llmspec.lint.registry import ENGINE_CODES, all_rules
    from llmspec.spec.problems import did_you_mean

    rules = all_rules()
    code = code.upper()
    if code in ENGINE_CODES:
        name, severity, text = ENGINE_CODES[code]
        click.echo(f"{code} ({name}) [{severity}]\n\n{text}")
        return 0
    cls = rules.get(code) or next((r for r in rules.values() if r.name == code.lower()), None)
    if cls is None:
        raise click.ClickException(f"unknown rule {code!r}{did_you_mean(code, list(rules) + list(ENGINE_CODES))}; "
                                   "`llmspec rules` lists them")
    click.echo(rule_text(cls), nl=False)
    return 0


@click.command(short_help="List every lint rule (plugins included).")
@click.option("--format", "output_format", type=click.Choice(("table", "markdown", "json")), default="table",
              show_default=True, help="markdown writes the docs/rules.md reference.")
def rules(output_format: str) -> int:
    """List every rule: code, name, default severity and summary (plugins included)."""
    from llmspec.lint.registry import all_rules

    found = all_rules()
    if output_format == "markdown":
        from llmspec.lint.docs import reference_markdown
        from llmspec.lint.registry import builtin_rules

        click.echo(reference_markdown(builtin_rules()), nl=False)
        return 0
    if output_format == "json":
        import json

        click.echo(json.dumps([{"code": c, "name": r.name, "severity": r.severity, "summary": r.summary(),
                                "thresholds": dict(r.thresholds)} for c, r in found.items()], indent=2))
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{len(found)} rules", title_justify="left")
    for column in ("code", "name", "severity", "summary"):
        table.add_column(column, no_wrap=column != "summary")
    for code, cls in found.items():
        table.add_row(code, cls.name, cls.severity, escape(cls.summary()))
    console = Console()
    if not console.is_terminal:  # piped: do not squeeze the summaries into 80 columns
        console = Console(width=160)
    console.print(table)
    return 0
