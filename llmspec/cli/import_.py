"""`llmspec import`: write a spec from a training tool's config."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("import", short_help="Write a spec from a training config (and its sharding configs).")
@click.argument("configs", nargs=-1, required=True, metavar="CONFIG...")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Spec file to write (default: stdout).")
@click.option("--from", "tool", type=click.Choice(["trl", "axolotl", "llamafactory", "litgpt", "torchtune"]), help="The tool the config is for.")
@click.option("--hf-config", type=click.Path(dir_okay=False), help="The model's HF config.json (the architecture).")
def import_cmd(configs: tuple[str, ...], output: Path | None, tool: str | None, hf_config: str | None) -> int:
    """Read a training CONFIG (TRL, axolotl, LLaMA-Factory, LitGPT or torchtune) and write a spec with the stack that tool uses.

    The accelerate, DeepSpeed or FSDP configs it names (`deepspeed: ds.json`, `fsdp`, `fsdp_config`) are read
    too, and so are those given after it (an accelerate `--config_file` YAML, a DeepSpeed JSON): they set
    [hardware] sharding, offload, the GPU count and DeepSpeed's settings.

    Every key is mapped, or reported on one line as unmapped or unsupported (on stderr). Exit status: 0 when
    written, 2 on bad input (unknown tool or key, YAML syntax error; one `file:line:col` line).
    """
    from llmspec.bridges.importer import import_config
    from llmspec.bridges.writer import render
    from llmspec.bridges.yamlfile import BridgeError
    from llmspec.textsafe import visible

    try:
        result = import_config(configs[0], tool, hf_config, configs[1:])
    except BridgeError as exc:
        click.echo(visible(exc), err=True)
        return 2
    for note in result.notes:
        click.echo(visible(note), err=True)
    text = render(result.spec, configs[0])
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(visible(f"{output}: written ({result.tool})"), err=True)
    return 0
