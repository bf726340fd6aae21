"""Problems found while reading a spec, each one line: ``file:line:col: message``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["io", "toml", "schema", "extends", "config"]
"""What went wrong: reading a file, TOML syntax, validation, an extends chain, or the project configuration."""


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    col: int
    key: str
    """Dotted key path the problem is about ("" for the whole file)."""
    message: str
    kind: Kind = "schema"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class SpecError(Exception):
    """A spec that cannot be loaded; ``problems`` lists every problem found, in file order."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.col))
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """'; did you mean 'epochs'?' or ''."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def dotted(path: Iterable[object]) -> str:
    """('eval', 'gates', 0, 'min') -> 'eval.gates[0].min'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
