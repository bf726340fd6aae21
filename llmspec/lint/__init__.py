"""The linter: coded rules over specs (``llmspec lint``).

Public API for plugins and tools::

    from llmspec.lint import Rule, Finding, Context      # write a rule
    from llmspec.lint import lint_paths, Options         # run the linter

This package never imports torch, transformers or lm_eval.
"""

from __future__ import annotations

from llmspec.lint.rule import Context, Finding, Rule

__all__ = ["Rule", "Finding", "Context", "lint_paths", "Options", "LintResult"]


def __getattr__(name: str):
    if name in ("lint_paths", "Options", "LintResult", "LintUsageError"):
        from llmspec.lint import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'llmspec.lint' has no attribute {name!r}")
