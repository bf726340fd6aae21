"""`llmspec export`: write a training tool's config from a spec."""

from __future__ import annotations

from pathlib import Path

import click

from llmspec.cli._options import set_option


@click.command("export", short_help="Write a TRL, axolotl or LLaMA-Factory training config from a spec.")
@click.argument("spec_path", metavar="SPEC")
@click.option("--to", "tool", type=click.Choice(["trl", "axolotl", "llamafactory"]), required=True, help="The tool to write a config for.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
@set_option
def export_cmd(spec_path: str, tool: str, output: Path | None, overrides: tuple[str, ...]) -> int:
    """Write SPEC as a `trl sft --config FILE`, axolotl or `llamafactory-cli train` YAML. Exit status: 0 written, 2 on a bad spec or a value the tool
    cannot express (one `file:line:col` line)."""
    from llmspec.bridges.exporter import exporter
    from llmspec.bridges.yamlfile import BridgeError
    from llmspec.project import load_spec
    from llmspec.spec.problems import SpecError

    try:
        spec = load_spec(spec_path, overrides)
        text = exporter(tool)(spec, spec_path)
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        return 2
    except BridgeError as exc:
        click.echo(str(exc), err=True)
        return 2
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"{output}: written ({tool})", err=True)
    return 0
