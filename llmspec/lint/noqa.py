"""Suppression comments.

- ``# llmspec: noqa: MEM001, OVF004`` at the end of a line suppresses those codes on that line;
- ``# llmspec: noqa`` (no codes) suppresses every finding on that line;
- ``# llmspec: noqa-file: SEC002`` anywhere in a file (usually at the top, on a line of its own) suppresses
  that code in the whole file; ``# llmspec: noqa-file`` alone suppresses everything in the file.

The same comments work in the YAML training configs lint reads (llmspec.bridges.lintfile); only real YAML
comments count there too.

Codes are full codes (a family prefix and three digits); text after them is a free-form reason:
``# llmspec: noqa: SEC001 revision pinned and reviewed``.

A suppression that suppresses nothing is reported as LNT001 (so stale ones get cleaned up), and a code that is
no rule's code as LNT002. Both can be switched off like any rule (``ignore = ["LNT001"]``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field

from llmspec.lint.discover import is_yaml
from llmspec.spec import tomltext

_NOQA = re.compile(
    # [ \t], not \s: a suppression never continues onto the next line
    r"#[ \t]*llmspec[ \t]*:[ \t]*(?P<kind>noqa-file|noqa)(?![-\w])"
    r"(?:[ \t]*(?P<colon>:)[ \t]*(?P<codes>[A-Za-z]{2,6}[0-9]{3}\b(?:[ \t,]+[A-Za-z]{2,6}[0-9]{3}\b)*)?)?",
    re.IGNORECASE,
)


@dataclass
class Suppression:
    file: str
    line: int
    col: int
    codes: frozenset[str] | None
    """Codes suppressed; None: all."""
    whole_file: bool
    used: set[str] = field(default_factory=set)

    def covers(self, code: str) -> bool:
        return self.codes is None or code in self.codes


def parse(file: str, text: str) -> list[Suppression]:
    """Every suppression comment in one file's text.

    Only real TOML comments count: the same words inside a string (a description quoting a noqa comment) are
    text, not a suppression. Lines are counted as TOML counts them (LF / CRLF only), so a U+2028 in a comment
    cannot move a suppression onto the next line. A file that is not valid TOML has no suppressions (its
    SPC001 finding cannot be hidden)."""
    if "llmspec" not in text:
        return []
    if is_yaml(file):
        return _parse_yaml(file, text)
    try:
        parsed = tomllib.loads(text, parse_float=str)
    except (tomllib.TOMLDecodeError, RecursionError):
        return []
    found = []
    for match in _NOQA.finditer(text):
        if not tomltext.in_comment(text, match.start(), parsed):
            continue
        found.append(_suppression(file, match, *tomltext.position(text, match.start())))
    return found


def _suppression(file: str, match: re.Match[str], line: int, col: int) -> Suppression:
    codes = match.group("codes")
    if codes:
        parsed_codes: frozenset[str] | None = frozenset(c.upper() for c in re.split(r"[ \t,]+", codes) if c)
    else:  # "noqa:" followed by no valid code suppresses nothing (never everything, by accident)
        parsed_codes = frozenset() if match.group("colon") else None
    return Suppression(file, line, col, parsed_codes, match.group("kind").lower() == "noqa-file")


def _parse_yaml(file: str, text: str) -> list[Suppression]:
    """Suppressions in the real comments of a YAML training config (PyYAML's scanner tells them from strings)."""
    from llmspec.bridges.yamlfile import comments, position

    return [_suppression(file, match, *position(text, start + match.start()))
            for start, comment in comments(text) for match in _NOQA.finditer(comment)]


def apply(findings: Iterable, suppressions: list[Suppression]) -> list:
    """The findings no suppression covers; marks each suppression with the codes it was used for."""
    by_line: dict[tuple[str, int], list[Suppression]] = {}
    whole: dict[str, list[Suppression]] = {}
    for s in suppressions:
        (whole.setdefault(s.file, []) if s.whole_file else by_line.setdefault((s.file, s.line), [])).append(s)
    kept = []
    for f in findings:
        hit = False
        for s in by_line.get((f.file, f.line), []) + whole.get(f.file, []):
            if s.covers(f.code):
                s.used.add(f.code)
                hit = True
        if not hit:
            kept.append(f)
    return kept


def unused(suppressions: list[Suppression], known: set[str], enabled: set[str]):
    """(suppression, code or None, problem) for each code that suppressed nothing: problem is "unused" or
    "unknown". Codes of rules that did not run (not selected, or ignored) are left alone."""
    for s in suppressions:
        if s.codes is not None and not s.codes:
            yield s, None, "unknown"
            continue
        if s.codes is None:
            if not s.used:
                yield s, None, "unused"
            continue
        for code in sorted(s.codes):
            if code not in known:
                yield s, code, "unknown"
            elif code in enabled and code not in s.used:
                yield s, code, "unused"
