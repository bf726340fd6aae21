"""Training-stack presets (llmspec/data/stacks.toml): which default each stack runs with, and its source.

A spec names its stack (`training.stack`); every knob it leaves unset takes that stack's value. The spec keeps
a record of which values came from the stack (`Training.stack_provenance`), so `estimate` can say so and lint
can tell a user's setting from a default.
"""

from __future__ import annotations

import tomllib
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
}


@dataclass(frozen=True)
class Default:
    value: Any
    source: str


@dataclass(frozen=True)
class Stack:
    name: str
    description: str
    defaults: dict[str, Default]
    supports: dict[str, list]
    model_code: Default = Default("transformers", "")
    """Whose model classes the stack trains: "transformers" (the family registry's real class and its measured
    activation fit apply), or the stack's own ("litgpt", "torchtune": the generic per-architecture terms apply)."""
    adapters: Default = Default("peft", "")
    """Which library builds LoRA adapters: "peft" (its default target_modules per model_type apply when a spec
    leaves lora.targets unset), or the stack's own ("litgpt", "torchtune")."""


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
    supports: dict[str, list] = {}
    if "base" in raw:
        base = stack(raw["base"])
        defaults.update(base.defaults)
        supports.update(base.supports)
    defaults.update({k: Default(v["value"], v["source"]) for k, v in raw.get("defaults", {}).items()})
    supports.update(raw.get("supports", {}))
    attrs = {"model_code": Default("transformers", ""), "adapters": Default("peft", "")}
    for key in attrs:
        if "base" in raw:
            attrs[key] = getattr(stack(raw["base"]), key)
        if key in raw:
            attrs[key] = Default(raw[key]["value"], raw[key]["source"])
    return Stack(name, raw["description"], defaults, supports, attrs["model_code"], attrs["adapters"])


# --- serving engines (llmspec/data/engines.toml): inference.backend's defaults -------------------------------
ENGINE_KNOBS = ("kv_allocation", "logits", "attention", "gpu_memory_utilization", "max_num_seqs",
                "max_num_batched_tokens", "block_size", "cuda_graph_memory")


@cache
def engine(name: str) -> dict[str, Default]:
    text = resources.files("llmspec").joinpath("data/engines.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)["engine"][name]
    return {k: Default(v["value"], v["source"]) for k, v in raw.items() if k in ENGINE_KNOBS}


def markdown() -> str:
    """The stack and engine defaults as Markdown tables with their sources (docs/estimate.md embeds this; a test
    checks it is current). Regenerate with ``python -m llmspec.spec.stacks``."""
    out = ["| stack | knob | default | source |", "|---|---|---|---|"]
    for name in names():
        preset = stack(name)
        base = _raw()[name].get("base")
        own = _raw()[name].get("defaults", {})
        for key, label in (("model_code", "model classes"), ("adapters", "LoRA adapters")):
            if key in _raw()[name]:
                attr = getattr(preset, key)
                out.append(f"| `{name}` | {label} | `{attr.value}` | {attr.source} |")
        if base and not own:
            out.append(f"| `{name}` | (all) | as `{base}` | {preset.description} |")
            continue
        for knob, default in preset.defaults.items():
            if base and knob not in own:
                continue
            value = str(default.value).lower() if isinstance(default.value, bool) else default.value
            out.append(f"| `{name}` | `{knob}` | `{value}` | {default.source.replace('|', '/')} |")
        if base:
            out.append(f"| `{name}` | (others) | as `{base}` | |")
        for knob, allowed in _raw()[name].get("supports", {}).items():
            shown = ", ".join(f"`{str(v).lower() if isinstance(v, bool) else v}`" for v in allowed)
            out.append(f"| `{name}` | `{knob}` supports | {shown} | MEM004 flags other values |")
    text = resources.files("llmspec").joinpath("data/engines.toml").read_text(encoding="utf-8")
    out += ["", "| backend | knob | default | source |", "|---|---|---|---|"]
    for name in tomllib.loads(text)["engine"]:
        for knob, default in engine(name).items():
            out.append(f"| `{name}` | `{knob}` | `{default.value}` | {default.source.replace('|', '/')} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(markdown(), end="")
