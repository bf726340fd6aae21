"""`llmspec export --to trl`: a spec -> a `trl sft --config FILE` YAML (the inverse of llmspec/data/bridges/trl.toml)."""

from __future__ import annotations

from typing import Any

import yaml

from llmspec.bridges.refusal import refuse, shown
from llmspec.bridges.tables import Combined, table
from llmspec.bridges.toolmap import given, hf_optim, put
from llmspec.bridges.yamlfile import BridgeError, Entry

# keys whose value several spec values decide; written by _combined below, not by the generic inverse
_COMBINED = {"bf16", "fp16", "use_peft", "load_in_4bit"}
_LORA_KEYS = {"lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "use_dora"}
_QLORA_KEYS = {"bnb_4bit_quant_type", "use_bnb_nested_quant"}


def _get(tree: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        tree = getattr(tree, part, None)
        if tree is None:
            return None
    return tree


def _combined(spec: Any, where: str) -> dict[str, Any]:
    t = spec.training
    # trl.toml: bf16 true -> bf16-mixed, fp16 true -> fp16-mixed, bf16 false -> fp32
    precision = {"bf16-mixed": {"bf16": True}, "fp16-mixed": {"bf16": False, "fp16": True}, "fp32": {"bf16": False}}
    if t.precision not in precision:
        refuse(BridgeError(f"{where}: training.precision = {shown(t.precision)} has no TRL equivalent "
                           f"(TRL trains in {', '.join(precision)}); change it or write the TRL config by hand",
                           key="training.precision"))
    method = {"full": {"use_peft": False}, "lora": {"use_peft": True}, "qlora": {"use_peft": True, "load_in_4bit": True}}
    if t.method not in method:
        refuse(BridgeError(f"{where}: training.method = {shown(t.method)} has no `trl sft` equivalent; use full, lora "
                           "or qlora", key="training.method"))
    return {**precision.get(t.precision, {}), **method.get(t.method, {})}


def after_import(path: str, entries: list[Entry], spec: dict[str, Any]) -> Combined:
    """TRL keys read together on import: a paged_* `optim` (HF OptimizerNames) is also training.paged_optimizer."""
    e = given(entries, "optim")
    if e is not None and str(e.value).lower().startswith("paged_"):
        put(spec, "training.paged_optimizer", True)
    return Combined()


def export_trl(spec: Any, where: str) -> str:
    """The YAML text of a `trl sft --config` file for ``spec`` (a loaded Spec); BridgeError when it has no training."""
    if spec.training is None:
        raise BridgeError(f"{where}: the spec has no [training] table; there is nothing to export")
    tab = table("trl")
    out: dict[str, Any] = {"model_name_or_path": spec.model.weights or spec.model.hf_config or spec.model.name}
    out.update(_combined(spec, where))
    method = spec.training.method
    for key, rule in tab.rules.items():
        if key in _COMBINED or key in out or rule.alias_of:
            continue
        if key == "optim":  # HF OptimizerNames, shared with axolotl and LLaMA-Factory (paged_* included)
            out[key] = hf_optim(spec.training, where, "TRL optim")
            continue
        if key in _LORA_KEYS | _QLORA_KEYS and method not in ("lora", "qlora"):
            continue
        if key in _QLORA_KEYS and method != "qlora":
            continue
        value = _get(spec, rule.to)
        if value is None and rule.fraction_to:
            value = _get(spec, rule.fraction_to)
        if value is None:
            continue
        if rule.values:
            tool_values = [k for k, v in rule.values.items() if v == value]
            if not tool_values:
                refuse(BridgeError(f"{where}: {rule.to} = {shown(value)} has no TRL {key} equivalent (TRL has "
                                   f"{', '.join(sorted(set(map(str, rule.values.values())) - {'none'}))}); change it",
                                   key=rule.to))
                continue
            default = str(rule.default).lower() if rule.default is not None else None
            value = default if default in tool_values else tool_values[0]
            value = {"true": True, "false": False}.get(value, value)
        out[key] = value
    out.update(_sharding(spec, where))
    return f"# Written by `llmspec export --to trl` from {where} (trl {tab.version}).\n" + yaml.safe_dump(
        out, sort_keys=False, default_flow_style=None)


def _sharding(spec: Any, where: str) -> dict[str, Any]:
    """FSDP as transformers 5.24 takes it: `fsdp: true` and fsdp_config (reshard_after_forward False is ZeRO-2's
    peak, cpu_offload moves parameters and states off the GPU). ZeRO-1/3 need a DeepSpeed JSON, which the spec
    does not hold: left out (the export names [hardware] as not exported)."""
    hw = spec.hardware
    if hw is None or hw.sharding not in ("fsdp", "zero2"):
        return {}
    if hw.offload == "optimizer":
        refuse(BridgeError(f"{where}: hardware.offload = \"optimizer\" with {hw.sharding}: FSDP offloads parameters "
                           "and optimizer states together (cpu_offload); use optimizer+params or none",
                           key="hardware.offload"))
        return {}
    config: dict[str, Any] = {"reshard_after_forward": hw.sharding == "fsdp"}
    if hw.offload == "optimizer+params":
        config["cpu_offload"] = True
    return {"fsdp": True, "fsdp_config": config}


def companions(tool: str, spec: Any, where: str) -> dict[str, str]:
    """Files the tool's run needs beside its config (suffix -> text): LLaMA-Factory's FSDP accelerate config."""
    if tool == "llamafactory":
        from llmspec.bridges.llamafactory import ACCELERATE_FSDP, accelerate_fsdp

        text = accelerate_fsdp(spec, where)
        return {ACCELERATE_FSDP: text} if text is not None else {}
    return {}


def export_config(tool: str, spec: Any, where: str) -> str:
    """The config text of ``tool`` for ``spec`` (each tool's own export function)."""
    if tool == "litgpt":
        from llmspec.bridges.litgpt_bridge import export_litgpt

        return export_litgpt(spec, where)
    if tool == "torchtune":
        from llmspec.bridges.torchtune_bridge import export_torchtune

        return export_torchtune(spec, where)
    if tool == "axolotl":
        from llmspec.bridges.axolotl import export_axolotl

        return export_axolotl(spec, where)
    if tool == "llamafactory":
        from llmspec.bridges.llamafactory import export_llamafactory

        return export_llamafactory(spec, where)
    return export_trl(spec, where)
