"""The built-in metrics' names, directions and output types: one table, importable without numpy.

Lint's EVL005 reads it on a core install (no eval extra), where ``llmspec.eval.metrics`` cannot be imported;
the metric classes in ``llmspec.eval.metrics.builtin`` take these attributes from here.
"""

from __future__ import annotations

from typing import NamedTuple


class BuiltinMetric(NamedTuple):
    higher_is_better: bool
    output_types: tuple[str, ...]
    default: bool
    """Scored for tasks of those output types when the suite lists no ``metrics``."""


BUILTIN_METRICS: dict[str, BuiltinMetric] = {
    "acc": BuiltinMetric(True, ("multiple_choice", "loglikelihood"), True),
    "acc_norm": BuiltinMetric(True, ("multiple_choice",), True),
    "word_perplexity": BuiltinMetric(False, ("loglikelihood_rolling",), True),
    "byte_perplexity": BuiltinMetric(False, ("loglikelihood_rolling",), True),
    "bits_per_byte": BuiltinMetric(False, ("loglikelihood_rolling",), True),
    "token_perplexity": BuiltinMetric(False, ("loglikelihood_rolling",), True),
    "f1": BuiltinMetric(True, ("generate_until",), True),
    # only where a suite asks: over answer positions of multiple choice it means nothing
    "macro_f1": BuiltinMetric(True, ("multiple_choice", "generate_until"), False),
}


def default_metrics(output_type: str) -> list[str]:
    """The built-ins scored for a suite task that lists no ``metrics``: those marked default for its output type."""
    return [name for name, m in BUILTIN_METRICS.items() if m.default and output_type in m.output_types]


def direction(name: str) -> bool | None:
    """higher_is_better of a built-in metric, None for any other name."""
    m = BUILTIN_METRICS.get(name)
    return m.higher_is_better if m else None
