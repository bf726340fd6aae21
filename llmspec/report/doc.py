"""A renderer-neutral document: sections of paragraphs, tables, lists, callouts and charts.

Text is a small markup of its own that both renderers understand: ``**bold**``, ```code``` and ``\\x`` for a
literal x. Everything else is literal, and each renderer escapes every piece for its target (llmspec.textsafe), so
no text can become Markdown or HTML markup. Text from a spec goes in through :func:`lit` (plain) or :func:`code`,
so that its backticks and asterisks stay characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_MARK = re.compile(r"([\\`*])")


def lit(value: Any) -> str:
    """A value shown as plain text, whatever characters it holds."""
    return _MARK.sub(r"\\\1", str(value))


def code(value: Any) -> str:
    """A value shown as code."""
    return "`" + _MARK.sub(r"\\\1", str(value)) + "`"


@dataclass(frozen=True)
class Span:
    text: str
    bold: bool = False
    code: bool = False


def spans(text: str) -> list[Span]:
    """Parse the document markup into runs of plain, bold and code text (an unclosed mark runs to the end)."""
    out: list[Span] = []
    buf: list[str] = []
    bold = in_code = False

    def flush() -> None:
        if buf:
            out.append(Span("".join(buf), bold, in_code))
            buf.clear()

    i, text = 0, str(text)
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            buf.append(text[i + 1])
            i += 2
            continue
        if ch == "`":
            flush()
            in_code = not in_code
        elif ch == "*" and not in_code and text.startswith("**", i):
            flush()
            bold = not bold
            i += 1
        else:
            buf.append(ch)
        i += 1
    flush()
    return out


def plain(text: str) -> str:
    """The characters a reader sees, without marks (for an HTML <title> or an alt text)."""
    return "".join(s.text for s in spans(text))


@dataclass
class Para:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Callout:
    """A highlighted line: ``kind`` is "ok", "warn" or "error" (the verdict, a failed gate)."""

    kind: str
    text: str


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    align: list[str] | None = None
    """Per column "l" or "r"; numbers are right-aligned."""

    def __post_init__(self) -> None:
        width = len(self.headers)
        for row in self.rows:
            if len(row) != width:
                raise ValueError(f"table row has {len(row)} cells, header has {width}: {row!r}")
        if self.align is None:
            self.align = ["l"] + ["r"] * (width - 1)


@dataclass
class Chart:
    """An SVG chart. ``svg`` is None when it cannot be drawn; ``note`` then says why and how to get it."""

    name: str
    """Short file-safe name; Markdown writes it beside the report as ``<stem>.<name>.svg``."""
    alt: str
    svg: str | None = None
    note: str = ""


Block = Para | Bullets | Callout | Table | Chart


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    anchor: str = ""

    def add(self, *blocks: Block) -> Section:
        self.blocks.extend(blocks)
        return self


@dataclass
class Document:
    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)
    footer: str = ""

    def section(self, anchor: str) -> Section | None:
        return next((s for s in self.sections if s.anchor == anchor), None)
