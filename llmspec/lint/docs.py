"""Rule documentation: docstrings -> sections, TOML examples, ``llmspec rule CODE`` text and docs/rules.md.

A rule docstring is plain text with sections. The first line is the summary; then what the rule checks; then
sections introduced by a line of their own: ``Why:`` (evidence and sources), ``Thresholds:`` (optional),
``Bad:`` and ``Good:`` (each one or more fenced ```` ```toml ```` blocks). A Bad or Good example is either a
complete spec or a fragment that the tests wrap into a minimal valid spec (:func:`wrap_example`).

Regenerate the reference with ``llmspec rules --format markdown > docs/rules.md`` (a test checks it is current).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SECTIONS = ("Why", "Thresholds", "Bad", "Good", "Fix")
_SECTION = re.compile(r"^({}):\s*$".format("|".join(SECTIONS)))
_FENCE = re.compile(r"```toml\n(.*?)```", re.S)

# The minimal spec fragments are wrapped into: Llama-2-7B's architecture (meta-llama/Llama-2-7b-hf config.json).
MINIMAL_MODEL = """[model]
name = "example"
"""
MINIMAL_ARCHITECTURE = """[model.architecture]
n_layers = 32
d_model = 4096
n_heads = 32
ffn_dim = 11008
vocab_size = 32000
context_length = 4096
"""


def sections(doc: str) -> dict[str, str]:
    """{"summary", "body", "Why", "Thresholds", "Bad", "Good", ...} from a cleaned docstring."""
    lines = doc.splitlines()
    out: dict[str, list[str]] = {"summary": lines[:1], "body": []}
    current = "body"
    for line in lines[1:]:
        match = _SECTION.match(line)
        if match:
            current = match.group(1)
            out.setdefault(current, [])
            continue
        out.setdefault(current, []).append(line)
    return {key: "\n".join(value).strip() for key, value in out.items()}


def examples(doc: str, kind: str) -> list[str]:
    """The ```toml blocks of the Bad or Good section."""
    return [block for block in _FENCE.findall(sections(doc).get(kind, ""))]


def wrap_example(toml: str) -> str:
    """A complete spec: the example, followed by a minimal [model] / [model.architecture] when it has none.

    The additions go after the example, so line:col positions inside the example are unchanged."""
    if re.search(r"^\s*extends\s*=", toml, re.M):
        return toml
    has_model = re.search(r"^\s*\[model\]", toml, re.M)
    has_arch = re.search(r"^\s*\[model\.architecture\]", toml, re.M) or re.search(r"^\s*hf_config\s*=", toml, re.M)
    out = toml if toml.endswith("\n") or not toml else toml + "\n"
    if not has_model:
        out += "\n" + MINIMAL_MODEL
    if not has_arch:
        out += "\n" + MINIMAL_ARCHITECTURE
    return out


def thresholds_text(cls) -> str:
    if not cls.thresholds:
        return ""
    rows = [f"  {key} = {value!r}" for key, value in cls.thresholds.items()]
    return "\n".join(rows)


def rule_text(cls) -> str:
    """What `llmspec rule CODE` prints."""
    doc = cls.doc()
    out = [f"{cls.code} ({cls.name}) [{cls.severity}]", "", doc]
    if cls.thresholds:
        out += ["", f"Configurable thresholds (defaults), under [tool.llmspec.thresholds.{cls.code}]:",
                thresholds_text(cls)]
    if cls.opt_in:
        out += ["", f"Opt-in: runs only with `llmspec lint --{cls.opt_in}`."]
    return "\n".join(out).rstrip() + "\n"


def rule_markdown(cls, level: int = 2) -> str:
    parts = sections(cls.doc())
    hashes = "#" * level
    out = [f"{hashes} {cls.code} `{cls.name}`", "", f"*Default severity: {cls.severity}.*"
           + (f" *Opt-in: `llmspec lint --{cls.opt_in}`.*" if cls.opt_in else ""), "", parts["summary"]]
    if parts.get("body"):
        out += ["", parts["body"]]
    for name in SECTIONS:
        if parts.get(name):
            out += ["", f"**{name}**", "", parts[name]]
    if cls.thresholds:
        out += ["", f"Thresholds (`[tool.llmspec.thresholds.{cls.code}]`): "
                + ", ".join(f"`{k} = {v!r}`" for k, v in cls.thresholds.items()) + "."]
    return "\n".join(out).rstrip() + "\n"


FAMILIES = {
    "ARC": "Architecture consistency",
    "CTX": "Context window",
    "SMP": "Sampling",
    "OVF": "Overfitting and under-training",
    "MEM": "Memory",
    "BUD": "Budget",
    "HW": "Hardware",
    "SEC": "Security",
    "EVL": "Eval configuration",
}


def reference_markdown(rules: Iterable) -> str:
    """docs/rules.md: every built-in rule's documentation, by family."""
    from llmspec.lint.registry import ENGINE_CODES

    rules = list(rules)
    out = ["# Rule reference", "",
           "Generated from the rule docstrings by `llmspec rules --format markdown`; do not edit by hand.",
           "`llmspec rule CODE` prints the same text in the terminal.", "",
           "| code | name | severity | summary |", "|---|---|---|---|"]
    for r in rules:
        summary = r.summary().replace("|", "\\|")
        out.append(f"| [{r.code}](#{r.code.lower()}-{r.name}) | `{r.name}` | {r.severity} | {summary} |")
    out.append("")
    for prefix, title in FAMILIES.items():
        members = [r for r in rules if r.code.rstrip("0123456789") == prefix]
        if not members:
            continue
        out += [f"## {title} ({prefix})", ""]
        out += [rule_markdown(r, level=3) for r in members]
    out += ["## Engine codes", "", "| code | name | severity | meaning |", "|---|---|---|---|"]
    for code, (name, severity, text) in sorted(ENGINE_CODES.items()):
        out.append(f"| {code} | `{name}` | {severity} | {text} |")
    return "\n".join(out).rstrip() + "\n"
