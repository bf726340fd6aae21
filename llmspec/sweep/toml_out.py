"""Write a point of a sweep as a spec file of its own (TOML), for `sweep run` records and for the tests that
compare the fast path with `check` + `lint` of real files.

Only what a spec document holds is written: tables, arrays of tables, strings, numbers, booleans and arrays of
those. Strings are JSON-escaped, which is valid TOML basic-string syntax for every character JSON escapes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if _BARE.match(name) else json.dumps(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def dumps(doc: Mapping[str, Any]) -> str:
    """A TOML document for ``doc`` (a spec as plain data: ``spec.source.raw`` with overrides applied)."""
    lines: list[str] = []
    _table(doc, (), lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(doc: Mapping[str, Any], path: tuple[str, ...], lines: list[str]) -> None:
    nested = []
    for key, value in doc.items():
        if isinstance(value, Mapping) or _is_table_array(value):
            nested.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in nested:
        name = ".".join(_key(p) for p in (*path, key))
        if isinstance(value, Mapping):
            lines.extend(["", f"[{name}]"])
            _table(value, (*path, key), lines)
        else:
            for item in value:
                lines.extend(["", f"[[{name}]]"])
                _table(item, (*path, key), lines)
