"""What an export leaves out: one line per key the spec's author wrote that the tool's config does not carry.

Exports never drop a value silently (the same rule as import). Decided by the round trip, the same for every tool:
the exported text is imported again, and a [model]/[training] key the author wrote that does not come back with
its value is named at its own line. The architecture keys are not listed: the tool reads the architecture from
the checkpoint's own config.json, which the exported config names."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from llmspec.textsafe import visible

# read by the tool from the checkpoint, not from its training config
FROM_CHECKPOINT = ("model.name", "model.family", "model.parameters", "model.architecture", "model.hf_config",
                   "model.tokenizer")
TRAINING_TABLES = ("model", "training")
_MISSING = object()


def _leaves(tree: Any, prefix: str) -> Iterable[str]:
    if isinstance(tree, dict) and tree:
        for key, value in tree.items():
            yield from _leaves(value, f"{prefix}.{key}")
    else:
        yield prefix


def _value(tree: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        tree = getattr(tree, part, _MISSING) if not isinstance(tree, dict) else tree.get(part, _MISSING)
        if tree is _MISSING or tree is None:
            return tree
    return tree


def _reimported(tool: str, text: str) -> Any:
    """The Training (and model dict) that importing ``text`` as a ``tool`` config gives."""
    from llmspec.bridges.importer import import_config
    from llmspec.spec.models import Training

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exported.yaml"
        path.write_text(text, encoding="utf-8")
        imported = import_config(str(path), tool=tool)
    return {"training": Training.model_validate(imported.spec["training"]), "model": imported.spec.get("model", {})}


def unexported(spec: Any, tool: str, label: str, text: str) -> list[str]:
    """``file:line:col: not exported: KEY ...`` lines for ``spec`` (a loaded Spec) exported as ``text``."""
    from llmspec.bridges.refusal import article
    from llmspec.bridges.yamlfile import BridgeError

    source = spec.source
    if source is None:
        return []
    try:
        back = _reimported(tool, text)
    except BridgeError as exc:  # our own export should always import; say so rather than guess
        return [visible(f"{source.path}:1:1: warning: could not check which keys the {label} config leaves out "
                        f"({exc})")]
    lines = []
    for table in TRAINING_TABLES:
        for path in _leaves(source.raw.get(table), table):
            if path == table or any(path == k or path.startswith(k + ".") for k in FROM_CHECKPOINT):
                continue
            mine, theirs = _value(spec, path), _value(back, path)
            if mine != theirs:
                where = source.locate(path.split("."))
                lines.append(f"{where}: not exported: {path} ({article(label)} config has no equivalent; set it in the "
                             "tool by hand if the run needs it)")
    others = [k for k, v in source.raw.items() if isinstance(v, dict) and k not in TRAINING_TABLES]
    if others:
        where = source.locate([others[0]])
        tables = ", ".join(f"[{k}]" for k in others)
        lines.append(f"{where}: not exported: {tables} ({article(label)} training config has no place for them; they "
                     "stay in the spec for lint, estimate and eval)")
    return [visible(line) for line in lines]
