"""Reading lm-eval 0.4.13 per-sample records (``log_samples=True``), in memory or after a JSON round trip.

A record is the dict lm_eval.evaluator builds per document: ``doc_id, doc, target, arguments, resps,
filtered_resps, filter, metrics, doc_hash, prompt_hash, target_hash`` plus lm-eval's own per-sample metric
values. What ``filtered_resps`` holds depends on the task's output type (lm_eval/api/task.py,
ConfigurableTask.process_results):
- loglikelihood_rolling: ``[loglikelihood]`` (one request per document);
- multiple_choice: ``[(loglikelihood, is_greedy), ...]``, one per choice; ``arguments`` is
  ``[(context, target_delimiter + choice), ...]``;
- loglikelihood: ``[(loglikelihood, is_greedy)]``;
- generate_until: ``[generated_text]``.
"""

from __future__ import annotations

import re
from typing import Any


class RecordError(ValueError):
    pass


def _need(sample: dict, key: str, metric: str) -> Any:
    if key not in sample:
        raise RecordError(f"metric {metric!r}: per-sample record has no {key!r} (log_samples=True needed)")
    return sample[key]


def rolling_loglikelihood(sample: dict, metric: str) -> float:
    resps = _need(sample, "filtered_resps", metric)
    value = resps[0] if isinstance(resps, (list, tuple)) else resps
    if isinstance(value, (list, tuple)):  # unfiltered nesting [[ll]]
        value = value[0]
    return float(value)


def target_text(sample: dict, metric: str) -> str:
    target = _need(sample, "target", metric)
    if not isinstance(target, str):
        raise RecordError(f"metric {metric!r}: expected a text target, got {type(target).__name__}")
    return target


def count_words(text: str) -> int:
    """lm_eval.api.task.Task.count_words (0.4.13): ``len(re.split(r"\\s+", doc))``."""
    return len(re.split(r"\s+", text))


def count_bytes(text: str) -> int:
    """lm_eval.api.task.Task.count_bytes (0.4.13): UTF-8 length."""
    return len(text.encode("utf-8"))


def choice_loglikelihoods(sample: dict, metric: str) -> list[float]:
    resps = _need(sample, "filtered_resps", metric)
    return [float(r[0]) if isinstance(r, (list, tuple)) else float(r) for r in resps]


def choices(sample: dict, metric: str) -> list[str]:
    """The doc_to_choice strings: ``sample["choices"]`` when the runner adds it, else from ``arguments`` with
    the target delimiter (``sample["target_delimiter"]``, lm-eval's default " ") removed once."""
    if "choices" in sample:
        return [str(c) for c in sample["choices"]]
    args = _need(sample, "arguments", metric)
    delim = sample.get("target_delimiter", " ")
    out = []
    for a in args:
        cont = str(a[1])
        out.append(cont[len(delim) :] if delim and cont.startswith(delim) else cont)
    return out


def gold_indices(sample: dict, options: list[str], metric: str) -> list[int]:
    """Gold choice index(es) as lm-eval resolves them; -100 marks a gold outside the choices (scored wrong)."""
    target = _need(sample, "target", metric)
    golds = target if isinstance(target, list) else [target]
    out = []
    for g in golds:
        if isinstance(g, bool):
            g = int(g)
        if isinstance(g, int):
            out.append(g if g < len(options) else -100)
        elif isinstance(g, str):
            out.append(options.index(g) if g in options else -100)
        else:
            raise RecordError(f"metric {metric!r}: cannot read gold target {g!r}")
    return out


def argmax(xs: list[float]) -> int:
    """First index of the maximum, as numpy.argmax (NaN counts as the maximum, as in numpy)."""
    best = 0
    for i, x in enumerate(xs):
        if x != x:  # NaN
            return i
        if x > xs[best]:
            best = i
    return best


def generated_text(sample: dict, metric: str) -> str:
    resps = _need(sample, "filtered_resps", metric)
    value = resps[0] if isinstance(resps, (list, tuple)) and resps else resps
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return "" if value is None else str(value)


def gold_texts(sample: dict, metric: str) -> list[str]:
    target = _need(sample, "target", metric)
    if isinstance(target, (list, tuple)):
        return [str(t) for t in target]
    return [str(target)]
