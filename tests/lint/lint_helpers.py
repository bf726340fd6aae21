"""Helpers for the lint tests: write a spec (fragments are completed with a minimal model) and lint it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from llmspec.lint.docs import wrap_example
from llmspec.lint.engine import Options, lint_paths
from llmspec.lint.registry import ENGINE_CODES, builtin_rules

# Every built-in family and the engine's codes: tests that compare exact findings use this selection, so that
# an installed rule plugin (e.g. plugins/llmspec-policy) does not add its findings to theirs.
BUILTIN = sorted({c.code.rstrip("0123456789") for c in builtin_rules()} | {c[:3] for c in ENGINE_CODES})


def write_spec(folder: Path, toml: str, name: str = "spec.toml") -> Path:
    path = folder / name
    path.write_text(wrap_example(toml), encoding="utf-8")
    return path


def lint_spec(folder: Path, toml: str, select: Sequence[str] | None = None, overrides: Sequence[str] = (),
              data: bool = False, config: Path | None = None):
    path = write_spec(folder, toml)
    options = Options(select=list(select) if select else BUILTIN, overrides=list(overrides), data=data, config=config)
    return lint_paths([str(path)], options)


def positions(result, code: str | None = None) -> list[str]:
    return [f"{f.line}:{f.col} {f.code}" for f in result.findings if code is None or f.code == code]
