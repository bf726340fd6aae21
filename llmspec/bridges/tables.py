"""The mapping tables (llmspec/data/bridges/<tool>.toml) and the key lists generated from each real tool."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data" / "bridges"
TOOLS = ("trl", "axolotl", "llamafactory", "litgpt", "torchtune")
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
    pass_others: bool = False
    """`others = "pass"`: a value not listed in `values` is taken as it is (max_steps: -1 means none, 100 is 100)."""
    alias_of: str | None = None
    """A deprecated alias of this key: imported unless that key is given too (it wins, as in the tool), never
    exported (TRL's gradient_checkpointing -> activation_checkpointing in transformers 5.24)."""


@dataclass(frozen=True)
class Table:
    tool: str
    version: str
    stack: str
    rules: dict[str, Rule]
    known: frozenset[str]
    """Every key the tool's own parser accepts (generated from the tool; see scripts/bridges_keys.py)."""
    nested: bool = False
    """Keys are dotted paths into a nested config (LitGPT, torchtune); `prefix.*` in `known` accepts any key below."""
    combined: dict[str, Rule] = field(default_factory=dict)
    """Keys read together by the tool's own bridge module (their `to` is empty; `default` is the tool's)."""
    null_unset: bool = False
    """An empty YAML value (None) means the key is unset (axolotl's pydantic models), so the tool's default applies."""

    def accepts(self, key: str) -> bool:
        return key in self.known or any(key.startswith(k[:-1]) for k in self.known if k.endswith(".*"))

    def is_leaf(self, key: str) -> bool:
        """A known key whose value is read whole, even when it is a mapping (no known key lies below it)."""
        return key in self.known and not any(k.startswith(key + ".") for k in self.known)


@dataclass
class Combined:
    """What a tool's bridge module decides from keys read together (``after_import``): the notes, and for LitGPT
    and torchtune the Hugging Face repository the config's checkpoint names (for the architecture preset)."""

    notes: list[str] = field(default_factory=list)
    repo: str | None = None


def combined_values(tab: Table, entries: list[Any]) -> dict[str, Any]:
    """The [combined] keys of a nested tool's table: the tool's defaults, overridden by the values the config
    gives (an empty value in a nested config is the default)."""
    values = {k: r.default for k, r in tab.combined.items()}
    return values | {e.key: e.value for e in entries if e.key in tab.combined and e.value is not None}


@cache
def known_keys(tool: str) -> frozenset[str] | None:
    """Every key the tool's parser accepts, None when no key list was generated for it yet."""
    path = DATA / f"{tool}_keys.txt"
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


@cache
def table(tool: str) -> Table:
    raw = tomllib.loads((DATA / f"{tool}.toml").read_text(encoding="utf-8"))
    rules = {key: Rule(r["to"], r["source"], r.get("default"), dict(r.get("values", {})),
                        r.get("fraction_to"), bool(r.get("as_list", False)), bool(r.get("combined", False)),
                        r.get("others") == "pass", r.get("alias_of"))
             for key, r in raw["map"].items()}
    combined = {key: Rule("", r["source"], r.get("default")) for key, r in raw.get("combined", {}).items()}
    return Table(raw["tool"], raw["version"], raw["stack"], rules, known_keys(tool) or frozenset(),
                 bool(raw.get("nested", False)), combined, bool(raw.get("null_unset", False)))
