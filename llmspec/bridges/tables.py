"""The mapping tables (llmspec/data/bridges/<tool>.toml) and the key lists generated from each real tool."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data" / "bridges"
TOOLS = ("trl", "axolotl", "llamafactory")
"""Tools whose configs import."""


@dataclass(frozen=True)
class Rule:
    to: str
    source: str
    default: Any = None
    values: dict[str, Any] = field(default_factory=dict)
    fraction_to: str | None = None
    as_list: bool = False
    """Where a value strictly between 0 and 1 goes instead (a key that is a count at 1 and above, a ratio below)."""
    combined: bool = False
    """Decided with other keys by the tool's own module (llmspec/bridges/<tool>.py), not by the generic mapping."""


@dataclass(frozen=True)
class Table:
    tool: str
    version: str
    stack: str
    rules: dict[str, Rule]
    known: frozenset[str]
    """Every key the tool's own parser accepts (generated from the tool; see scripts/bridges_keys.py)."""
    null_unset: bool = False
    """An empty YAML value (None) means the key is unset (axolotl's pydantic models), so the tool's default applies."""


@cache
def table(tool: str) -> Table:
    raw = tomllib.loads((DATA / f"{tool}.toml").read_text(encoding="utf-8"))
    rules = {key: Rule(r["to"], r["source"], r.get("default"), dict(r.get("values", {})),
                        r.get("fraction_to"), bool(r.get("as_list", False)), bool(r.get("combined", False)))
             for key, r in raw["map"].items()}
    lines = (DATA / f"{tool}_keys.txt").read_text(encoding="utf-8").splitlines()
    known = frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    return Table(raw["tool"], raw["version"], raw["stack"], rules, known, bool(raw.get("null_unset", False)))
