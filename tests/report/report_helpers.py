"""Helpers of the report tests: a Markdown structure checker, an HTML collector and the in-process CLI runner.
(Named report_helpers, not helpers: tests/lint has a helpers module and both folders are on sys.path.)"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.toml"))  # top level: the specs; base/ holds bases


def run_cli(*args: str, cwd: Path | None = None):
    """Invoke the real click group in-process; returns click's Result (exit_code, stdout, stderr)."""
    from llmspec.cli import cli

    runner = CliRunner()
    if cwd is None:
        return runner.invoke(cli, list(args), catch_exceptions=False)
    import os

    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def gfm():
    """A Markdown renderer configured like GitHub's: markdown-it-py's CommonMark core with the GFM plugin of
    mdit-py-plugins (tables, strikethrough, autolinks, footnotes, task lists, alerts) and dollar math. The plain
    CommonMark preset renders neither tables nor alerts, so a forged table cell or alert would pass it unseen."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.gfm import gfm_plugin

    return MarkdownIt("commonmark").use(gfm_plugin, dollarmath=True)


def inline_text(token) -> str:
    """What an inline token shows, with its marks written back canonically: **bold**, _em_, `code`, ~~del~~;
    raw HTML, links and images as <html:...>, <link:...>, <img:...> so that a test sees them."""
    marks = {"strong_open": "**", "strong_close": "**", "em_open": "_", "em_close": "_", "s_open": "~~",
             "s_close": "~~", "softbreak": " ", "hardbreak": " "}
    out = []
    for child in token.children or ():
        if child.type == "text":
            out.append(child.content)
        elif child.type == "code_inline":
            out.append(f"`{child.content}`")
        elif child.type in marks:
            out.append(marks[child.type])
        elif child.type == "html_inline":
            out.append(f"<html:{child.content}>")
        elif child.type == "link_open":
            out.append(f"<link:{child.attrGet('href')}>")
        elif child.type == "image":
            out.append(f"<img:{child.attrGet('src')}>")
        elif child.type not in ("link_close",):
            out.append(f"<{child.type}>")
    return "".join(out)


def markdown_lines(text: str) -> list[str]:
    """Each paragraph, heading, list item and cell GitHub would render from ``text``, as :func:`inline_text`."""
    return [inline_text(t) for t in gfm().parse(text) if t.type == "inline"]


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every table GitHub would render from ``text``, as rows of cells (header row first, no delimiter row); each
    cell as :func:`inline_text` shows it."""
    tables: list[list[list[str]]] = []
    row: list[str] | None = None
    for token in gfm().parse(text):
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append(inline_text(token).strip())
        elif token.type == "tr_close" and row is not None:
            tables[-1].append(row)
            row = None
    for table in tables:
        assert len({len(r) for r in table}) == 1, f"rows of different widths: {table}"
    return tables


def markdown_headings(text: str) -> list[str]:
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            out.append(line)
    return out


class HtmlCollector(HTMLParser):
    """Collects tables (rows of cell texts), svg elements, section ids and external references."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.svgs = 0
        self.sections: list[str] = []
        self.external: list[str] = []
        self.scripts = 0
        self._stack: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "svg":
            self.svgs += 1
        elif tag == "section":
            self.sections.append(attrs.get("id", ""))
        elif tag == "script":
            self.scripts += 1
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            if re.match(r"(https?:)?//", value):
                self.external.append(value)
        if tag == "link":
            self.external.append(attrs.get("href", ""))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse_html(text: str) -> HtmlCollector:
    parser = HtmlCollector()
    parser.feed(text)
    parser.close()
    return parser
