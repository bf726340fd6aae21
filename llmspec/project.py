"""A spec in its project: the layer between the spec package and the commands.

The project configuration (``llmspec.toml`` or ``[tool.llmspec]``, see :mod:`llmspec.config`) is resolved here,
once per spec, and handed down as plain data: the spec loader reads no configuration itself, and the catalog
(:mod:`llmspec.catalog`) alone knows what an accelerator entry is. A broken configuration is reported like a
problem of the spec, one ``file:line:col`` line, by every command that reads a spec (check, estimate, report,
diff, eval); never silently ignored.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from llmspec.config import ConfigError, configured_accelerators
from llmspec.spec.loader import load_spec as _load
from llmspec.spec.models import Spec
from llmspec.spec.problems import Problem, SpecError

__all__ = ["load_spec", "project_accelerators"]


def project_accelerators(spec_path: str | os.PathLike) -> Mapping[str, Mapping] | None:
    """The accelerators llmspec.toml / [tool.llmspec] adds for the spec at ``spec_path``. A broken configuration
    raises :class:`SpecError` with one problem at the configuration's file:line:col."""
    text = os.fspath(spec_path)
    if "\x00" in text:  # the loader reports the path itself
        return None
    try:
        return configured_accelerators(Path(text).parent)
    except ConfigError as exc:
        raise SpecError([Problem(exc.file, exc.line, exc.col, "", exc.message, "config")]) from None
    except (OSError, RuntimeError, ValueError):  # a folder that cannot be resolved: the loader says why
        return None


def load_spec(
    path: str | os.PathLike, overrides: Iterable[str] = (), *, accelerators: Mapping[str, Mapping] | None = None
) -> Spec:
    """Load a spec with its project's configuration: :func:`llmspec.spec.loader.load_spec` plus the
    accelerators of the nearest llmspec.toml / [tool.llmspec] (unless ``accelerators`` is given)."""
    if accelerators is None:
        accelerators = project_accelerators(path)
    return _load(path, overrides, accelerators=accelerators)
