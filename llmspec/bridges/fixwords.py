"""A lint fix in the words of the linted tool config: `micro_batch_size: 1` for an axolotl user, not
`training.micro_batch_size = 1`.

The rules write their fixes in spec keys. For a foreign config each spec key (with its value) in a fix is
translated by exporting the linted spec twice, as it is and with the fix applied, and naming the tool keys that
changed: the export's mapping (llmspec/data/bridges/<tool>.toml and each tool's module) is the one fact, so a
key the export spells by combining several spec values (axolotl `optimizer: paged_adamw_8bit` for
`training.optimizer` + `training.paged_optimizer`) comes out as the tool writes it. A spec key that changes
nothing in the export has no key in that tool's config, and the fix says so. A key named without a value is
looked up in the tool's mapping table.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from typing import Any

import yaml

from llmspec.bridges.detect import NAMES
from llmspec.bridges.yamlfile import BridgeError

_WHERE = "<lint>"
_TABLES = ("model", "training", "hardware", "inference")
_VALUE = r'"[^"]*"|\[[^\]]*\]|[-+\w.]+'
_SET_GROUP = re.compile(r"\((--set [^()]*)\)")
_KEY_VALUE = re.compile(rf"\b((?:{'|'.join(_TABLES)})\.[a-z_]+(?:\.[a-z_]+)*)(?:(\s*=\s*)({_VALUE})|( \(e\.g\. )({_VALUE})\))?")
_BARE = re.compile(rf"(?<![.\w`])([a-z][a-z_]*)(\s*=\s*)({_VALUE})")


def _value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word is a string, as --set reads it


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict) and (tree or not prefix):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: tree}


def _shown(key: str, value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return f"{key}: {text.removesuffix('...').strip()}"


class Words:
    """Translates the spec keys of one foreign config's fixes (the export of its spec is made once)."""

    def __init__(self, tool: str, spec: Any):
        self.tool, self.spec, self.name = tool, spec, NAMES.get(tool, tool)
        self._done: dict[str, dict[str, Any] | str] = {}
        self.base = self._export({})

    def _export(self, overrides: dict[str, Any]) -> dict[str, Any] | str:
        """The exported config as flat `key: value`s, or why the export refuses it (once per set of changes: the
        fixes of one config share most of them)."""
        key = repr(sorted(overrides.items()))
        if key not in self._done:
            self._done[key] = self._export_now(overrides)
        return self._done[key]

    def _export_now(self, overrides: dict[str, Any]) -> dict[str, Any] | str:
        from llmspec.bridges.exporter import companions, export_config
        from llmspec.estimate.fit import with_overrides

        spec = with_overrides(self.spec, overrides) if overrides else self.spec
        try:
            flat = _flat(yaml.safe_load(export_config(self.tool, spec, _WHERE)) or {})
            # a file the run needs beside the config (LLaMA-Factory's FSDP accelerate config) is one line
            for suffix in companions(self.tool, spec, _WHERE):
                flat[f"a *.{suffix} beside it (`llmspec export --to {self.tool} -o FILE` writes one)"] = None
            return flat
        except BridgeError as exc:
            return str(exc).removeprefix(f"{_WHERE}: ")

    def changes(self, overrides: dict[str, Any]) -> list[str] | str:
        """The tool's `key: value` lines (and `remove key`) that make the change, or why the tool's config cannot
        express it (the export refuses the config or the changed spec)."""
        after = self._export(overrides)
        if isinstance(self.base, str) or isinstance(after, str):
            return self.base if isinstance(self.base, str) else str(after)
        lines = [_shown(k, v) if v is not None or "*." not in k else k for k, v in after.items()
                 if k not in self.base or self.base[k] != v]
        return lines + [f"remove {k}" for k in self.base if k not in after]

    def key_names(self, key: str) -> list[str]:
        """The tool keys the mapping table sends to ``key`` (for a key a fix names without a value)."""
        from llmspec.bridges.tables import table

        return [k for k, r in table(self.tool).rules.items() if key in (r.to, r.fraction_to)]

    def overrides(self, overrides: dict[str, Any]) -> str:
        """The tool's words for a group of spec changes applied together."""
        lines = self.changes(overrides)
        if isinstance(lines, str):
            return f"{self.name} cannot express it: {lines}"
        # a key the tool has no place for changes nothing: the change without it exports the same
        missing = [k for k in overrides if not lines or self.changes({o: v for o, v in overrides.items() if o != k}) == lines]
        said = f"{self.name}: {', '.join(lines)}" if lines else ""
        if missing:
            none = f"{', '.join(missing)}: {self.nowhere(missing)}"
            said = f"{said}; {none}" if said else none
        return said

    def nowhere(self, keys: list[str]) -> str:
        if all(k.startswith("hardware.") for k in keys):  # the launcher's, or a DeepSpeed / accelerate config's
            return f"no {self.name} config key (set it where the run is launched)"
        return f"llmspec maps no {self.name} key to it"

    def one(self, key: str, value: Any | None, raw: str) -> str:
        if value is None:
            names = self.key_names(key)
            return f"{' / '.join(names)} ({self.name})" if names else f"{raw} ({self.nowhere([key])})"
        lines = self.changes({key: value})
        if isinstance(lines, str):
            return f"{raw} ({self.name} cannot express it: {lines})"
        return ", ".join(lines) if lines else f"{raw} ({self.nowhere([key])})"


def translate(fix: str, words: Words, finding_key: str = "") -> str:
    """``fix`` with each spec key (and its value) replaced by the tool's key and value."""

    def set_group(inside: str) -> str:
        try:
            args = shlex.split(inside)
        except ValueError:
            return f"({inside})"
        pairs = [a.split("=", 1) for a in args[1::2] if "=" in a]
        return f"({words.overrides({k: _value(v) for k, v in pairs})})"

    def key_value(m: re.Match[str]) -> str:
        text = m[3] if m[3] is not None else m[5]
        return words.one(m[1], _value(text) if text is not None else None, m[0])

    table = finding_key.split(".")[0]  # a bare `name = value` in a fix is a key of the finding's table

    def bare(m: re.Match[str]) -> str:
        key = f"{table}.{m[1]}"
        if not table or not _is_field(key):
            return m[0]
        return words.one(key, _value(m[3]), m[0])

    fix = re.sub(r" to \[(?:model|training|hardware|inference)\]", f" to the {words.name} config", fix)
    parts = _SET_GROUP.split(fix)  # odd items: the inside of a (--set ...) group
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(set_group(part))
        else:
            out.append(_BARE.sub(bare, _KEY_VALUE.sub(key_value, part)))
    return "".join(out)


def _is_field(dotted: str) -> bool:
    from pydantic import BaseModel

    from llmspec.spec import models

    classes: dict[str, type[BaseModel]] = {"training": models.Training, "hardware": models.Hardware,
                                           "inference": models.Inference}
    table, _, name = dotted.partition(".")
    cls = classes.get(table)
    return cls is not None and name in cls.model_fields
