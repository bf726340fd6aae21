"""Training-stack presets (llmspec/data/stacks.toml): which default each stack runs with, and its source.

A spec names its stack (`training.stack`); every knob it leaves unset takes that stack's value. The spec keeps
a record of which values came from the stack (`Training.stack_provenance`), so `estimate` can say so and lint
can tell a user's setting from a default.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

# Knob name -> (table, field): where each stack default lands in the spec.
KNOBS: dict[str, tuple[str, str]] = {
    "precision": ("training", "precision"),
    "optimizer_impl": ("training", "optimizer_impl"),
    "paged_optimizer": ("training", "paged_optimizer"),
    "optimizer_in_backward": ("training", "optimizer_in_backward"),
    "loss": ("training", "loss"),
    "loss_chunks": ("training", "loss_chunks"),
    "loss_chunk_tokens": ("training", "loss_chunk_tokens"),
    "compile": ("training", "compile"),
    "activation_offload": ("training", "activation_offload"),
    "activation_checkpointing": ("training", "activation_checkpointing"),
    "lora_dtype": ("lora", "dtype"),
    "qlora_quantize": ("lora", "quantize"),
    "sync_each_batch": ("training", "sync_each_batch"),
    "qlora_quant_chunk": ("lora", "quant_chunk"),
    "attention": ("training", "attention"),
    "fsdp_lora_units": ("training", "fsdp_lora_units"),
    "base_dtype": ("training", "base_dtype"),
    "tie_embeddings": ("training", "tie_embeddings"),
    # knobs a stack only restricts (supports; no stack sets them by default)
    "checkpoint_policy": ("training", "checkpoint_policy"),
    "dora": ("lora", "dora"),
    "qlora_quant_format": ("lora", "quant_format"),
    "qlora_quant_block": ("lora", "quant_block"),
    "qlora_double_quant": ("lora", "double_quant"),
}
# Knobs a stack's supports table may restrict: every KNOBS entry, and training.method (torchtitan trains every
# parameter: no LoRA or QLoRA), which is a spec choice rather than a memory knob and so never a stack default.
SUPPORT_KNOBS: dict[str, tuple[str, str]] = {**KNOBS, "method": ("training", "method")}
# A default may depend on the precision: a table {precision: value} (stacks.toml), resolved by resolve(); or, with
# by = "devices", on the device count (hardware.count x hardware.nodes): a table {one = ..., several = ...}, resolved
# by value_for() (Training alone resolves it for one device; Spec's validator for the spec's hardware).
DEVICE_KEYS = ("one", "several")


def resolve(value: Any, precision: str) -> Any:
    """A stack default's value for ``precision``: the value itself, or its entry in a per-precision table (None
    when the table has no entry: the knob stays unset)."""
    return value.get(precision) if isinstance(value, dict) else value


def value_for(default: Default, precision: str, devices: int = 1) -> Any:
    """A stack default's value for a run at ``precision`` on ``devices`` GPUs in all (hardware.world_size)."""
    if default.by == "devices":
        return default.value["one" if devices <= 1 else "several"]
    return resolve(default.value, precision)


@dataclass(frozen=True)
class Default:
    value: Any
    source: str
    large_gpu: Any = None  # engines only: the value on a large GPU (large_gpu() below), when it differs
    by: str = ""  # "devices": value is {one = ..., several = ...}, by the run's device count (value_for)


@dataclass(frozen=True)
class Support:
    """The values a stack or engine can run one knob with at all (MEM004 flags any other), with the source that
    shows it cannot run otherwise and what it does instead. ``by``: the allowed values depend on another knob (a
    KNOBS name, "family" for model.family, "method" for training.method, or "devices" for the run's device count,
    hardware.count x hardware.nodes, as "one" or "several"), ``values`` maps that knob's value to them; a value not
    listed there restricts nothing."""
    values: tuple | dict[str, tuple]
    source: str
    does: str
    by: str = ""

    def allowed(self, other: Any = None) -> tuple | None:
        """The values allowed, given the value of the ``by`` knob; None when nothing is known for it."""
        if not self.by:
            assert isinstance(self.values, tuple)
            return self.values
        assert isinstance(self.values, dict)
        return self.values.get(str(other).lower() if isinstance(other, bool) else str(other))


def implied(name: str, read: Callable[[str], Any]) -> dict[str, tuple[Any, str]]:
    """Knob -> (value, source) for each knob of stack ``name`` whose supports entry depends on another knob (``by``:
    a KNOBS name, or "family") and allows exactly one value for that knob's value, ``read(by)`` (None: not known
    here, nothing implied). A spec that leaves such a knob unset runs with that one value: the supports table is
    also the default (torchtune's QLoRA layout per family, its adapter dtype per precision), so the fact is written
    once."""
    out = {}
    for knob, support in stack(name).supports.items():
        other = read(support.by) if support.by else None
        allowed = support.allowed(other) if other is not None else None
        if allowed is not None and len(allowed) == 1:
            out[knob] = (allowed[0], support.source)
    return out


def _support(raw: dict) -> Support:
    values = raw["values"]
    values = {k: tuple(v) for k, v in values.items()} if isinstance(values, dict) else tuple(values)
    return Support(values, raw["source"], raw["does"], raw.get("by", ""))


@dataclass(frozen=True)
class Stack:
    name: str
    description: str
    defaults: dict[str, Default]
    supports: dict[str, Support]
    model_code: Default = Default("transformers", "")
    """Whose model classes the stack trains: "transformers" (the family registry's real class and its measured
    activation fit apply), or the stack's own ("litgpt", "torchtune": the generic per-architecture terms apply)."""
    adapters: Default = Default("peft", "")
    """Which library builds LoRA adapters: "peft" (its default target_modules per model_type apply when a spec
    leaves lora.targets unset), or the stack's own ("litgpt", "torchtune")."""
    lora_targets: Default = Default(None, "")
    deepspeed_buckets: Default = Default(None, "")
    """The DeepSpeed bucket sizes a run gets when the spec has no [hardware.deepspeed] table: "auto" (the stack's
    DeepSpeed integration fills them from hidden_size) or None (unknown: the estimate counts no bucket and says so)."""
    """The stack's own default LoRA targets (HF module names) when its adapters are not PEFT's and the spec leaves
    lora.targets unset; None: no default (lora.targets' own)."""


@cache
def _raw() -> dict:
    text = resources.files("llmspec").joinpath("data/stacks.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)["stack"]


def names() -> tuple[str, ...]:
    return tuple(_raw())


@cache
def stack(name: str) -> Stack:
    """The preset, with its `base` stack's defaults and supports filled in under its own."""
    raw = _raw()[name]
    defaults: dict[str, Default] = {}
    supports: dict[str, Support] = {}
    if "base" in raw:
        base = stack(raw["base"])
        defaults.update(base.defaults)
        supports.update(base.supports)
    defaults.update({k: Default(v["value"], v["source"], by=v.get("by", "")) for k, v in raw.get("defaults", {}).items()})
    supports.update({k: _support(v) for k, v in raw.get("supports", {}).items()})
    attrs = {"model_code": Default("transformers", ""), "adapters": Default("peft", ""),
             "lora_targets": Default(None, ""), "deepspeed_buckets": Default(None, "")}
    for key in attrs:
        if "base" in raw:
            attrs[key] = getattr(stack(raw["base"]), key)
        if key in raw:
            attrs[key] = Default(raw[key]["value"], raw[key]["source"])
    return Stack(name, raw["description"], defaults, supports, attrs["model_code"], attrs["adapters"],
                 attrs["lora_targets"], attrs["deepspeed_buckets"])


# --- serving engines (llmspec/data/engines.toml): inference.backend's defaults -------------------------------
ENGINE_KNOBS = ("kv_allocation", "logits", "attention", "gpu_memory_utilization", "max_num_seqs",
                "max_num_batched_tokens", "block_size", "cuda_graph_memory", "tie_embeddings", "shard_embeddings",
                "kv_cache_tokens", "mask_buffer", "kv_cache_growth")


@cache
def _engines() -> dict:
    text = resources.files("llmspec").joinpath("data/engines.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)["engine"]


def engine_names() -> tuple[str, ...]:
    """The serving engines with a preset (inference.backend's values)."""
    return tuple(_engines())


@cache
def engine(name: str) -> dict[str, Default]:
    raw = _engines()[name]
    return {k: Default(v["value"], v["source"], v.get("large_gpu")) for k, v in raw.items() if k in ENGINE_KNOBS}


# vLLM's larger scheduler defaults: a GPU of at least 70 GiB whose device name does not contain "a100"
# (vllm==0.10.2:vllm/engine/arg_utils.py:EngineArgs._set_default_args_v1: H100, H200, MI300X; A100-80GB keeps the
# small ones)
LARGE_GPU_BYTES = 70 * 2**30


def large_gpu(accelerator: str | None, memory: int | None) -> bool:
    """Whether an engine's ``large_gpu`` defaults apply to this GPU (its catalog name and memory per device)."""
    return memory is not None and memory >= LARGE_GPU_BYTES and "a100" not in (accelerator or "").lower()


@cache
def engine_supports(name: str) -> dict[str, Support]:
    """The values the engine can run each knob with at all (``[engine.<name>.supports]``; MEM004 flags others)."""
    return {k: _support(v) for k, v in _engines()[name].get("supports", {}).items()}


def markdown() -> str:
    """The stack and engine defaults as Markdown tables with their sources (docs/estimate.md embeds this; a test
    checks it is current). Regenerate with ``python -m llmspec.spec.stacks``."""
    out = ["| stack | knob | default | source |", "|---|---|---|---|"]
    for name in names():
        preset = stack(name)
        base = _raw()[name].get("base")
        own = _raw()[name].get("defaults", {})
        for key, label in (("model_code", "model classes"), ("adapters", "LoRA adapters"),
                           ("lora_targets", "LoRA targets"), ("deepspeed_buckets", "DeepSpeed buckets")):
            if key in _raw()[name]:
                attr = getattr(preset, key)
                shown = ", ".join(attr.value) if isinstance(attr.value, list) else attr.value
                out.append(f"| `{name}` | {label} | `{shown}` | {attr.source} |")
        if base and not own:
            out.append(f"| `{name}` | (all) | as `{base}` | {preset.description} |")
            continue
        for knob, default in preset.defaults.items():
            if base and knob not in own:
                continue
            value = str(default.value).lower() if isinstance(default.value, bool) else default.value
            if isinstance(value, dict):
                value = ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in value.items())
                value = f"by {default.by}: {value}" if default.by else value
            out.append(f"| `{name}` | `{knob}` | `{value}` | {default.source.replace('|', '/')} |")
        for knob in _raw()[name].get("supports", {}):  # no default of its own: the supports row's one value (implied)
            support = preset.supports[knob]
            if support.by and knob not in preset.defaults:
                out.append(f"| `{name}` | `{knob}` | by `{support.by}`: the one value the supports row allows "
                           f"(else the knob's own default) | {support.source.replace('|', '/')} |")
        if base:
            out.append(f"| `{name}` | (others) | as `{base}` | |")
        for knob in _raw()[name].get("supports", {}):
            out.append(_support_row(name, knob, preset.supports[knob]))
    out += ["", "| backend | knob | default | source |", "|---|---|---|---|"]
    for name in _engines():
        for knob, default in engine(name).items():
            cell = f"`{default.value}`" + (f" (`{default.large_gpu}` on a GPU of 70 GiB or more, not an A100)"
                                           if default.large_gpu is not None else "")
            out.append(f"| `{name}` | `{knob}` | {cell} | {default.source.replace('|', '/')} |")
        for knob, support in engine_supports(name).items():
            out.append(_support_row(name, knob, support))
    return "\n".join(out) + "\n"


def _support_row(name: str, knob: str, support: Support) -> str:
    def shown(values: tuple) -> str:
        return ", ".join(f"`{str(v).lower() if isinstance(v, bool) else v}`" for v in values)

    if support.by:
        assert isinstance(support.values, dict)
        allowed = "; ".join(f"{support.by} `{k}`: {shown(v)}" for k, v in support.values.items())
    else:
        assert isinstance(support.values, tuple)
        allowed = shown(support.values)
    return (f"| `{name}` | `{knob}` supports | {allowed} | MEM004 flags other values: {support.does}; "
            f"{support.source.replace('|', '/')} |")


if __name__ == "__main__":  # pragma: no cover
    print(markdown(), end="")
