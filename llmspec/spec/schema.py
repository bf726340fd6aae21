"""JSON Schemas generated from the pydantic models (the models are the source of truth)."""

from __future__ import annotations

import json
from typing import Callable

from llmspec.spec.models import Spec

SCHEMA_ID = "https://raw.githubusercontent.com/llmspec/llmspec/main/schemas/"


def spec_schema() -> dict:
    schema = Spec.model_json_schema(mode="validation")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID + "llmspec.schema.json",
        **schema,
    }
    schema["title"] = "llmspec spec"
    return schema


def _generators() -> dict[str, Callable[[], dict]]:
    """File name -> generator, for every schema in schemas/. Other modules add theirs here."""
    out: dict[str, Callable[[], dict]] = {"llmspec.schema.json": spec_schema}
    try:
        from llmspec.eval.suite import json_schema as suite_schema  # the suite file format (no torch import)

        out["suite.schema.json"] = suite_schema
    except ImportError:
        pass
    try:
        from llmspec.config import config_schema  # llmspec.toml / [tool.llmspec]

        out["config.schema.json"] = config_schema
    except ImportError:
        pass
    return out


def all_schemas() -> dict[str, dict]:
    return {name: make() for name, make in _generators().items()}


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
