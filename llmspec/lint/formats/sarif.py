"""SARIF 2.1.0, as GitHub code scanning reads it (``github/codeql-action/upload-sarif``).

Rules carry shortDescription, fullDescription and help (text and Markdown: the rule's documentation); results
carry ruleId, ruleIndex, level and a physical location with a region (startLine, startColumn). See the OASIS
SARIF 2.1.0 specification and GitHub's "SARIF support for code scanning" page for the properties it reads.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from llmspec._version import __version__
from llmspec.lint.formats.machine import with_fix
from llmspec.lint.redact import redact
from llmspec.textsafe import json_dumps

_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"


def _uri(file: str) -> str:
    """A relative URI reference (RFC 3986) for a file name; bytes that are not UTF-8 (surrogate-escaped by
    os.fsdecode) are percent-encoded as the bytes they are."""
    path = Path(file)
    prefix = ""
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            prefix = "file://"
    return prefix + quote(path.as_posix().replace(os.sep, "/"), safe="/._-~", errors="surrogateescape")


def _rule_entries(result) -> list[dict]:
    from llmspec.lint.docs import rule_markdown
    from llmspec.lint.registry import ENGINE_CODES

    entries = []
    for code, cls in sorted(result.rules.items()):
        summary = cls.summary()
        entries.append({
            "id": code,
            "name": cls.name,
            "shortDescription": {"text": summary},
            "fullDescription": {"text": cls.doc().split("\n\n", 1)[0].replace("\n", " ")},
            "help": {"text": redact(cls.doc()), "markdown": redact(rule_markdown(cls))},
            "defaultConfiguration": {"level": _LEVEL[cls.severity]},
            "properties": _properties(code, cls.severity),
        })
    for code, (name, severity, text) in sorted(ENGINE_CODES.items()):
        entries.append({
            "id": code,
            "name": name,
            "shortDescription": {"text": text},
            "fullDescription": {"text": text},
            "help": {"text": text, "markdown": text},
            "defaultConfiguration": {"level": _LEVEL[severity]},
            "properties": {"tags": [code.rstrip("0123456789")]},
        })
    return entries


# GitHub code scanning ranks security alerts by properties.security-severity (CVSS-like, 0-10).
_SECURITY_SEVERITY = {"error": "8.0", "warning": "5.0", "info": "2.0"}


def _properties(code: str, severity: str) -> dict:
    family = code.rstrip("0123456789")
    props: dict = {"tags": [family] + (["security"] if family == "SEC" else [])}
    if family == "SEC":
        props["security-severity"] = _SECURITY_SEVERITY[severity]
    return props


def sarif(result, *, color: bool = False) -> str:
    rules = _rule_entries(result)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for f in result.findings:
        text = with_fix(f)
        entry = {
            "ruleId": f.code,
            "level": _LEVEL.get(f.severity, "warning"),
            "message": {"text": text},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(f.file), "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": max(1, f.line), "startColumn": max(1, f.col)},
                }
            }],
        }
        if f.code in index:
            entry["ruleIndex"] = index[f.code]
        results.append(entry)
    doc = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "llmspec",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": "https://github.com/llmspec/llmspec",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
    return json_dumps(doc, indent=2, ensure_ascii=False) + "\n"
