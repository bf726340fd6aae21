"""JSON Schemas generated from the pydantic models (the models are the source of truth)."""

from __future__ import annotations

import json

from llmspec.spec.models import Spec

SCHEMA_ID = "https://raw.githubusercontent.com/llmspec/llmspec/main/schemas/"


def _bounds_into_branches(node: object) -> None:
    """Sizes ("40M" or 40000000) are anyOf[integer, string]: pydantic leaves their `le` bound beside the anyOf,
    where validators ignore it. Move it into the integer branch as a standard `maximum`."""
    if isinstance(node, dict):
        if "anyOf" in node and "le" in node:
            bound = node.pop("le")
            for branch in node["anyOf"]:
                if branch.get("type") == "integer":
                    branch["maximum"] = bound
        for value in node.values():
            _bounds_into_branches(value)
    elif isinstance(node, list):
        for value in node:
            _bounds_into_branches(value)


def spec_schema() -> dict:
    schema = Spec.model_json_schema(mode="validation")
    _bounds_into_branches(schema)
    # a spec that extends a base may leave [model] to the base
    if schema.get("required") == ["model"]:
        del schema["required"]
        schema["if"] = {"not": {"required": ["extends"]}}
        schema["then"] = {"required": ["model"]}
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID + "llmspec.schema.json",
        **schema,
    }
    schema["title"] = "llmspec spec"
    return schema


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
