"""A renderer-neutral document: sections of paragraphs, tables, lists, callouts and charts.

Text uses two inline marks that both renderers understand: ``**bold**`` and ```code```. Everything else is
literal (the HTML renderer escapes it, the Markdown renderer escapes table pipes).
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
