"""`llmspec report` and `llmspec diff`: design-review documents. Parsing only; the work is in llmspec.report."""

from __future__ import annotations

from pathlib import Path

import click

from llmspec.cli._options import PathParam, set_option
from llmspec.textsafe import visible


def spec_error_exit(exc, rename=None) -> None:
    """Print each spec problem as one `file:line:col: message` line on stderr and exit 2."""
    for problem in exc.problems:
        line = str(problem)
        click.echo(visible(rename(line) if rename else line), err=True)
    raise SystemExit(2)


def _format(fmt: str | None, output: str | None) -> str:
    if fmt:
        return fmt
    suffix = Path(output).suffix.lower() if output else ""
    if suffix in (".html", ".htm"):
        return "html"
    if output and suffix not in (".md", ".markdown"):
        raise click.BadParameter(f"cannot tell the format from {output!r}; name a .md or .html file, or pass --format",
                                 param_hint="-o")
    return "md"


def _write(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    from llmspec.report.files import write_atomic

    try:
        write_atomic(Path(output), text)
    except OSError as exc:
        raise click.ClickException(visible(f"{output}: cannot write ({exc.strerror or exc})")) from None


@click.command(short_help="Write a design review of a spec (Markdown, HTML).")
@click.argument("spec", metavar="SPEC")
@set_option
@click.option("--results", "results", metavar="RESULTS.json", help="Eval results (from `llmspec eval`) to include.")
@click.option("-o", "--output", metavar="FILE", type=PathParam(dir_okay=False, output=True), help="Write here (.md or .html) instead of Markdown on stdout.")
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), help="Output format; default from -o's suffix, else md.")
def report(spec: str, overrides: tuple[str, ...], results: str | None, output: str | None, fmt: str | None) -> int:
    """Write a design review of SPEC: summary and verdict, architecture, parameters, memory per GPU (table and
    chart), compute and cost against the budget, lint findings, what would fit, and eval gates (--results).

    Markdown goes to stdout unless -o is given; with `-o review.md` the memory chart is written beside it as
    `review.memory.svg`. HTML is one self-contained file. Charts need `pip install 'llmspec-cli[report]'`.
    Exit status: 0 written, 2 invalid spec or unreadable input.

    \b
    Examples:
      llmspec report specs/bot.toml -o review.html
      llmspec report specs/bot.toml --results results.json -o review.md
      llmspec report specs/bot.toml --set hardware.accelerator=H100-SXM
    """
    from llmspec.report import render
    from llmspec.report.files import chart_writer
    from llmspec.report.model import ReportInputError, gather
    from llmspec.report.sections import report_document
    from llmspec.spec.loader import SpecError

    kind = _format(fmt, output)
    try:
        data = gather(spec, overrides, results)
    except SpecError as exc:
        spec_error_exit(exc)
    except ReportInputError as exc:
        raise click.ClickException(visible(str(exc))) from None
    document = report_document(data)
    assets = chart_writer(Path(output)) if (output and kind == "md") else None
    _write(render(document, kind, assets), output)
    return 0


@click.command(short_help="What a spec change does to memory, cost and risk.")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@set_option
@click.option("--old-results", metavar="RESULTS.json", help="Eval results of the old side (for gate changes).")
@click.option("--new-results", metavar="RESULTS.json", help="Eval results of the new side.")
@click.option("-o", "--output", metavar="FILE", type=PathParam(dir_okay=False, output=True), help="Write here instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
def diff(old: str, new: str, overrides: tuple[str, ...], old_results: str | None, new_results: str | None,
         output: str | None, fmt: str) -> int:
    """Show what changing a spec from OLD to NEW does: changed keys, and the deltas in parameters, memory per
    GPU, GPU-hours and cost, lint findings introduced and fixed, and gate results when both sides have results.

    OLD and NEW are spec files or git revisions `REV:path`, e.g. `llmspec diff HEAD~1:specs/bot.toml
    specs/bot.toml` (the path is relative to the repository root, as in `git show`; files the spec extends
    are read from the same revision). --set applies to both sides, e.g. to compare them on other hardware.
    Markdown is sized for a pull-request comment; --format json is for tools.
    Exit status: 0 written, 2 invalid spec, unknown revision or unreadable input.
    """
    from llmspec.report.diff import compare
    from llmspec.report.diff_render import diff_json, diff_markdown
    from llmspec.report.model import ReportInputError
    from llmspec.report.revision import RevisionError, materialise
    from llmspec.spec.loader import SpecError

    if (old_results is None) != (new_results is None):
        raise click.UsageError("--old-results and --new-results go together: gates are compared side by side")
    sides = []
    try:
        with materialise(old) as a, materialise(new) as b:
            sides = [a, b]
            result = compare(a.path, b.path, overrides=overrides, old_name=a.display, new_name=b.display,
                             old_results=old_results, new_results=new_results)
    except RevisionError as exc:
        raise click.ClickException(visible(str(exc))) from None
    except SpecError as exc:
        spec_error_exit(exc, lambda text: sides[1].rename(sides[0].rename(text)) if sides else text)
    except ReportInputError as exc:
        raise click.ClickException(visible(str(exc))) from None
    _write(diff_json(result) if fmt == "json" else diff_markdown(result), output)
    return 0
