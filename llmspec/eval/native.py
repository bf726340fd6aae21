"""lm-eval's own metrics as results.json entries, so that any metric lm-eval reports can be gated.

Each ``name,filter`` figure of ``simple_evaluate(...)["results"][task]`` becomes a MetricResult under that key.
When lm-eval aggregates the metric by its mean and logs a number per sample (``samples[i][name]``), the
per-sample values are kept (keyed by llmspec's doc hash) so that a baseline gate can pair them; other
aggregations (perplexity, corpus F1, BLEU, custom functions) are gateable by min/max only.
Direction: the run's ``higher_is_better[task]`` (lm-eval's, from the task config or its registry).
"""

from __future__ import annotations

import re
from typing import Any

from llmspec.eval.metrics.api import keyed_values
from llmspec.eval.taskinfo import LMEVAL_AGGREGATION, LMEVAL_HIGHER_IS_BETTER

_DEF = re.compile(r"^\s*def\s+(\w+)", re.M)


def _name(value: Any) -> str | None:
    """A metric or aggregation as lm-eval's config dump writes it: a name, or a function's source."""
    if not isinstance(value, str):
        return getattr(value, "__name__", None)
    found = _DEF.search(value)
    return found.group(1) if found else value


class _Logged:
    """The per-sample value lm-eval logged under ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def per_sample(self, sample: dict) -> float:
        return float(sample[self.name])


def _numeric(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def native_metrics(out: dict, task: str, samples: list[dict]) -> dict[str, dict]:
    raw = out["results"][task]
    hib = (out.get("higher_is_better") or {}).get(task) or {}
    aggs = {}
    for e in (out.get("configs") or {}).get(task, {}).get("metric_list") or []:
        if isinstance(e, dict) and _name(e.get("metric")):
            aggs[_name(e.get("metric"))] = _name(e.get("aggregation"))
    result = {}
    for key, value in raw.items():
        name, _, flt = key.partition(",")
        if not flt or name.endswith("_stderr") or not _numeric(value):
            continue
        agg = aggs.get(name) or LMEVAL_AGGREGATION.get(name)
        recs = [s for s in samples if s.get("filter", "none") == flt]
        per: dict[str, Any] = {}
        if agg == "mean" and recs and all(_numeric(s.get(name)) for s in recs):
            per = keyed_values(_Logged(name), recs)
        stderr = raw.get(f"{name}_stderr,{flt}")
        result[key] = {
            "value": float(value), "n": len(recs), "per_sample": per, "aggregation": agg, "source": "lm-eval",
            "higher_is_better": bool(hib.get(name, LMEVAL_HIGHER_IS_BETTER.get(name, True))),
            "ci_method": "none", "stderr": float(stderr) if _numeric(stderr) else None,
        }
    return result
