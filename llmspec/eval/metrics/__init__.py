"""Metric plugins: the public API (``Metric``, ``load_metrics``, ``score``, ``doc_hash``) and the built-ins."""

from llmspec.eval.metrics.api import (
    ENTRY_POINT_GROUP,
    Metric,
    MetricError,
    MetricValue,
    PluginWarning,
    doc_hash,
    load_metrics,
    score,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Metric",
    "MetricError",
    "MetricValue",
    "PluginWarning",
    "doc_hash",
    "load_metrics",
    "score",
]
