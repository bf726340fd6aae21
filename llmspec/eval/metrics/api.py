"""The public metric plugin API: ``Metric``, ``load_metrics``, ``score`` and ``doc_hash``.

A metric turns one lm-eval per-sample record (``simple_evaluate(..., log_samples=True)["samples"][task][i]``,
or a line of lm-eval's ``samples_*.jsonl``) into a per-sample value, and a list of those values into the
corpus-level figure. Built-ins (acc, acc_norm, f1, macro_f1, word_perplexity, byte_perplexity, bits_per_byte,
token_perplexity) and third-party plugins register through the same entry-point group, ``llmspec.metrics``::

    [project.entry-points."llmspec.metrics"]
    answer_length = "my_package.metrics:AnswerLength"

The entry point names a class (instantiated with no arguments), an instance, or a zero-argument factory.
Per-sample values must survive a JSON round trip (tuples come back as lists): ``aggregate`` gets them either way.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from llmspec.eval.metrics.bootstrap import percentile_interval, resampled_stats

ENTRY_POINT_GROUP = "llmspec.metrics"


class MetricError(ValueError):
    """A record lacks what a metric needs (one line, names the metric and the key)."""


class PluginWarning(UserWarning):
    """A metric plugin could not be loaded and was skipped."""


class Metric:
    """Base class for metrics; plugins may subclass it or just provide the same attributes.

    Attributes:
        name: registry name, e.g. "acc" (the entry-point name is the key ``load_metrics`` uses).
        higher_is_better: direction, used by gates.
        proportion: per-sample values are 0/1 and ``aggregate`` is their mean; gates then use an interval for
            paired proportions instead of the bootstrap.
        mean: per-sample values are numbers and ``aggregate`` is their mean; baseline gates in points then use
            the paired t-test instead of the bootstrap.
        output_types: lm-eval output types this metric reads (empty: any).
        default: scored for tasks of those output types when the suite lists no ``metrics`` (built-ins only).
    """

    name: str = ""
    higher_is_better: bool = True
    proportion: bool = False
    mean: bool = False
    default: bool = False
    output_types: tuple[str, ...] = ()
    description: str = ""

    def per_sample(self, sample: dict) -> object:
        raise NotImplementedError

    def aggregate(self, values: list) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<metric {self.name}>"


@dataclass
class MetricValue:
    """A scored metric: the corpus value, a two-sided interval, n and the per-sample values by doc hash."""

    value: float
    ci_low: float | None
    ci_high: float | None
    n: int
    per_sample: dict[str, Any] = field(default_factory=dict)
    higher_is_better: bool = True
    ci_method: str = "bootstrap-percentile"
    confidence: float = 0.95

    def to_json(self) -> dict:
        """The ``MetricResult`` dict of results.json (see llmspec.eval.results_schema)."""
        return {
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "n": self.n,
            "higher_is_better": self.higher_is_better,
            "ci_method": self.ci_method,
            "confidence": self.confidence,
            "per_sample": {k: _jsonable(v) for k, v in self.per_sample.items()},
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (list, dict, str)):  # numpy scalar
        return v.item()
    return v


def doc_hash(sample: dict) -> str:
    """Stable SHA-256 of the document and its target: pairs a candidate's samples with a baseline's.

    Canonical JSON (sorted keys, UTF-8) so the hash does not depend on dict order or on a JSON round trip.
    Records without ``doc`` (already reduced) fall back to lm-eval's own ``doc_hash`` + ``target_hash``.
    """
    if "doc" in sample:
        payload = json.dumps(
            {"doc": sample["doc"], "target": sample.get("target")},
            sort_keys=True,
            ensure_ascii=False,
            default=str,
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()
    if "doc_hash" in sample:
        return hashlib.sha256(f"{sample['doc_hash']}:{sample.get('target_hash', '')}".encode()).hexdigest()
    raise MetricError("sample has neither 'doc' nor 'doc_hash': not an lm-eval per-sample record")


def keyed_values(metric: Any, samples: Sequence[dict]) -> dict[str, Any]:
    """doc_hash -> per-sample value, in doc_id order; the k-th repeat of an identical document gets '#k'."""
    ordered = sorted(samples, key=lambda s: s.get("doc_id", 0)) if all("doc_id" in s for s in samples) else samples
    out: dict[str, Any] = {}
    for sample in ordered:
        key = base = doc_hash(sample)
        k = 1
        while key in out:
            key = f"{base}#{k}"
            k += 1
        out[key] = metric.per_sample(sample)
    return out


def select_filter(samples: Sequence[dict], filter_key: str | None = None) -> list[dict]:
    """The records of one lm-eval filter (see ``score``)."""
    seen = list(dict.fromkeys(s.get("filter", "none") for s in samples))
    if filter_key is None:
        if len(seen) <= 1:
            return list(samples)
        filter_key = "none" if "none" in seen else seen[0]
    return [s for s in samples if s.get("filter", "none") == filter_key]


def score(
    metric: Any,
    samples: Sequence[dict],
    *,
    seed: int = 0,
    n_boot: int = 1000,
    confidence: float = 0.95,
    filter_key: str | None = None,
) -> MetricValue:
    """Score ``samples`` (one task's lm-eval per-sample records) with ``metric``.

    The interval is a seeded percentile bootstrap over documents (Efron & Tibshirani 1993, "An Introduction to
    the Bootstrap", ch. 13): resample documents with replacement, recompute the corpus aggregate. For corpus
    metrics such as word perplexity (a ratio of sums) that is the right unit of resampling; lm-eval reports
    "N/A" as their stderr.

    A task with several lm-eval filters logs one record per document and filter: only the records of
    ``filter_key`` are scored (default: "none" when present, else the first filter seen).
    """
    samples = select_filter(samples, filter_key)
    if not samples:
        raise MetricError(f"metric {getattr(metric, 'name', metric)!r}: no samples to score")
    per_sample = keyed_values(metric, samples)
    values = list(per_sample.values())
    value = float(metric.aggregate(values))
    lo = hi = None
    if len(values) >= 2 and n_boot > 0:
        stats = resampled_stats(metric, [values], n_boot=n_boot, seed=seed)[0]
        lo, hi = percentile_interval(stats, confidence)
    return MetricValue(
        value=value,
        ci_low=lo,
        ci_high=hi,
        n=len(values),
        per_sample=per_sample,
        higher_is_better=bool(metric.higher_is_better),
        confidence=confidence,
    )


def _check(obj: Any) -> str | None:
    """Why ``obj`` is not a usable metric, or None."""
    if not isinstance(getattr(obj, "name", None), str):
        return "has no str attribute 'name'"
    if not isinstance(getattr(obj, "higher_is_better", None), bool):
        return "has no bool attribute 'higher_is_better'"
    for method in ("per_sample", "aggregate"):
        if not callable(getattr(obj, method, None)):
            return f"has no method {method}()"
    return None


def _instantiate(loaded: Any) -> Any:
    if isinstance(loaded, type):
        return loaded()
    if _check(loaded) is None:
        return loaded
    if callable(loaded):
        return loaded()
    return loaded


def load_metrics(warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Built-in metrics plus every ``llmspec.metrics`` entry point, by entry-point name.

    A plugin that fails to import, instantiate or quack like a Metric is reported (``PluginWarning``, or
    ``warn(message)`` when given) and skipped; it never breaks the others. When two distributions register the
    same name, llmspec's own wins and the other is reported.
    """

    def report(message: str) -> None:
        if warn is not None:
            warn(message)
        else:
            warnings.warn(message, PluginWarning, stacklevel=3)

    from llmspec.eval.metrics.builtin import BUILTINS

    metrics: dict[str, Any] = {cls.name: cls() for cls in BUILTINS}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (not e.value.startswith("llmspec."), e.name)):
        if ep.value.startswith("llmspec.eval.metrics.") and ep.name in metrics:
            continue  # the built-in itself, already loaded
        where = f"metric plugin {ep.name!r} ({ep.value})"
        try:
            obj = _instantiate(ep.load())
        except Exception as exc:  # a broken plugin must not break the run
            report(f"{where} failed to load, skipped: {type(exc).__name__}: {exc}")
            continue
        problem = _check(obj)
        if problem:
            report(f"{where} {problem}, skipped")
            continue
        if ep.name in metrics:
            report(f"{where} duplicates the name of {metrics[ep.name]!r}, skipped")
            continue
        metrics[ep.name] = obj
    return metrics
