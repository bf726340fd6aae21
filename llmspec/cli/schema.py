"""`llmspec schema`: print or write the JSON Schemas."""

from __future__ import annotations

from pathlib import Path

import click

from llmspec.cli._options import PathParam


@click.command(short_help="Print or write the JSON Schemas (editors, CI).")
@click.option(
    "-o",
    "--output",
    type=PathParam(path_type=Path),
    help="Write the schemas into this directory (created if missing) instead of printing the spec schema.",
)
@click.option("--name", default="llmspec.schema.json", show_default=True, help="Which schema to print.")
def schema(output: Path | None, name: str) -> int:
    """Print the JSON Schema of spec files, or write all schemas to a directory.

    Point editors at it with a first line `#:schema ./llmspec.schema.json` (Taplo / Even Better TOML),
    or use it with any JSON Schema validator, e.g. check-jsonschema.
    """
    from llmspec.spec.schema import all_schemas, render

    schemas = all_schemas()
    if output is None:
        if name not in schemas:
            raise click.BadParameter(f"unknown schema {name!r}; choose from {', '.join(schemas)}", param_hint="--name")
        click.echo(render(schemas[name]), nl=False)
        return 0
    if output.exists() and not output.is_dir():
        raise click.BadParameter(f"{output} exists and is not a directory", param_hint="-o")
    output.mkdir(parents=True, exist_ok=True)
    for file_name, body in schemas.items():
        (output / file_name).write_text(render(body), encoding="utf-8")
        click.echo(f"wrote {output / file_name}")
    return 0
