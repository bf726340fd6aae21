"""What an lm-eval task reports, read from its YAML without lm-eval: the safe reader behind static gate checks.

``read_task(path)`` parses a task YAML with PyYAML's SafeLoader, keeps ``!function module.fn`` as an unexecuted
:class:`FunctionRef` and merges ``include:`` files (relative to the including file; the including file's keys
win, as in lm-eval's ``load_yaml_config``). Nothing here imports lm_eval: lint runs it on every commit.

lm-eval's defaults (0.4.13, lm_eval/api/registry.py): the metrics a task without ``metric_list`` reports per
output_type (``DEFAULT_METRIC_REGISTRY``), each built-in metric's direction (``HIGHER_IS_BETTER_REGISTRY``) and
aggregation (``METRIC_AGGREGATION_REGISTRY``). tests/eval/test_taskinfo.py pins these tables against the
installed lm-eval.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

LMEVAL_DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "loglikelihood": ("perplexity", "acc"),
    "loglikelihood_rolling": ("word_perplexity", "byte_perplexity", "bits_per_byte"),
    "multiple_choice": ("acc", "acc_norm"),
    "generate_until": ("exact_match",),
}
LMEVAL_HIGHER_IS_BETTER: dict[str, bool] = {
    "brier_score": False, "acc": True, "acc_norm": True, "acc_mutual_info": True, "acc_bytes": True,
    "exact_match": True, "perplexity": False, "likelihood": True, "word_perplexity": False,
    "byte_perplexity": False, "bits_per_byte": False, "bypass": True, "mcc": True, "f1": True, "bleu": True,
    "chrf": True, "chrf++": True, "ter": False, "acc_all": True,
}
LMEVAL_AGGREGATION: dict[str, str] = {
    "brier_score": "brier_score", "acc": "mean", "acc_norm": "mean", "acc_mutual_info": "mean",
    "acc_bytes": "mean", "exact_match": "mean", "perplexity": "perplexity", "likelihood": "mean",
    "word_perplexity": "weighted_perplexity", "byte_perplexity": "weighted_perplexity",
    "bits_per_byte": "bits_per_byte", "bypass": "bypass_agg", "mcc": "matthews_corrcoef", "f1": "f1_score",
    "bleu": "bleu", "chrf": "chrf", "chrf++": "chrfpp", "ter": "ter", "acc_all": "mean",
}


class TaskYamlError(ValueError):
    """A task YAML that cannot be read; str() is one line ``file: message``."""


class FunctionRef(str):
    """``!function module.fn``, kept as its dotted name and never imported."""

    @property
    def function_name(self) -> str:
        return self.rsplit(".", 1)[-1]


def available() -> bool:
    """Whether task YAMLs can be read here: PyYAML comes with the eval extra (lm-eval), not with a core install."""
    from importlib.util import find_spec

    return find_spec("yaml") is not None


@cache
def _loader() -> type:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def function(loader: yaml.SafeLoader, node: yaml.Node) -> FunctionRef:
        return FunctionRef(loader.construct_scalar(node))  # type: ignore[arg-type]

    Loader.add_constructor("!function", function)
    return Loader


def read_task(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The task config with ``include:`` merged in (included first, then this file's own keys)."""
    path = Path(path).resolve()
    if path in _seen:
        raise TaskYamlError(f"{path}: include cycle through {' -> '.join(str(p) for p in _seen)}")
    import yaml

    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_loader()) or {}
    except OSError as e:
        raise TaskYamlError(f"{path}: cannot read: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise TaskYamlError(f"{where}: invalid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise TaskYamlError(f"{path}: a task YAML must be a mapping")
    include = data.pop("include", None)
    if include:
        merged = read_task(path.parent / str(include), (*_seen, path))
        merged.update(data)
        return merged
    return data


def metric_name(entry: Any) -> str:
    """The name lm-eval reports a metric_list entry under (a !function metric: the function's name)."""
    metric = entry.get("metric") if isinstance(entry, dict) else entry
    return metric.function_name if isinstance(metric, FunctionRef) else str(metric)


def lmeval_metrics(cfg: dict[str, Any]) -> dict[str, bool | None]:
    """name -> higher_is_better (None when unknown) of every metric lm-eval reports for this task config, as
    ``metric,filter`` for each filter, plus the bare name for the "none" filter."""
    entries = cfg.get("metric_list")
    if entries:
        metrics = {}
        for e in entries:
            name = metric_name(e)
            hib = e.get("higher_is_better") if isinstance(e, dict) else None
            metrics[name] = bool(hib) if isinstance(hib, bool) else LMEVAL_HIGHER_IS_BETTER.get(name)
    else:
        metrics = {m: LMEVAL_HIGHER_IS_BETTER.get(m) for m in LMEVAL_DEFAULT_METRICS.get(cfg.get("output_type", ""), ())}
    filters = [str(f.get("name")) for f in cfg.get("filter_list") or [] if isinstance(f, dict)] or ["none"]
    out: dict[str, bool | None] = {}
    for name, hib in metrics.items():
        for flt in filters:
            out[f"{name},{flt}"] = hib
    return out
