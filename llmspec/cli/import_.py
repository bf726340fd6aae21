"""`llmspec import`: write a spec from a training tool's config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from llmspec.cli._options import PathParam


@click.command("import", short_help="Write a spec from a training config (and its sharding configs).")
@click.argument("configs", nargs=-1, required=True, metavar="CONFIG...")
@click.option("-o", "--output", type=PathParam(dir_okay=False, path_type=Path, output=True),
              help="Spec file to write (default: stdout).")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("--from", "tool", type=click.Choice(["trl", "axolotl", "llamafactory", "litgpt", "torchtune"]), help="The tool the config is for.")
@click.option("--hf-config", type=click.Path(dir_okay=False), help="The model's HF config.json (the architecture).")
def import_cmd(configs: tuple[str, ...], output: Path | None, force: bool, tool: str | None, hf_config: str | None) -> int:
    """Read a training CONFIG (TRL, axolotl, LLaMA-Factory, LitGPT or torchtune) and write a spec with the stack that tool uses.

    The accelerate, DeepSpeed or FSDP configs it names (`deepspeed: ds.json`, `fsdp`, `fsdp_config`) are read
    too, and so are those given after it (an accelerate `--config_file` YAML, a DeepSpeed JSON): they set
    [hardware] sharding, offload, the GPU count and DeepSpeed's settings.

    Every key is mapped, or reported on one line as unmapped or unsupported (on stderr). The written spec is
    checked as `llmspec check` would check it: when it does not validate (most often: no architecture, because the
    model is neither a local checkpoint nor a preset and no --hf-config was given), it is still written, so that
    the mapping is not lost, and each problem is one `file:line:col` line with its fix. Exit status: 0 when written
    and valid, 2 when the written spec does not validate yet, on bad input (unknown tool or key, YAML syntax
    error; one `file:line:col` line), or on an existing OUTPUT without --force.
    """
    from llmspec.bridges.importer import import_config
    from llmspec.bridges.writer import render
    from llmspec.bridges.yamlfile import BridgeError
    from llmspec.textsafe import visible

    if output is not None and output.exists() and not force:
        click.echo(visible(f"{output}: already exists; pass --force to overwrite it"), err=True)
        return 2
    try:
        result = import_config(configs[0], tool, hf_config, configs[1:])
    except BridgeError as exc:
        click.echo(visible(exc), err=True)
        return 2
    for note in result.notes:
        click.echo(visible(note), err=True)
    folder = output.parent if output is not None else Path(".")
    _relocate(result.spec, folder)
    text = render(result.spec, configs[0])
    shown = str(output) if output is not None else "<stdout>"
    problems = _problems(text, folder, shown)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            tmp = output.with_name(output.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(output)
        except OSError as exc:
            click.echo(visible(f"{output}: cannot write: {exc.strerror or exc}"), err=True)
            return 2
        if not problems:
            click.echo(visible(f"{output}: written ({result.tool})"), err=True)
    for line in problems:
        click.echo(visible(line), err=True)
    return 2 if problems else 0


def _relocate(spec: dict[str, Any], folder: Path) -> None:
    """model.hf_config as the spec reads it: relative to the spec's folder (it was given relative to the working
    folder), so that `llmspec check` of the written spec finds the config.json that the import read."""
    model = spec.get("model")
    if not isinstance(model, dict):
        return
    ref = model.get("hf_config")
    if not isinstance(ref, str) or os.path.isabs(ref):
        return
    try:
        model["hf_config"] = Path(os.path.relpath(os.path.abspath(ref), os.path.abspath(folder))).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        model["hf_config"] = Path(os.path.abspath(ref)).as_posix()


def _problems(text: str, folder: Path, shown: str) -> list[str]:
    """What `llmspec check` would say of ``text`` written in ``folder`` (as ``shown``), one line each; a missing
    architecture also says how the import supplies it."""
    import tempfile

    from llmspec.project import load_spec, project_accelerators
    from llmspec.spec.problems import SpecError

    accelerators = project_accelerators(folder / "spec.toml")
    fd, tmp = tempfile.mkstemp(prefix="llmspec-import-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            # the relative hf_config as the spec in ``folder`` would read it
            handle.write(_absolute_hf_config(text, folder))
        load_spec(tmp, accelerators=accelerators)
    except SpecError as exc:
        lines = []
        for problem in exc.problems:
            message = problem.message
            if problem.key == "model" and "architecture" in message:
                message += ("; rerun `llmspec import` with --hf-config CONFIG.json (the model's Hugging Face config), "
                            "or write [model.architecture] into the spec")
            where = shown if problem.file == tmp else problem.file
            lines.append(f"{where}:{problem.line}:{problem.col}: {message}")
        return lines
    finally:
        os.unlink(tmp)
    return []


def _absolute_hf_config(text: str, folder: Path) -> str:
    import tomllib

    from llmspec.spec.scaffold import toml_value

    ref = tomllib.loads(text).get("model", {}).get("hf_config")
    if not isinstance(ref, str) or os.path.isabs(ref):
        return text
    line = f"hf_config = {toml_value(ref)}"
    return text.replace(line, f"hf_config = {toml_value(os.path.abspath(folder / ref))}", 1)
