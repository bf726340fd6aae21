"""Write a starter spec (``llmspec init``): TOML text with the model and architecture filled in and commented
templates for the rest. A small emitter: the values are ints, floats, bools, strings, lists and tables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SCHEMA_URL = "https://raw.githubusercontent.com/llmspec/llmspec/main/schemas/llmspec.schema.json"
SCHEMA_RELPATH = Path("schemas") / "llmspec.schema.json"


def schema_reference(output: Path | None) -> str:
    """A relative path to schemas/llmspec.schema.json when ``output`` lies inside a checkout that has it,
    else the published URL (Taplo / Even Better TOML read either from a ``#:schema`` directive)."""
    if output is None:
        return SCHEMA_URL
    directory = output.resolve().parent
    for parent in (directory, *directory.parents):
        candidate = parent / SCHEMA_RELPATH
        if candidate.is_file():
            return Path(os.path.relpath(candidate, directory)).as_posix()
    return SCHEMA_URL


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _escape(ch: str) -> str:
    """A character as TOML 1.0 allows it in a basic string: control characters (U+0000-U+001F and DEL) as
    \\uXXXX; a lone surrogate (not a Unicode scalar value, so not representable in TOML) as U+FFFD."""
    code = ord(ch)
    if code < 0x20 or code == 0x7F:
        return f"\\u{code:04X}"
    return "\uFFFD" if 0xD800 <= code <= 0xDFFF else ch


def comment_text(text: str) -> str:
    """``text`` safe inside a TOML comment: nothing in it can end the comment (a newline would inject lines)
    or make the document invalid (TOML forbids control characters other than tab in comments)."""
    return "".join(ch if ch == "\t" else _escape(ch) for ch in text)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 1_000_000 else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(_ESCAPES.get(ch) or _escape(ch) for ch in value) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


def _table(name: str, values: dict[str, Any], comments: dict[str, str] | None = None) -> list[str]:
    lines = [f"[{name}]"]
    nested = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, dict):
            nested.append((key, value))
            continue
        line = f"{key} = {toml_value(value)}"
        if comments and key in comments:
            line += f"  # {comments[key]}"
        lines.append(line)
    for key, value in nested:
        lines += ["", *_table(f"{name}.{key}", value)]
    return lines


def render_spec(
    *,
    name: str,
    family: str,
    architecture: dict[str, Any],
    parameters: int | None,
    schema: str,
    source: str,
    lora_targets: list[str],
) -> str:
    """The text of a starter spec whose [model.architecture] is ``architecture``."""
    model: dict[str, Any] = {"name": name, "family": family, "parameters": parameters}
    lines = [
        f"#:schema {comment_text(schema)}",
        f"# Written by {comment_text(source)} (model_type {comment_text(repr(family))}).",
        "# `llmspec check` validates this file, `llmspec lint` reviews the run it describes.",
        "version = 1",
        "",
        *_table("model", model, {"parameters": "exact count for this architecture"}),
        '# weights = "path/to/checkpoint"  # what `llmspec eval` loads',
        "",
        *_table("model.architecture", architecture),
        "",
        *_TEMPLATE.format(targets=toml_value(lora_targets), seq_len=template_seq_len(architecture)).splitlines(),
    ]
    return "\n".join(lines) + "\n"


def template_seq_len(architecture: dict[str, Any]) -> int:
    """The template's training.seq_len: 2048, or the model's context when shorter (GPT-2 has 1024), so that
    the uncommented template does not trip lint's CTX001."""
    context = architecture.get("context_length")
    return min(2048, context) if isinstance(context, int) and context > 0 else 2048


_TEMPLATE = """\
# [training]
# method = "lora"  # pretrain | full | lora | qlora
# dataset_tokens = "40M"  # unique tokens in one epoch
# epochs = 2
# learning_rate = 2e-4
# precision = "bf16-mixed"
# micro_batch_size = 4
# gradient_accumulation = 8
# seq_len = {seq_len}
# activation_checkpointing = true
# validation_split = 0.05  # held out to watch for overfitting
# seed = 42
#
# [training.lora]
# rank = 16
# alpha = 32
# targets = {targets}  # or ["all-linear"]
#
# [hardware]
# accelerator = "A100-80GB"  # a name from the accelerator catalog
# count = 1  # GPUs per node
# nodes = 1
#
# [meta]
# owner = "team@example.com"  # who answers for this run"""
