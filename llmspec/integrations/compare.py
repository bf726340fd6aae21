"""The running configuration against the spec, key by key, in plain words. No torch here: the callbacks turn what
their framework exposes into spec keys (``run_config``), and this module compares and words the differences."""

from __future__ import annotations

import json
import math
from typing import Any

from llmspec.integrations.record import Mismatch
from llmspec.spec.models import Hardware, Spec, Training

# Lightning's Trainer(precision=...) values (lightning/fabric/connector.py, _PRECISION_INPUT_STR) -> spec precision;
# the same semantics as the spec's: "-mixed" is AMP over fp32 weights, "-true" runs the weights in that dtype.
LIGHTNING_PRECISION = {"32-true": "fp32", "32": "fp32", "bf16-mixed": "bf16-mixed", "16-mixed": "fp16-mixed",
                       "bf16-true": "bf16", "16-true": "fp16", "64-true": "fp64", "transformer-engine": "fp8-mixed"}

# torch / bitsandbytes optimizer classes -> spec optimizer (class names as torch.optim and bitsandbytes.optim
# define them); an optimizer not listed is recorded by its class name and reported as a difference.
OPTIMIZER_CLASSES = {"AdamW": "adamw", "Adam": "adam", "SGD": "sgd", "Adafactor": "adafactor",
                     "AdamW8bit": "adamw_8bit", "PagedAdamW8bit": "adamw_8bit", "Lion": "lion", "Lion32bit": "lion"}

# Keys whose unset None is a statement about the run: no step limit (the run ends after `epochs`).
_NONE_MEANS = frozenset({"training.max_steps"})

GPUS = "hardware.gpus"
"""Derived key: hardware.count x hardware.nodes, compared with the run's world size."""

# Keys where several spec values describe the same run (all weights trained from a given start).
_SAME = {("training.method", "full"): {"full", "pretrain"},
         # stacks that run on the framework the callback sits in (llmspec/data/stacks.toml)
         ("training.stack", "hf-trainer"): {"hf-trainer", "trl", "axolotl", "llamafactory"},
         ("training.stack", "lightning"): {"lightning", "litgpt"}}


def hf_optimizer(optim: str) -> str:
    """TrainingArguments.optim -> spec optimizer, from the TRL bridge table (one place for HF's optimizer names);
    an unknown name is returned as is, so it shows up as a difference."""
    from llmspec.bridges.tables import table

    return table("trl").rules["optim"].values.get(str(optim).lower(), str(optim))


def hf_lr_schedule(name: str) -> str:
    from llmspec.bridges.tables import table

    return table("trl").rules["lr_scheduler_type"].values.get(str(name).lower(), str(name))


def precision_of(param_dtype: str, *, bf16: bool, fp16: bool) -> str:
    """HF Trainer: bf16/fp16 flags are autocast (AMP) over the weights' own dtype. fp32 weights + bf16 is
    bf16-mixed; weights loaded in bf16 train in pure bf16 whatever the flags say."""
    if param_dtype in ("bfloat16", "float16"):
        return "bf16" if param_dtype == "bfloat16" else "fp16"
    if bf16:
        return "bf16-mixed"
    if fp16:
        return "fp16-mixed"
    return "fp32" if param_dtype == "float32" else param_dtype


def spec_value(spec: Spec, key: str) -> tuple[Any, bool]:
    """(value the spec gives key, whether the spec file set it) -- unset keys read as the model's default,
    which is what the estimate uses."""
    hw = spec.hardware or Hardware()
    if key == GPUS:
        return hw.count * hw.nodes, bool({"count", "nodes"} & hw.model_fields_set)
    table, _, rest = key.partition(".")
    node: Any = {"training": spec.training or Training(), "hardware": hw, "model": spec.model}[table]
    parts = rest.split(".")
    for name in parts[:-1]:
        node = getattr(node, name)
    return getattr(node, parts[-1]), parts[-1] in node.model_fields_set


def _equal(key: str, spec: Any, run: Any) -> bool:
    if run in _SAME.get((key, spec), ()) or spec in _SAME.get((key, run), ()):
        return True
    if isinstance(spec, bool) or isinstance(run, bool):
        return spec is run
    if isinstance(spec, (int, float)) and isinstance(run, (int, float)):
        return math.isclose(spec, run, rel_tol=1e-9, abs_tol=0.0)
    return spec == run


def words(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def diff(spec: Spec, run_config: dict[str, Any]) -> list[Mismatch]:
    """One Mismatch per key of run_config whose value differs from the spec's."""
    out = []
    for key, run in run_config.items():
        try:
            expected, was_set = spec_value(spec, key)
        except (AttributeError, KeyError):
            continue  # the spec has no such table
        if expected is None and not was_set and key not in _NONE_MEANS:
            continue  # the spec leaves it open (seed) or derived (n_kv_heads = n_heads): nothing to compare
        if _equal(key, expected, run):
            continue
        label = "GPUs (hardware.count x hardware.nodes)" if key == GPUS else key
        message = f"spec says {label} {words(expected)}{'' if was_set else ' (default)'}, run has {words(run)}"
        where = spec.source.locate(key.split(".")) if spec.source is not None else None
        out.append(Mismatch(key=key, spec=expected, run=run, message=message, location=str(where) if where else None))
    return out


def architecture_config(hf_config: dict[str, Any]) -> dict[str, Any]:
    """model.architecture.* keys of a transformers model config (llmspec.spec.hf_import); empty for a model type
    the spec cannot express (nothing is compared then)."""
    from llmspec.spec.hf_import import HFConfigError, architecture_from_hf

    try:
        _, arch = architecture_from_hf(hf_config)
    except HFConfigError:
        return {}
    return {f"model.architecture.{k}": v for k, v in arch.items() if not isinstance(v, dict)}


def as_overrides(mismatches: list[Mismatch]) -> tuple[list[str], list[str]]:
    """``--set`` overrides that make the spec say what the run did, and the keys that cannot be written so (a
    derived key such as hardware.gpus, or a value the spec has no way to state)."""
    overrides, skipped = [], []
    for m in mismatches:
        value = m.run
        if m.key == GPUS or value is None or not isinstance(value, (bool, int, float, str)):
            skipped.append(m.key)
        elif isinstance(value, bool):
            overrides.append(f"{m.key}={str(value).lower()}")
        elif isinstance(value, str):
            overrides.append(f"{m.key}={json.dumps(value)}")  # a JSON string is a TOML basic string
        else:
            overrides.append(f"{m.key}={value!r}")
    return overrides, skipped

