"""What an export leaves out: one line per key the spec's author wrote that the tool's config cannot hold.

Exports never drop a value silently (the same rule as import). The architecture keys are not listed: the tool
reads the architecture from the checkpoint's own config.json, which the exported config names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llmspec.textsafe import visible

# read by the tool from the checkpoint, not from its training config
FROM_CHECKPOINT = ("model.name", "model.family", "model.parameters", "model.architecture", "model.hf_config",
                   "model.tokenizer")
TRAINING_TABLES = ("model", "training")


def _leaves(tree: Any, prefix: str) -> Iterable[str]:
    if isinstance(tree, dict) and tree:
        for key, value in tree.items():
            yield from _leaves(value, f"{prefix}.{key}")
    else:
        yield prefix


def _covered(path: str, covered: frozenset[str]) -> bool:
    parts = path.split(".")
    return any(".".join(parts[:k]) in covered for k in range(1, len(parts) + 1))


def unexported(spec: Any, covered: Iterable[str], tool: str) -> list[str]:
    """``file:line:col: not exported: KEY ...`` lines for ``spec`` (a loaded Spec), given the dotted spec keys
    the exported config expresses (a table's name covers its keys)."""
    source = spec.source
    if source is None:
        return []
    done = frozenset(covered) | frozenset(FROM_CHECKPOINT)
    lines = []
    for table in TRAINING_TABLES:
        for path in _leaves(source.raw.get(table), table):
            if path != table and not _covered(path, done):
                where = source.locate(path.split("."))
                lines.append(f"{where}: not exported: {path} (a {tool} config has no equivalent; set it in the "
                             "tool by hand if the run needs it)")
    others = [k for k, v in source.raw.items() if isinstance(v, dict) and k not in TRAINING_TABLES]
    if others:
        where = source.locate([others[0]])
        tables = ", ".join(f"[{k}]" for k in others)
        lines.append(f"{where}: not exported: {tables} (a {tool} training config has no place for them; they stay "
                     "in the spec for lint, estimate and eval)")
    return [visible(line) for line in lines]
