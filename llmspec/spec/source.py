"""Positions of keys in TOML text.

tomllib returns plain dicts with no positions, so this module scans the (already valid) TOML text once and
records where every key, table header and array element starts. Paths are tuples as pydantic reports them:
``("eval", "gates", 1, "min")`` is the ``min`` key of the second ``[[eval.gates]]`` table.
"""

from __future__ import annotations

import bisect
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from llmspec.spec import tomltext

PathKey = str | int
Path_ = tuple[PathKey, ...]

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_MAX_DEPTH = 200


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class _Scanner:
    """A small TOML scanner that only records positions; the text has already been parsed by tomllib."""

    def __init__(self, text: str):
        self.text = text
        self.i = 0
        self.n = len(text)
        self.found: dict[Path_, int] = {}
        self._line_starts = [0] + [k + 1 for k, ch in enumerate(text) if ch == "\n"]
        self._array_tables: dict[Path_, int] = {}
        self.duplicates: list[tuple[Path_, int, Path_]] = []  # (path, index, the earlier definition's path)
        self._values: set[Path_] = set()  # keys assigned a value (key = value), which no later key may extend
        self._headers: set[Path_] = set()  # explicit [table] headers, which may appear only once

    # -- helpers -------------------------------------------------------------------------------------
    def position(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, index)
        return line, index - self._line_starts[line - 1] + 1

    def _peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.text[j] if j < self.n else ""

    def _skip_ws(self, newlines: bool = False) -> None:
        while self.i < self.n:
            ch = self.text[self.i]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self.i += 1
            elif ch == "#" and newlines:
                self._skip_comment()
            else:
                break

    def _skip_comment(self) -> None:
        end = self.text.find("\n", self.i)
        self.i = self.n if end < 0 else end

    def _record(self, path: Path_, index: int) -> None:
        self.found.setdefault(path, index)

    # -- keys ----------------------------------------------------------------------------------------
    def _key_part(self) -> str:
        ch = self._peek()
        if ch == '"':
            start = self.i
            raw = self._basic_string()
            if "\\" not in raw:
                return raw
            try:  # a quoted key with escapes ("ep\u006fch") names the decoded key, as tomllib reads it
                return tomllib.loads("k = " + self.text[start : self.i])["k"]
            except (tomllib.TOMLDecodeError, KeyError):
                return raw
        if ch == "'":
            end = self.text.find("'", self.i + 1)
            end = self.n if end < 0 else end
            value = self.text[self.i + 1 : end]
            self.i = end + 1
            return value
        start = self.i
        while self.i < self.n and self.text[self.i] in _BARE:
            self.i += 1
        if self.i == start:  # not a key: skip a character so that scanning always progresses
            self.i += 1
        return self.text[start : self.i]

    def _dotted_key(self) -> list[str]:
        parts = [self._key_part()]
        self._skip_ws()
        while self._peek() == ".":
            self.i += 1
            self._skip_ws()
            parts.append(self._key_part())
            self._skip_ws()
        return parts

    # -- values --------------------------------------------------------------------------------------
    def _basic_string(self) -> str:
        if self.text.startswith('"""', self.i):
            end = self.i + 3
            while True:
                end = self.text.find('"""', end)
                if end < 0:
                    self.i = self.n
                    return ""
                backslashes = 0
                k = end - 1
                while k >= 0 and self.text[k] == "\\":
                    backslashes += 1
                    k -= 1
                if backslashes % 2 == 0:
                    break
                end += 1
            while self.text.startswith('"', end + 3):
                end += 1
            value = self.text[self.i + 3 : end]
            self.i = end + 3
            return value
        j = self.i + 1
        out = []
        while j < self.n and self.text[j] not in '"\n':
            if self.text[j] == "\\":
                out.append(self.text[j : j + 2])
                j += 2
                continue
            out.append(self.text[j])
            j += 1
        self.i = j + 1
        return "".join(out)

    def _literal_string(self) -> None:
        if self.text.startswith("'''", self.i):
            end = self.text.find("'''", self.i + 3)
            end = self.n if end < 0 else end
            while self.text.startswith("'", end + 3):
                end += 1
            self.i = end + 3
        else:
            end = self.text.find("'", self.i + 1)
            self.i = (self.n if end < 0 else end) + 1

    def _value(self, path: Path_, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise RecursionError("nesting too deep")
        ch = self._peek()
        if ch == '"':
            self._basic_string()
        elif ch == "'":
            self._literal_string()
        elif ch == "[":
            self.i += 1
            index = 0
            while self.i < self.n:
                self._skip_ws(newlines=True)
                if self._peek() == "]":
                    self.i += 1
                    return
                if self._peek() == ",":
                    self.i += 1
                    continue
                self._record(path + (index,), self.i)
                self._value(path + (index,), depth + 1)
                index += 1
        elif ch == "{":
            self.i += 1
            while self.i < self.n:
                self._skip_ws(newlines=True)
                if self._peek() == "}":
                    self.i += 1
                    return
                if self._peek() == ",":
                    self.i += 1
                    continue
                self._key_value(path, depth + 1)
        else:
            while self.i < self.n and self.text[self.i] not in ",]}\n#":
                self.i += 1

    def _key_value(self, table: Path_, depth: int) -> None:
        start = self.i
        parts = self._dotted_key()
        full = table + tuple(parts)
        earlier = [full[:k] for k in range(len(table) + 1, len(full)) if full[:k] in self._values]
        if full in self.found or earlier:
            self.duplicates.append((full, start, earlier[0] if earlier else full))
        self._values.add(full)
        for k in range(1, len(parts) + 1):
            self._record(table + tuple(parts[:k]), start)
        self._skip_ws()
        if self._peek() == "=":
            self.i += 1
            self._skip_ws()
            self._value(table + tuple(parts), depth)

    # -- document ------------------------------------------------------------------------------------
    def scan(self) -> dict[Path_, int]:
        table: Path_ = ()
        while self.i < self.n:
            self._skip_ws(newlines=True)
            if self.i >= self.n:
                break
            ch = self._peek()
            if ch == "[":
                is_array = self._peek(1) == "["
                self.i += 2 if is_array else 1
                self._skip_ws()
                start = self.i
                parts = tuple(self._dotted_key())
                self.i += 2 if is_array else 1
                if is_array:
                    index = self._array_tables.get(parts, -1) + 1
                    self._array_tables[parts] = index
                    for k in range(1, len(parts) + 1):
                        self._record(parts[:k], start)
                    table = parts + (index,)
                else:
                    # a sub-table of the latest array-of-tables element nests under that element
                    table = self._nest(parts)
                    earlier = [table[:k] for k in range(1, len(table) + 1) if table[:k] in self._values]
                    if table in self._headers or earlier:
                        self.duplicates.append((table, start, earlier[0] if earlier else table))
                    self._headers.add(table)
                    for k in range(1, len(table) + 1):
                        self._record(table[:k], start)
                self._record(table, start)
            else:
                self._key_value(table, 0)
            self._skip_ws()
            if self._peek() == "#":
                self._skip_comment()
        return self.found

    def _nest(self, parts: Path_) -> Path_:
        best: Path_ = parts
        for prefix, index in self._array_tables.items():
            if len(prefix) < len(parts) and parts[: len(prefix)] == prefix:
                best = prefix + (index,) + parts[len(prefix) :]
        return best


@lru_cache(maxsize=256)  # pure function of the text; a base spec shared by many specs is scanned once
def scan(text: str) -> Mapping[Path_, tuple[int, int]]:
    """Map each key path in a valid TOML document to its (line, column), both 1-based.

    The result is shared between callers (memoised), so it is read-only; copy it with ``dict(...)`` to extend it."""
    scanner = _Scanner(text)
    try:
        found = scanner.scan()
    except RecursionError:
        found = scanner.found
    return MappingProxyType({path: scanner.position(index) for path, index in found.items()})


def first_duplicate(text: str) -> tuple[Path_, int, int, Path_] | None:
    """The first key or table defined twice, as (path, line, col, earlier): ``earlier`` is ``path`` itself, or the
    shorter path of a value that this key tries to extend (``a = 1`` then ``a.b = 2``). tomllib reports these
    without a useful position."""
    scanner = _Scanner(text)
    try:
        scanner.scan()
    except RecursionError:
        pass
    if not scanner.duplicates:
        return None
    path, index, earlier = scanner.duplicates[0]
    return (path, *scanner.position(index), earlier)


@dataclass
class SourceMap:
    """Where each key of a (possibly merged) spec came from.

    Positions are computed lazily, on the first :meth:`locate`: most specs that lint clean never need them, and
    scanning is a large share of a bulk lint's time."""

    path: str
    """The spec file that was loaded (the top of any extends chain)."""
    texts: dict[str, str] = field(default_factory=dict)
    """Source text of every file that contributed, by display path."""
    raw: dict = field(default_factory=dict)
    """The merged document as plain data, before validation and defaults: what the user actually wrote."""
    accelerators: Mapping[str, Mapping] | None = None
    """User catalog entries (llmspec.toml / [tool.llmspec]) that the spec was resolved against."""
    _layers: list = field(default_factory=list, repr=False)
    _explicit: dict = field(default_factory=dict, repr=False)
    _fallback: dict = field(default_factory=dict, repr=False)
    _origins: dict | None = field(default=None, repr=False)

    def add(self, file: str, text: str, prefix: Path_ = ()) -> None:
        """A file's keys, in merge order: later files override the positions of earlier ones."""
        self.texts[file] = text
        self._layers.append((file, text, prefix))
        self._origins = None

    def set_origin(self, path: Path_, location: Location) -> None:
        """A key that came from elsewhere than a file (e.g. ``--set``); wins over every file."""
        self._explicit[tuple(path)] = location
        self._origins = None

    def default_origin(self, path: Path_, location: Location) -> None:
        """Where to point for a key no file wrote (e.g. keys imported from hf_config)."""
        self._fallback[tuple(path)] = location
        self._origins = None

    @property
    def origins(self) -> dict[Path_, Location]:
        """Position of each key path in the merged document."""
        if self._origins is None:
            out: dict[Path_, Location] = dict(self._fallback)
            for file, text, prefix in self._layers:
                for key_path, (line, col) in scan(text).items():
                    out[prefix + key_path] = Location(file, line, col)
            out.update(self._explicit)
            self._origins = out
        return self._origins

    def locate(self, path: Iterable[PathKey]) -> Location:
        """The key itself if it was written, else the nearest enclosing table that was, else the file start."""
        path = tuple(path)
        for k in range(len(path), 0, -1):
            loc = self.origins.get(path[:k])
            if loc is not None:
                return loc
        return Location(self.path, 1, 1)

    def is_set(self, path: Iterable[PathKey]) -> bool:
        """Whether the user wrote this key (as opposed to a default filling it in)."""
        node: object = self.raw
        for key in path:
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
                node = node[key]
            else:
                return False
        return True

    def line_text(self, location: Location) -> str:
        """The source line at a location ("" when unknown)."""
        lines = tomltext.lines(self.texts.get(location.file, ""))
        return lines[location.line - 1] if 0 < location.line <= len(lines) else ""
