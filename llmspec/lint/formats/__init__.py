"""Output formats of ``llmspec lint``: name -> renderer, imported only when chosen.

Each renderer is ``render(result: LintResult, *, color: bool = False) -> str``.
"""

from __future__ import annotations

import importlib

FORMATS = {
    "full": "llmspec.lint.formats.text:full",
    "concise": "llmspec.lint.formats.text:concise",
    "json": "llmspec.lint.formats.machine:json_format",
    "github": "llmspec.lint.formats.machine:github",
    "junit": "llmspec.lint.formats.machine:junit",
    "sarif": "llmspec.lint.formats.sarif:sarif",
}


def renderer(name: str):
    module, attr = FORMATS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def statistics(result) -> list[tuple[str, str, str, int]]:
    """(code, name, severity, count) per code, most frequent first."""
    counts: dict[str, list] = {}
    for f in result.findings:
        row = counts.setdefault(f.code, [f.code, f.name, f.severity, 0])
        row[3] += 1
    return sorted((tuple(r) for r in counts.values()), key=lambda r: (-r[3], r[0]))
