"""Document -> GitHub-flavoured Markdown (renders in a PR comment, a job summary and on github.com).

Callouts use GitHub's alert syntax (``> [!WARNING]``), which other renderers show as a plain quote. GitHub does
not render inline ``<svg>``, so a chart is written as a file beside the report (``assets``) and linked; on stdout
there is no "beside", and the chart is replaced by a note that says how to get it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

from llmspec.report.doc import Bullets, Callout, Chart, Document, Para, Table, plain, spans
from llmspec.textsafe import md_code, md_text

Assets = Callable[[str, str], str]
"""(chart name, svg text) -> relative link to the written file."""

_ALERT = {"ok": "TIP", "warn": "WARNING", "error": "CAUTION"}


def inline(text: str, in_table: bool = False, block_start: bool = False) -> str:
    """Document markup -> Markdown: bold and code marks become Markdown's, every character of the text stays a
    character (llmspec.textsafe). ``block_start`` when the text begins a block (a paragraph, item or quote)."""
    out = []
    for i, span in enumerate(spans(text)):
        if span.code:
            piece = md_code(span.text, table=in_table)
        else:
            piece = md_text(span.text, block_start=block_start and i == 0 and not span.bold)
        out.append(f"**{piece}**" if span.bold and piece.strip() else piece)
    return "".join(out)


def table(t: Table) -> str:
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(inline(c, in_table=True) or " " for c in cells) + " |"

    rule = "|" + "|".join("---:" if a == "r" else ":---" for a in (t.align or [])) + "|"
    return "\n".join([row(t.headers), rule, *(row(r) for r in t.rows)])


def render_markdown(doc: Document, assets: Assets | None = None) -> str:
    out = [f"# {inline(doc.title)}", ""]
    if doc.subtitle:
        out += [inline(doc.subtitle, block_start=True), ""]
    if len(doc.sections) > 2:
        out += [" · ".join(f"[{s.title}](#{_slug(s.title)})" for s in doc.sections), ""]
    for section in doc.sections:
        out += [f"## {inline(section.title)}", ""]
        for block in section.blocks:
            out += [_block(block, assets), ""]
    if doc.footer:
        out += ["---", "", f"<sub>{inline(doc.footer)}</sub>", ""]
    return "\n".join(out).rstrip() + "\n"


def _block(block, assets: Assets | None) -> str:
    if isinstance(block, Para):
        return inline(block.text, block_start=True)
    if isinstance(block, Bullets):
        return "\n".join(f"- {inline(item, block_start=True)}" for item in block.items)
    if isinstance(block, Callout):
        return f"> [!{_ALERT.get(block.kind, 'NOTE')}]\n> {inline(block.text, block_start=True)}"
    if isinstance(block, Table):
        return table(block)
    if isinstance(block, Chart):
        if block.svg is None:
            return f"_{inline(block.note)}_"
        if assets is None:
            return ("_(The chart is not shown on stdout: write the report with `-o report.md` to get "
                    "`report.memory.svg` beside it, or with `-o report.html`.)_")
        return f"![{md_text(plain(block.alt))}]({quote(assets(block.name, block.svg))})"
    raise TypeError(f"unknown block {type(block).__name__}")


def _slug(title: str) -> str:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
