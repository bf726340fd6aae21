"""Text from a spec is data, never markup: the one escaping layer for every document and stream llmspec writes.

- Terminals and line-oriented formats (lint ``full``/``concise``, estimate, check, diff's messages):
  :func:`visible` shows every control character as an escape (``\\r``, ``\\x1b``, ``\\u2028``), so a spec string
  can neither start a new line (and forge a finding) nor send a terminal escape (colours, the window title).
- GitHub workflow commands (lint ``github``): :func:`github_data` / :func:`github_property`.
- CommonMark / GitHub Markdown (report, diff, eval's summary.md and the step summary): :func:`md_text` for
  literal text, :func:`md_code` for a code span. Both fold every line ending to a space (CommonMark ends a line at
  ``\\n``, ``\\r`` and ``\\r\\n``), so the text stays inside its paragraph, list item or table cell.
- HTML: :func:`html_text`; XML (JUnit): :func:`xml_text`; JSON (SARIF, estimate, diff): :func:`json_dumps`,
  strict (no NaN or Infinity) and free of lone surrogates.

Only the standard library, and nothing slow: ``llmspec lint`` imports this on every commit.
"""

from __future__ import annotations

import html
import json
import math
import re
from typing import Any

# -- terminals --------------------------------------------------------------------------------------------------
# C0 (tab excepted: it cannot start a line or a sequence), DEL, C1 (U+0085 NEL among them), the Unicode line and
# paragraph separators, and the bidirectional overrides and isolates ("Trojan Source", CVE-2021-42574), which
# reorder what a terminal shows. Lone surrogates (undecodable file-name bytes) cannot be encoded as UTF-8 at all.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\x1b": "\\x1b", "\x00": "\\x00"}


def _escape_char(match: re.Match) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: Any) -> str:
    """``text`` on one line, every control character shown as an escape: ``"a\\rb"`` -> ``a\\rb`` (a
    backslash and an r). Printable text, tabs and backslashes are unchanged."""
    return _CONTROL.sub(_escape_char, str(text))


# -- GitHub workflow commands -------------------------------------------------------------------------------------
# https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts (escapeData / escapeProperty). Control
# characters are made visible first, so a message is one annotation line whatever the spec holds.
def github_data(text: Any) -> str:
    return visible(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: Any) -> str:
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


# -- CommonMark / GitHub Markdown ------------------------------------------------------------------------------
# Every character that can start inline markup in CommonMark or GitHub's extensions, anywhere in a line: escapes,
# code spans, emphasis, links and images, raw HTML and autolinks, entities, table cells, strikethrough, math,
# headings' closing sequences, e-mail autolinks. A backslash before ASCII punctuation is always a literal (CommonMark 2.4), also
# inside a table cell, where GFM first turns ``\|`` into a ``|`` that is not a cell boundary.
# An underscore between two ASCII letters or digits can neither open nor close emphasis (CommonMark 6.2: it is
# both left- and right-flanking), so names like kb_mc stay as they are.
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>!|~&$#@]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
# GitHub's extended autolinks (www., scheme://) are text-level: escape the character that makes them one.
_AUTOLINK = re.compile(r"(?i)(?<=www)\.|(?<=[a-z0-9])(?=://)")
# Block starts: only the first characters of a block can open a list, a heading, a quote or a thematic break
# (line endings are folded, so nothing else starts a line).
_BLOCK_START = re.compile(r"^([-+=>#]|\d{1,9}(?=[.)]))")
_LINE_BREAKS = re.compile("\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")


def one_line(text: Any) -> str:
    """Every line ending (CommonMark's ``\\n``, ``\\r``, ``\\r\\n``, and Unicode's others) folded to a space,
    tabs to spaces, every other control character made visible."""
    return visible(_LINE_BREAKS.sub(" ", str(text)).replace("\t", " "))


def md_text(text: Any, block_start: bool = False) -> str:
    """``text`` as literal Markdown: it renders as exactly these characters, on the line where it is put, and
    never as markup (no emphasis, link, image, HTML, cell boundary or new block). ``block_start`` when the text
    begins a paragraph, list item or quote: then list markers, headings and indentation are escaped too."""
    out = _MD_SPECIAL.sub(r"\\\1", one_line(text))
    out = _AUTOLINK.sub(lambda m: "\\" if m.group(0) == "" else "\\.", out)
    if block_start:
        out = out.lstrip(" ")
        match = _BLOCK_START.match(out)
        if match:
            end = match.end()
            out = (out[:end] + "\\" + out[end:]) if out[:1].isdigit() else "\\" + out
    return out


def md_code(text: Any, table: bool = False) -> str:
    """``text`` as a CommonMark code span: a backtick fence longer than any run of backticks inside, padded when the
    content starts or ends with a backtick or a space. Inside a GFM table a ``|`` still ends the cell even in a code
    span, so ``table=True`` escapes it (GitHub removes that backslash before it parses the span)."""
    content = one_line(text)
    if table:
        content = content.replace("|", "\\|")
    if not content:
        return "` `"
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * (longest + 1)
    if content.strip(" ") and (content[0] in "` " or content[-1] in "` "):  # all spaces: shown as they are
        content = f" {content} "
    return f"{fence}{content}{fence}"


# -- HTML and XML -------------------------------------------------------------------------------------------------
def html_text(text: Any) -> str:
    """Text for HTML element content or a quoted attribute: ``<>&"'`` as references, on one line, control
    characters visible (most are not allowed in HTML at all)."""
    return html.escape(one_line(text), quote=True)


# XML 1.0 allows tab, LF, CR and U+0020.. except surrogates, U+FFFE and U+FFFF; ElementTree writes the rest as is,
# which makes the document unparseable (https://www.w3.org/TR/xml/#charsets).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: Any) -> str:
    """Text ElementTree can write into a well-formed XML 1.0 document (it escapes markup characters itself):
    characters XML forbids, and CR (which a parser would turn into LF), shown as escapes."""
    return _NOT_XML.sub(_escape_char, str(text)).replace("\r", "\\r")


# -- JSON ---------------------------------------------------------------------------------------------------------
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as None (JSON has no NaN or Infinity: RFC 8259 section 6) and lone
    surrogates in strings as visible escapes (they cannot be written as UTF-8)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _SURROGATE.sub(_escape_char, value)
    if isinstance(value, dict):
        return {json_safe(k) if isinstance(k, str) else k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def non_finite(value: Any, prefix: str = "") -> list[str]:
    """Dotted keys of the non-finite floats in ``value`` (what :func:`json_safe` writes as null), to name them."""
    if isinstance(value, float) and not math.isfinite(value):
        return [prefix or "(value)"]
    if isinstance(value, dict):
        return [k for key, v in value.items() for k in non_finite(v, f"{prefix}.{key}" if prefix else str(key))]
    if isinstance(value, (list, tuple)):
        return [k for i, v in enumerate(value) for k in non_finite(v, f"{prefix}[{i}]")]
    return []


def json_dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`json_safe` ``(value)``, refusing NaN and Infinity should one get through."""
    return json.dumps(json_safe(value), allow_nan=False, **kwargs)
