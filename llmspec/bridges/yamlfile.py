"""Read a YAML config keeping each top-level key's position (PyYAML compose nodes keep marks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from llmspec.spec.tomltext import ReadError, read_text


class BridgeError(Exception):
    """One line `file:line:col: what went wrong; how to fix it` (exit 2)."""


@dataclass(frozen=True)
class Entry:
    key: str
    value: Any
    line: int
    col: int


def read_yaml(path: str) -> list[Entry]:
    """The top-level keys of the YAML mapping in ``path``, in file order, with 1-based line:col."""
    try:
        text = read_text(path)
    except ReadError as exc:
        raise BridgeError(f"{path}:{exc.line}:{exc.col}: {exc.message}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark else "1:1"
        raise BridgeError(f"{path}:{where}: YAML syntax error: {exc.problem or exc.context}; fix the YAML") from None
    except yaml.YAMLError as exc:
        raise BridgeError(f"{path}:1:1: YAML error: {exc}; fix the YAML") from None
    if node is None:
        raise BridgeError(f"{path}:1:1: the file is empty; give a training config (a YAML mapping of keys)")
    if not isinstance(node, yaml.MappingNode):
        raise BridgeError(f"{path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: "
                          "expected a YAML mapping of config keys at the top level")
    entries: list[Entry] = []
    constructor = yaml.SafeLoader(text)
    try:
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if any(e.key == str(key) for e in entries):  # PyYAML keeps the last silently; a guess we refuse
                raise BridgeError(f"{path}:{key_node.start_mark.line + 1}:{key_node.start_mark.column + 1}: "
                                  f"duplicate key {key!r}; keep one of them")
            value = constructor.construct_object(value_node, deep=True)
            entries.append(Entry(str(key), value, key_node.start_mark.line + 1, key_node.start_mark.column + 1))
    except yaml.YAMLError as exc:
        raise BridgeError(f"{path}:1:1: YAML error: {exc}; fix the YAML") from None
    finally:
        constructor.dispose()
    return entries
