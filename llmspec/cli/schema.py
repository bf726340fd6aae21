"""`llmspec schema`: print or write the JSON Schemas."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from llmspec.cli._options import PathParam


def _generators() -> dict[str, Callable[[], dict]]:
    """File name -> generator, for every schema in schemas/. The registry lives here, above the packages it
    draws from, so that the spec package imports neither eval nor config."""
    from llmspec.eval.suite import json_schema as suite_schema  # the suite file format (no torch import)
    from llmspec.integrations.record import json_schema as run_record_schema  # pydantic only, no torch
    from llmspec.spec.schema import spec_schema

    return {"llmspec.schema.json": spec_schema, "suite.schema.json": suite_schema,
            "run-record.schema.json": run_record_schema}


def all_schemas() -> dict[str, dict]:
    return {name: make() for name, make in _generators().items()}


@click.command(short_help="Print or write the JSON Schemas (editors, CI).")
@click.option(
    "-o",
    "--output",
    type=PathParam(path_type=Path, output=True),
    help="Write the schemas into this directory (created if missing) instead of printing the spec schema.",
)
@click.option("--name", default="llmspec.schema.json", show_default=True, help="Which schema to print.")
def schema(output: Path | None, name: str) -> int:
    """Print the JSON Schema of spec files, or write all schemas to a directory.

    Point editors at it with a first line `#:schema ./llmspec.schema.json` (Taplo / Even Better TOML),
    or use it with any JSON Schema validator, e.g. check-jsonschema.
    """
    from llmspec.spec.schema import render

    schemas = all_schemas()
    if output is None:
        if name not in schemas:
            raise click.BadParameter(f"unknown schema {name!r}; choose from {', '.join(schemas)}", param_hint="--name")
        click.echo(render(schemas[name]), nl=False)
        return 0
    if output.exists() and not output.is_dir():
        raise click.BadParameter(f"{output} exists and is not a directory", param_hint="-o")
    try:
        output.mkdir(parents=True, exist_ok=True)
        for file_name, body in schemas.items():
            (output / file_name).write_text(render(body), encoding="utf-8")
            click.echo(f"wrote {output / file_name}")
    except OSError as exc:
        click.echo(f"llmspec schema: {exc.filename or output}: cannot write ({exc.strerror or exc})", err=True)
        return 2
    return 0
