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


_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every GitHub table in ``text`` as rows of cells; asserts the GFM structure on the way: a header row, a
    delimiter row of ---/:--/--: cells, and the same number of cells in every row."""
    tables, block = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if block:
            rows = [[c.strip() for c in _CELL_SPLIT.split(row.strip())[1:-1]] for row in block]
            assert len(rows) >= 2, f"table without a delimiter row: {block}"
            assert all(re.fullmatch(r":?-{3,}:?", c) for c in rows[1]), f"bad delimiter row: {block[1]}"
            widths = {len(r) for r in rows}
            assert len(widths) == 1, f"rows of different widths {widths} in table:\n" + "\n".join(block)
            tables.append([rows[0], *rows[2:]])
            block = []
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
