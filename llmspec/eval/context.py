"""The typed context of one real eval run: everything runner.run resolved before execute.execute starts."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmspec.eval.modelref import ModelRef
    from llmspec.eval.runner import EvalOptions
    from llmspec.eval.suite import Suite
    from llmspec.spec.models import Spec


@dataclass
class RunContext:
    spec: Spec
    opts: EvalOptions
    suites: list[Suite]
    metrics: dict[str, Any]
    """Metric plugins by name (llmspec.eval.metrics.load_metrics)."""
    model: ModelRef
    adapter: str | None
    trust_remote_code: bool
    gpu_memory: int | None
    include: list[str]
    """Folders of the suites' local task YAMLs (lm-eval's include_path)."""
    needs_builtin: bool
    """Some task is one of lm-eval's built-in tasks (index them too)."""
    baseline: dict | None
    spec_hash: str
    versions: dict[str, str | None]
    deadline: Callable[[float | None], AbstractContextManager[None]]
    timeout_exc: type[BaseException]
    skip_gates: frozenset[str] = field(default_factory=frozenset)
    """Gate metrics the user chose to skip when they cannot be evaluated (--skip-gate)."""
