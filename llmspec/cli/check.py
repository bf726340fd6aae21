"""`llmspec check`: validate specs."""

from __future__ import annotations

import click

from llmspec.cli._options import set_option


@click.command(short_help="Validate spec files; exit 2 on any problem.")
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@set_option
@click.option("-q", "--quiet", is_flag=True, help="Print only problems.")
def check(specs: tuple[str, ...], overrides: tuple[str, ...], quiet: bool) -> int:
    """Validate spec files: TOML syntax, keys, types, ranges, extends and hf_config.

    Prints every problem as one `file:line:col: message` line. Exit status: 0 when every spec is
    valid, 2 when any is not. For advice on valid specs (memory, overfitting, sampling...) use
    `llmspec lint`.
    """
    from llmspec.project import load_spec
    from llmspec.spec.problems import SpecError
    from llmspec.textsafe import visible

    failed = 0
    for path in specs:
        try:
            spec = load_spec(path, overrides)
        except SpecError as exc:
            failed += 1
            for problem in exc.problems:
                click.echo(visible(str(problem)))
            continue
        from llmspec.eval.gatecheck import check_lines  # gates name tasks the suites run, metrics they report

        gate_problems = check_lines(spec)
        if gate_problems:
            failed += 1
            for line in gate_problems:
                click.echo(line)
            continue
        if not quiet:
            click.echo(f"{visible(path)}: ok")
    return 2 if failed else 0
