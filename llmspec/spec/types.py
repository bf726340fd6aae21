"""Reusable field types for spec models: sizes with units, and the strict base model."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema

from llmspec.units import parse_bytes, parse_count

_NUMBER_PATTERN = r"^\s*[0-9][0-9_]*(\.[0-9_]+)?([eE][+-]?[0-9]+)?\s*"

Count = Annotated[
    int,
    BeforeValidator(parse_count),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": _NUMBER_PATTERN + r"[KkMBGTt]?\s*$"},
            ],
            "description": 'A count: a number, or a number with K, M, B or T (e.g. "40M", "6.74B").',
        }
    ),
]
"""A count of tokens, parameters or examples: ``3_000_000`` or ``"3M"``."""

Bytes = Annotated[
    int,
    BeforeValidator(parse_bytes),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {
                    "type": "string",
                    "pattern": _NUMBER_PATTERN + r"([KkMmGgTt][Ii]?[Bb]|[Bb])?\s*$",
                },
            ],
            "description": 'A memory size: a number of bytes, or a number with a unit (e.g. "80GiB", "24GB").',
        }
    ),
]
"""A memory size: ``85899345920`` or ``"80GiB"``."""


class Strict(BaseModel):
    """Base of every spec table: unknown keys are errors, NaN and infinities are rejected."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # no silent coercion: "yes" is not a boolean and "3" is not a number (as in the JSON Schema)
        allow_inf_nan=False,
        validate_assignment=False,
        use_attribute_docstrings=True,
        frozen=False,
    )
