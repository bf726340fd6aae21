"""Spec tables -> TOML text (top-level keys first, then one [table] per mapping, nested tables after)."""

from __future__ import annotations

from typing import Any

from llmspec.spec.scaffold import comment_text, toml_value


def _table(name: str, values: dict[str, Any]) -> list[str]:
    lines = [f"[{name}]"] + [f"{k} = {toml_value(v)}" for k, v in values.items() if not isinstance(v, dict)]
    for key, value in values.items():
        if isinstance(value, dict):
            lines += ["", *_table(f"{name}.{key}", value)]
    return lines


def render(spec: dict[str, Any], source: str) -> str:
    lines = [f"# Imported by `llmspec import` from {comment_text(source)}."]
    lines += [f"{k} = {toml_value(v)}" for k, v in spec.items() if not isinstance(v, dict)]
    for key, value in spec.items():
        if isinstance(value, dict):
            lines += ["", *_table(key, value)]
    return "\n".join(lines) + "\n"
