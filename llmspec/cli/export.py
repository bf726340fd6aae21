"""`llmspec export`: write a training tool's config from a spec."""

from __future__ import annotations

from pathlib import Path

import click

from llmspec.cli._options import PathParam, set_option


@click.command("export", short_help="Write a TRL, axolotl, LLaMA-Factory, LitGPT or torchtune config from a spec.")
@click.argument("spec_path", metavar="SPEC")
@click.option("--to", "tool", type=click.Choice(["trl", "axolotl", "llamafactory", "litgpt", "torchtune"]), required=True, help="The tool to write a config for.")
@click.option("-o", "--output", type=PathParam(dir_okay=False, path_type=Path, output=True),
              help="File to write (default: stdout).")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT (and the file written beside it) if it exists.")
@set_option
def export_cmd(spec_path: str, tool: str, output: Path | None, force: bool, overrides: tuple[str, ...]) -> int:
    """Write SPEC as a `trl sft --config FILE`, axolotl, `llamafactory-cli train`, `litgpt finetune_lora --config
    FILE` or `tune run` YAML. Every
    key of the spec that the config does not carry (checked by importing the written config again) is named on
    stderr, one `file:line:col: not exported: KEY` line each. Exit status: 0 written, 2 on a bad spec or on values
    the tool cannot express (one `file:line:col` line each, all of them at once; nothing is written), or on an
    existing OUTPUT (or the file written beside it) without --force."""
    from llmspec.bridges.detect import NAMES
    from llmspec.bridges.exporter import companions, export_config
    from llmspec.bridges.refusal import collecting
    from llmspec.bridges.unexported import unexported
    from llmspec.bridges.yamlfile import BridgeError
    from llmspec.project import load_spec
    from llmspec.spec.problems import SpecError
    from llmspec.textsafe import visible

    try:
        spec = load_spec(spec_path, overrides)
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(visible(str(problem)), err=True)
        return 2
    with collecting() as refusals:  # every value the tool cannot express, at once (not one per run)
        try:
            text = export_config(tool, spec, spec_path)
            beside = companions(tool, spec, spec_path)
        except BridgeError as exc:  # one that stops the export (no [training], a model the tool does not know)
            refusals.append(exc)
    if refusals:  # in the order of the spec's lines
        for _, line in sorted((_located(exc, spec_path, spec) for exc in refusals), key=lambda pair: pair[0]):
            click.echo(visible(line), err=True)
        return 2
    notes = unexported(spec, tool, NAMES.get(tool, tool), text)
    if beside and output is None:
        names = ", ".join(f"*.{suffix}" for suffix in beside)
        click.echo(visible(f"{spec_path}:1:1: the {NAMES.get(tool, tool)} run needs a second file beside its "
                           f"config ({names}); give -o FILE to write both"), err=True)
        return 2
    files = {} if output is None else {output: text} | {output.with_name(f"{output.stem}.{suffix}"): body
                                                        for suffix, body in beside.items()}
    existing = [path for path in files if path.exists()]
    if existing and not force:  # as `llmspec init`: never overwrite a file silently
        click.echo(visible(f"{existing[0]}: already exists; pass --force to overwrite it"), err=True)
        return 2
    for note in notes:  # nothing left out silently: one line each on stderr (the YAML itself stays clean)
        click.echo(note, err=True)
    if output is None:
        click.echo(text, nl=False)
        return 0
    for path, body in files.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
        except OSError as exc:
            click.echo(visible(f"{path}: cannot write: {exc.strerror or exc}"), err=True)
            return 2
        what = tool if path == output else "its accelerate config; give it beside the config to import"
        click.echo(visible(f"{path}: written ({what})"), err=True)
    return 0


def _located(exc, spec_path: str, spec) -> tuple[tuple[str, int, int], str]:
    """An exporter's refusal names the spec key it cannot express (``exc.key``): point it at that key's
    file:line:col, where the key (or its table, or a --set) was written, in place of the spec's path; one that names
    no key points at the file's start. Returns the position (to sort by) and the line."""
    message, prefix = str(exc), f"{spec_path}: "
    if not message.startswith(prefix):
        return (spec_path, 0, 0), message
    if exc.key is None or spec.source is None:
        return (spec_path, 1, 1), f"{spec_path}:1:1: {message[len(prefix):]}"
    loc = spec.source.locate(tuple(exc.key.split(".")))
    return (str(loc.file), loc.line, loc.col), f"{loc.file}:{loc.line}:{loc.col}: {message[len(prefix):]}"
