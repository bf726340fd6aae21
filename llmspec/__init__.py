"""llmspec: declarative specs, linting, estimates and eval gates for LLM training runs.

Python API::

    import llmspec
    spec = llmspec.load_spec("specs/bot.toml", overrides=["training.epochs=2"])
    numbers = llmspec.estimate(spec)

Importing this package is cheap: it imports neither torch, transformers nor lm_eval.
"""

from __future__ import annotations

from llmspec._version import __version__

__all__ = ["__version__", "load_spec", "estimate", "Spec", "SpecError"]


def __getattr__(name: str):  # lazy, so that `import llmspec` stays fast
    if name == "load_spec":  # with the project configuration (llmspec.toml / [tool.llmspec])
        from llmspec.project import load_spec

        return load_spec
    if name == "SpecError":
        from llmspec.spec.problems import SpecError

        return SpecError
    if name == "Spec":
        from llmspec.spec.models import Spec

        return Spec
    if name == "estimate":
        from llmspec.estimate import estimate

        return estimate
    raise AttributeError(f"module 'llmspec' has no attribute {name!r}")
