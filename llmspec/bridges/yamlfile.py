"""Read a YAML config keeping positions (PyYAML compose nodes keep marks), and find its real comments.

``read_yaml`` gives each top-level key as an :class:`Entry` with its 1-based ``line:col``; nested keys and list
items keep their own positions in ``Entry.marks`` (``("r",)`` for ``peft_config: {r: 16}``, ``(0, "path")`` for
the first item of ``datasets``), so that every tool's table can point at the key that set a value. ``flatten``
turns nested mappings into dotted entries (``peft_config.r``) for tables that map nested keys.

``comments(text)`` lists the real comments of a YAML text, found with PyYAML's own scanner: a ``#`` inside a
quoted string or a block scalar is text, not a comment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from llmspec.spec.tomltext import ReadError, read_text

MarkPath = tuple[str | int, ...]
_BREAKS = "\n\x85\u2028\u2029"  # PyYAML's line breaks (reader.py), plus "\r" not followed by "\n"


class BridgeError(Exception):
    """One line `file:line:col: what went wrong; how to fix it` (exit 2). An export refusal also names the spec
    ``key`` it cannot express ("training.precision"), so that the command can point at the line that wrote it."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Entry:
    key: str
    value: Any
    line: int
    col: int
    marks: Mapping[MarkPath, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)
    """Positions of the nested keys and list items under this key, relative to it."""
    file: str = ""
    """The file the key is in."""

    def children(self) -> list[Entry]:
        """The keys of a mapping value as entries of their own (``deepspeed: {zero_optimization: ...}``)."""
        if not isinstance(self.value, dict):
            return []
        return [Entry(str(k), v, *self.at(str(k)), {p[1:]: m for p, m in self.marks.items() if p[:1] == (str(k),)
                                                    and len(p) > 1}, self.file) for k, v in self.value.items()]

    def at(self, *path: str | int) -> tuple[int, int]:
        """The position of a nested key (the nearest enclosing one that exists), else of this key."""
        for k in range(len(path), 0, -1):
            if tuple(path[:k]) in self.marks:
                return self.marks[tuple(path[:k])]
        return self.line, self.col


def flatten(entries: list[Entry], is_leaf: Callable[[str], bool] | None = None) -> list[Entry]:
    """Nested mappings as dotted entries at their own positions (``peft_config: {r: 16}`` -> ``peft_config.r``);
    lists and scalars stay whole, and so does a mapping whose dotted key ``is_leaf`` (a tool key whose value is a
    whole dict, such as LitGPT's log.metadata)."""
    out: list[Entry] = []
    for e in entries:
        if isinstance(e.value, dict) and e.value and not (is_leaf is not None and is_leaf(e.key)):
            for key, value in e.value.items():
                line, col = e.marks.get((key,), (e.line, e.col))
                sub = {p[1:]: m for p, m in e.marks.items() if p[:1] == (key,) and len(p) > 1}
                out += flatten([Entry(f"{e.key}.{key}", value, line, col, sub, e.file)], is_leaf)
        else:
            out.append(e)
    return out


class NestedLoader(yaml.SafeLoader):
    """YAML 1.1 reads `lr: 3e-4` (no dot) as text; OmegaConf (torchtune) and jsonargparse (LitGPT) both add this
    float resolver (omegaconf/_utils.py:get_yaml_loader, jsonargparse/_loaders_dumpers.py), so their configs are
    read as they read them."""


NestedLoader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X), list("-+0123456789."))


def read_nested(path: str, is_leaf: Callable[[str], bool]) -> list[Entry]:
    """A nested config (LitGPT, torchtune) as dotted keys, each at its own line:col: `train: {micro_batch_size: 2}`
    is the entry `train.micro_batch_size` at the position of `micro_batch_size` (see :func:`flatten`)."""
    return flatten(parse_yaml(path, read_text_or_fail(path), NestedLoader), is_leaf)


def _where(path: str, mark: Any) -> str:
    return f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else f"{path}:1:1"


_MERGE = "tag:yaml.org,2002:merge"


def _pairs(path: str, node: yaml.MappingNode, constructor: yaml.SafeLoader, prefix: MarkPath) -> list[tuple]:
    """(name, key node, value node) of a mapping, as yaml.safe_load reads it: merge keys (``<<: *base``) merged
    the way PyYAML merges them (the mapping's own keys win); a key written twice in the mapping itself is refused."""
    seen: set[str] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE:
            continue
        key = constructor.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)):
            raise BridgeError(f"{_where(path, key_node.start_mark)}: a key must be text, got {key!r}; quote it")
        name = str(key)
        if name in seen:  # PyYAML keeps the last silently; a guess we refuse
            dotted = ".".join(str(p) for p in (*prefix, name))
            raise BridgeError(f"{_where(path, key_node.start_mark)}: duplicate key {dotted!r}; keep one of them")
        seen.add(name)
    constructor.flatten_mapping(node)
    found: dict[str, tuple] = {}
    for key_node, value_node in node.value:
        name = str(constructor.construct_object(key_node, deep=True))
        found[name] = (name, key_node, value_node)
    return list(found.values())


def _marks(path: str, node: yaml.Node, constructor: yaml.SafeLoader, prefix: MarkPath, out: dict) -> list[tuple]:
    """Record the position of every key and list item under ``node``; refuse duplicate keys at any depth. A key
    merged from an anchor (``<<: *base``) points at where the anchor wrote it. Returns a mapping's pairs."""
    if isinstance(node, yaml.MappingNode):
        pairs = _pairs(path, node, constructor, prefix)
        for name, key_node, value_node in pairs:
            out[(*prefix, name)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _marks(path, value_node, constructor, (*prefix, name), out)
        return pairs
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*prefix, index)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _marks(path, item, constructor, (*prefix, index), out)
    return []


def read_text_or_fail(path: str) -> str:
    try:
        return read_text(path)
    except ReadError as exc:
        raise BridgeError(f"{path}:{exc.line}:{exc.col}: {exc.message}") from None


def compose(path: str, text: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> yaml.Node:
    """The YAML node tree of ``text``; a syntax error is one ``file:line:col`` line."""
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise BridgeError(f"{_where(path, mark)}: YAML syntax error: {exc.problem or exc.context}; fix the YAML") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise BridgeError(f"{path}:1:1: YAML error: {exc}; fix the YAML") from None
    if node is None:
        raise BridgeError(f"{path}:1:1: the file is empty; give a training config (a YAML mapping of keys)")
    if not isinstance(node, yaml.MappingNode):
        raise BridgeError(f"{_where(path, node.start_mark)}: expected a YAML mapping of config keys at the top level")
    if not node.value:
        raise BridgeError(f"{_where(path, node.start_mark)}: the mapping has no keys; give a training config")
    return node


def parse_yaml(path: str, text: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> list[Entry]:
    """The top-level keys of the YAML mapping in ``text``, in file order, each with its nested marks."""
    node = compose(path, text, loader)
    marks: dict[MarkPath, tuple[int, int]] = {}
    constructor = loader(text)
    try:
        entries = []
        for key, key_node, value_node in _marks(path, node, constructor, (), marks):
            value = constructor.construct_object(value_node, deep=True)
            sub = {p[1:]: m for p, m in marks.items() if p[0] == key and len(p) > 1}
            entries.append(Entry(key, value, key_node.start_mark.line + 1, key_node.start_mark.column + 1, sub, path))
    except yaml.MarkedYAMLError as exc:
        raise BridgeError(f"{_where(path, exc.problem_mark)}: YAML error: {exc.problem}; fix the YAML") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise BridgeError(f"{path}:1:1: YAML error: {exc}; fix the YAML") from None
    finally:
        constructor.dispose()
    return sorted(entries, key=lambda e: (e.line, e.col))  # merged keys (`<<: *base`) where the anchor wrote them


def read_yaml(path: str) -> list[Entry]:
    """The top-level keys of the YAML mapping in ``path``, in file order, with 1-based line:col."""
    return parse_yaml(path, read_text_or_fail(path))


def lines(text: str) -> list[str]:
    """The lines of a YAML text as PyYAML counts them (for showing the line of a finding)."""
    return re.split("\r\n|[\r" + _BREAKS + "]", text)


def position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, col) of a character index, counting lines as PyYAML does."""
    line, start, i = 1, 0, 0
    while i < index:
        ch = text[i]
        if ch in _BREAKS or (ch == "\r" and text[i + 1 : i + 2] != "\n"):
            line, start = line + 1, i + 1
        i += 1
    return line, index - start + 1


def comments(text: str) -> list[tuple[int, str]]:
    """(index, text) of each real comment: a ``#`` outside every token PyYAML's scanner reads, at the start of a
    line or after a space. A text PyYAML cannot scan has no comments (its syntax error cannot be suppressed)."""
    if "#" not in text:
        return []
    spans: list[tuple[int, int]] = []
    try:
        for _event in yaml.parse(text, Loader=yaml.SafeLoader):  # the whole text parses (not only scans)
            pass
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            start, end = token.start_mark.index, token.end_mark.index
            if isinstance(token, yaml.ScalarToken) and token.style in ("|", ">"):
                # a block scalar's header line (`key: | # comment`) may end in a comment: its text starts below
                start = min((j for j in (text.find(b, start) for b in "\r" + _BREAKS) if j >= 0), default=end)
            if end > start:
                spans.append((start, end))
    except (yaml.YAMLError, RecursionError):
        return []
    spans.sort()
    out: list[tuple[int, str]] = []
    i, k, n = 0, 0, len(text)
    while i < n:
        while k < len(spans) and spans[k][1] <= i:
            k += 1
        if k < len(spans) and spans[k][0] <= i:
            i = spans[k][1]
            continue
        if text[i] == "#" and (i == 0 or text[i - 1] in " \t\r" + _BREAKS):
            end = min((j for j in (text.find(b, i) for b in "\r" + _BREAKS) if j >= 0), default=n)
            out.append((i, text[i:end]))
            i = end
            continue
        i += 1
    return out
