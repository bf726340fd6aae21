"""`llmspec init`: write a starter spec from a Hugging Face config.json or a named preset."""

from __future__ import annotations

from pathlib import Path

import click

from llmspec.cli._options import PathParam
from llmspec.spec.families import FAMILIES, PRESETS


def _fail(message: str) -> None:
    """A user-fixable problem: one line on stderr, exit status 2."""
    click.echo(message, err=True)
    raise SystemExit(2)


def _default_name(config: dict, path: Path) -> str:
    name_or_path = config.get("_name_or_path")
    if isinstance(name_or_path, str) and name_or_path.strip("/"):
        return name_or_path.rstrip("/").rsplit("/", 1)[-1]
    if path.name == "config.json" and path.resolve().parent.name:
        return path.resolve().parent.name
    return path.stem


_HELP = f"""Write a starter spec whose [model.architecture] comes from a Hugging Face config.json or a preset.

    The spec gets a `#:schema` line for editor completion, [model] with the exact parameter count, and
    commented [training], [hardware] and [meta] templates. Supported model_type values (the family
    registry): {", ".join(FAMILIES)}. Presets (real config.json files of these checkpoints):
    {", ".join(PRESETS)}; `llmspec init --preset NAME` writes the architecture out, and
    `extends = "preset:NAME"` in a spec takes it without copying.
    Exit status: 0 written, 2 on an unreadable or unsupported config, an unknown preset, or an existing OUTPUT
    without --force.

    \\b
    Examples:
      llmspec init --from-hf ckpt/config.json -o specs/bot.toml
      llmspec init --from-hf ckpt --name support-bot   # ckpt/config.json
      llmspec init --preset Llama-2-7B -o specs/llama.toml
    """


@click.command(short_help="Write a starter spec from a HF config.json or a preset.", help=_HELP)
@click.option("--from-hf", "config_path", default=None, metavar="CONFIG.json",
              type=PathParam(path_type=Path),
              help="A Hugging Face config.json to take the architecture from, or a checkpoint folder holding one.")
@click.option("--preset", default=None, metavar="NAME",
              help="A named preset of a popular checkpoint (its real config.json), e.g. Llama-2-7B.")
@click.option("-o", "--output", type=PathParam(dir_okay=False, path_type=Path, output=True), default=None,
              help="Spec file to write; stdout when omitted.")
@click.option("--name", default=None, help="[model] name; defaults to the checkpoint's directory or file name.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def init(config_path: Path | None, preset: str | None, output: Path | None, name: str | None, force: bool) -> int:
    import json

    from llmspec.estimate.params import attention_targets, count_params
    from llmspec.spec.families import UnknownPreset
    from llmspec.spec.families import preset as find_preset
    from llmspec.spec.hf_import import HFConfigError, architecture_from_file, architecture_from_hf
    from llmspec.spec.models import Architecture
    from llmspec.spec.scaffold import render_spec, schema_reference

    if (config_path is None) == (preset is None):
        _fail("llmspec init: give exactly one of --from-hf CONFIG.json and --preset NAME")
    if output is not None and output.exists() and not force:
        _fail(f"{output}: already exists; pass --force to overwrite it")
    if preset is not None:
        try:
            found = find_preset(preset)
        except UnknownPreset as exc:
            _fail(f"--preset: {exc}")
        config = found.config()
        family, arch = architecture_from_hf(config)
        source = f"`llmspec init --preset {found.name}` from the config.json of {found.repo}"
        default_name = found.name
    else:
        assert config_path is not None
        if config_path.is_dir():
            if not (config_path / "config.json").is_file():
                _fail(f"{config_path}: a folder without a config.json; name the config file")
            config_path = config_path / "config.json"
        try:
            family, arch = architecture_from_file(config_path)
        except HFConfigError as exc:
            _fail(f"{config_path}: {exc}")
        config = json.loads(config_path.read_text(encoding="utf-8"))
        source = f"`llmspec init --from-hf {config_path.as_posix()}`"
        default_name = _default_name(config, config_path)
    model = Architecture(**arch)
    text = render_spec(
        name=name or default_name,
        family=family,
        architecture=arch,
        parameters=count_params(model).total,
        schema=schema_reference(output),
        source=source,
        lora_targets=attention_targets(model, family),
    )
    if output is None:
        click.echo(text, nl=False)
        return 0
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)
    except OSError as exc:
        _fail(f"{output}: cannot write: {exc.strerror or exc}")
    click.echo(f"wrote {output} ({family}, {model.n_layers} layers, {count_params(model).total:,} parameters)",
               err=True)
    return 0
