"""Human formats: ``full`` (ruff-like, with the source line and a caret; the default) and ``concise``.

Every text that comes from a spec or a file name goes through llmspec.textsafe.visible: a control character in it
is shown as an escape, so it cannot start a line of its own (a forged finding) or drive the terminal."""

from __future__ import annotations

import os
import re
from functools import lru_cache

from llmspec.lint.redact import redact
from llmspec.spec import tomltext
from llmspec.textsafe import visible

_COLORS = {"error": "red", "warning": "yellow", "info": "blue"}
_TOKEN = re.compile(r"""[A-Za-z0-9_\-."']+""")


def _lines(file: str) -> tuple[str, ...]:
    try:
        stat = os.stat(file)
    except (OSError, ValueError):
        return ()
    return _read(os.path.abspath(file), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=128)
def _read(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    """The file's lines; keyed on where it is and when it changed, not on the name a finding gives."""
    try:  # bounded and non-blocking (a finding may be about a FIFO); lines as TOML counts them, as findings do
        text = tomltext.read_text(path)
    except tomltext.ReadError:
        return ()
    if path.lower().endswith((".yaml", ".yml")):  # a training config of another tool: lines as PyYAML counts them
        from llmspec.bridges.yamlfile import lines

        return tuple(lines(text))
    return tuple(tomltext.lines(text))


def source_line(file: str, line: int) -> str:
    """The (redacted) source line, "" when it cannot be read."""
    lines = _lines(file)
    return redact(lines[line - 1]) if 0 < line <= len(lines) else ""


def _style(text: str, color: bool, **kw) -> str:
    if not color:
        return text
    import click

    return click.style(text, **kw)


def _head(f, color: bool) -> str:
    where = _style(f"{visible(f.file)}:{f.line}:{f.col}:", color, bold=True)
    code = _style(visible(f.code), color, fg=_COLORS.get(f.severity), bold=True)
    return f"{where} {code} [{f.severity}] {visible(f.message)}"


def summary(result, color: bool = False) -> str:
    n = len(result.files)
    specs = f"{n} spec{'s' if n != 1 else ''}"
    bad = len(getattr(result, "errors", ()))
    unread = f"{bad} file{'s' if bad != 1 else ''} could not be read (see stderr)" if bad else ""
    if not result.findings and unread:  # nothing found in what could be read is no pass for what could not
        return _style(f"Not all checked: {unread}; no findings in {specs}.", color, fg="red")
    if not result.findings and not n:  # nothing was linted: no verdict, so never "passed"
        return _style("Nothing checked (0 specs).", color, fg="yellow")
    if not result.findings:
        return _style(f"All checks passed ({specs}).", color, fg="green")
    parts = []
    for severity in ("error", "warning", "info"):
        k = result.count(severity)
        if k:
            parts.append(f"{k} {severity}{'s' if k != 1 and severity != 'info' else ''}")
    found = f"Found {len(result.findings)} finding{'s' if len(result.findings) != 1 else ''} ({', '.join(parts)}) in {specs}"
    return f"{found}; {unread}." if unread else f"{found}."


def full(result, *, color: bool = False) -> str:
    out = []
    for f in result.findings:
        out.append(_head(f, color))
        text = source_line(f.file, f.line)
        if text:
            number = str(f.line)
            pad = " " * len(number)
            col = max(1, min(f.col, len(text) + 1))
            lead = "".join(ch if ch == "\t" else " " for ch in visible(text[: col - 1]))
            token = _TOKEN.match(text, col - 1)
            caret = "^" * max(1, len(token.group(0)) if token else 1)
            gutter = _style("|", color, fg="blue")
            out.append(f"{pad} {gutter}")
            out.append(f"{_style(number, color, fg='blue')} {gutter} {visible(text)}")
            out.append(f"{pad} {gutter} {lead}{_style(caret + ' ' + f.code, color, fg=_COLORS.get(f.severity))}")
            out.append(f"{pad} {gutter}")
        if f.fix:
            out.append(f"  = fix: {visible(f.fix)}")
        out.append("")
    out.append(summary(result, color))
    return "\n".join(out) + "\n"


def concise(result, *, color: bool = False) -> str:
    lines = [_head(f, color) for f in result.findings]
    lines.append(summary(result, color))
    return "\n".join(lines) + "\n"


def statistics_text(result, *, color: bool = False) -> str:
    from llmspec.lint.formats import statistics

    rows = statistics(result)
    if not rows:
        return summary(result, color) + "\n"
    width = max(len(str(r[3])) for r in rows)
    out = [f"{str(count).rjust(width)}  {code}  [{severity}] {name}" for code, name, severity, count in rows]
    out.append(summary(result, color))
    return "\n".join(out) + "\n"
