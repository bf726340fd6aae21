"""LLaMA-Factory configs: the keys llmspec/data/bridges/llamafactory.toml marks `combined` (import), and
`export --to llamafactory`. Each decision cites llamafactory 0.9.5 in llamafactory.toml; this module only combines."""

from __future__ import annotations

from typing import Any

from llmspec.bridges.refusal import refuse, shown
from llmspec.bridges.tables import Combined, table
from llmspec.bridges.toolmap import at, dump, given, hf_optim, inverse, optimizer, put, unsupported
from llmspec.bridges.yamlfile import BridgeError, Entry

DEEPSPEED = {("zero2", "none"): "examples/deepspeed/ds_z2_config.json",
             ("zero3", "none"): "examples/deepspeed/ds_z3_config.json",
             ("zero2", "optimizer"): "examples/deepspeed/ds_z2_offload_config.json",
             ("zero3", "optimizer+params"): "examples/deepspeed/ds_z3_offload_config.json"}
"""The DeepSpeed JSONs LLaMA-Factory 0.9.5 ships in examples/deepspeed/."""


def after_import(path: str, entries: list[Entry], spec: dict[str, Any]) -> Combined:
    tab, notes, training = table("llamafactory"), [], spec["training"]
    stage = given(entries, "stage")
    if stage is not None and stage.value not in ("sft", "pt"):
        notes.append(unsupported(path, stage, "the spec describes supervised training (sft, pt); the rest is "
                                 "read as that"))
    kind = given(entries, "finetuning_type")
    method = str(kind.value) if kind else "lora"
    if kind is not None and method not in ("lora", "full"):
        notes.append(unsupported(path, kind, "the spec trains full, lora or qlora; written as full"))
        method = "full"
    bits = given(entries, "quantization_bit")
    if bits is not None:
        quant = given(entries, "quantization_method")
        if method == "lora" and bits.value == 4 and (quant is None or quant.value == "bnb"):
            method = "qlora"
        else:
            notes.append(unsupported(path, bits, "the spec quantises only a QLoRA base, to 4-bit bitsandbytes"))
    training["method"] = method
    lora = method in ("lora", "qlora")
    if not lora:
        training.pop("lora", None)
    else:
        rank = training.get("lora", {}).get("rank", 8)
        alpha = given(entries, "lora_alpha")
        put(spec, "training.lora.alpha", alpha.value if alpha else rank * 2)  # FT: lora_rank * 2
        target = given(entries, "lora_target")
        names = [n.strip() for n in str(target.value if target else "all").split(",") if n.strip()]
        put(spec, "training.lora.targets", ["all-linear"] if names == ["all"] else names)

    pure, bf16, fp16 = (given(entries, k) for k in ("pure_bf16", "bf16", "fp16"))
    if pure is not None and pure.value is True:
        training["precision"] = "bf16"
    elif bf16 is not None and bf16.value is True:
        training["precision"] = "bf16-mixed"
    elif fp16 is not None and fp16.value is True:
        training["precision"] = "fp16-mixed"
    else:
        training["precision"] = "fp32"
    notes += optimizer(spec, tab, "optim", given(entries, "optim"), path)

    packing, neat = given(entries, "packing"), given(entries, "neat_packing")
    training["packing"] = bool((neat and neat.value) or (packing.value if packing else
                                                         (stage.value if stage else "sft") == "pt"))
    if (e := given(entries, "max_steps")) is not None and e.value != -1:
        training["max_steps"] = e.value
    if (e := given(entries, "val_size")) is not None:
        if isinstance(e.value, float) and 0 < e.value < 1:
            training["validation_split"] = e.value
        elif e.value not in (0, 0.0):
            notes.append(unsupported(path, e, "the spec holds a validation share between 0 and 1"))
    if (e := given(entries, "dataset")) is not None:
        names = [n.strip() for n in str(e.value).split(",") if n.strip()]
        if names:
            put(spec, "training.data.train", names[0])
        notes += [f"{at(path, e)}: unmapped: dataset {n!r} (the spec holds one training set)" for n in names[1:]]
    if given(entries, "early_stopping_steps") is not None:
        training["early_stopping"] = True
    return Combined(notes)


def export_llamafactory(spec: Any, where: str) -> str:
    """The YAML text of a `llamafactory-cli train` config for ``spec`` (the inverse of llamafactory.toml)."""
    if spec.training is None:
        raise BridgeError(f"{where}: the spec has no [training] table; there is nothing to export")
    t, tab = spec.training, table("llamafactory")
    if t.method not in ("full", "lora", "qlora"):
        refuse(BridgeError(f"{where}: training.method = {shown(t.method)} has no LLaMA-Factory equivalent; use full, "
                           "lora or qlora", key="training.method"))
    out: dict[str, Any] = {"model_name_or_path": spec.model.weights or spec.model.hf_config or spec.model.name,
                           "stage": "sft", "do_train": True, "finetuning_type": "full" if t.method == "full" else "lora"}
    precision = {"bf16-mixed": {"bf16": True}, "bf16": {"bf16": True, "pure_bf16": True},
                 "fp16-mixed": {"fp16": True}, "fp32": {}}
    if t.precision not in precision:
        refuse(BridgeError(f"{where}: training.precision = {shown(t.precision)} has no LLaMA-Factory equivalent "
                           f"({', '.join(precision)}); change it", key="training.precision"))
    out.update(precision.get(t.precision, {}))
    if t.method in ("lora", "qlora"):
        out["lora_alpha"] = int(t.lora.alpha) if float(t.lora.alpha).is_integer() else t.lora.alpha
        out["lora_target"] = "all" if t.lora.targets == ["all-linear"] else ",".join(t.lora.targets)
    if t.method == "qlora":
        out.update(quantization_bit=4, quantization_method="bnb")
    out["optim"] = hf_optim(t, where, "LLaMA-Factory optim")
    out["packing"] = t.packing
    if t.max_steps:
        out["max_steps"] = t.max_steps
    if t.validation_split:
        out["val_size"] = t.validation_split
    if t.early_stopping:
        out["early_stopping_steps"] = 3
    out["dataset"] = t.data.train if t.data and t.data.train else "alpaca_en_demo"
    out["template"] = "default"
    out.update(inverse(spec, tab, where, "LLaMA-Factory"))
    if t.method != "qlora":
        out.pop("quantization_type", None)
        out.pop("double_quantization", None)
    out.update(_sharding(spec, where))
    out["output_dir"] = "saves/llmspec/sft"
    head = [f"# Written by `llmspec export --to llamafactory` from {where} (llamafactory {tab.version}).",
            "# template: the spec does not name the chat template; set yours (default here)."]
    if not (t.data and t.data.train):
        head.append("# dataset: the spec names no training data; replace alpaca_en_demo with yours.")
    if t.early_stopping:
        head.append("# early_stopping_steps: the spec says only that it stops early; 3 evaluations here.")
    if spec.hardware is not None and spec.hardware.sharding == "fsdp":
        head.append(f"# FSDP runs through accelerate, with the accelerate config written beside this file (*.{ACCELERATE_FSDP}):"
                    f"\n#   accelerate launch --config_file NAME.{ACCELERATE_FSDP} src/train.py NAME.yaml")
    return dump(out, "\n".join(head))


def _sharding(spec: Any, where: str) -> dict[str, Any]:
    hw = spec.hardware
    if hw is None or hw.sharding == "none" or hw.sharding == "fsdp":  # FSDP: the accelerate config, below
        return {}
    name = DEEPSPEED.get((hw.sharding, hw.offload))
    if name is None:
        refuse(BridgeError(f"{where}: hardware.sharding = {shown(hw.sharding)} with hardware.offload = "
                           f"{shown(hw.offload)}: LLaMA-Factory ships no DeepSpeed config for it; write it by hand",
                           key="hardware.sharding"))
        return {}
    return {"deepspeed": name}


ACCELERATE_FSDP = "fsdp_config.yaml"
"""The suffix of the accelerate config written beside an FSDP export (LLaMA-Factory runs FSDP through accelerate)."""


def accelerate_fsdp(spec: Any, where: str) -> str | None:
    """The accelerate `--config_file` YAML for a spec that shards with FSDP (None otherwise), after LLaMA-Factory
    0.9.5's examples/accelerate/fsdp_config.yaml, launched as `accelerate launch --config_file FILE src/train.py
    CONFIG` (README, "FSDP+QLoRA"). FSDP offloads parameters and optimizer states together (fsdp_offload_params)."""
    hw, t = spec.hardware, spec.training
    if hw is None or hw.sharding != "fsdp":
        return None
    if hw.offload == "optimizer":
        refuse(BridgeError(f"{where}: hardware.offload = \"optimizer\" with fsdp: FSDP offloads parameters and "
                           "optimizer states together (fsdp_offload_params); use optimizer+params or none",
                           key="hardware.offload"))
    mixed = {"bf16-mixed": "bf16", "fp16-mixed": "fp16", "fp32": "no"}  # pure bf16: LLaMA-Factory's pure_bf16 loads it
    config: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE", "debug": False, "distributed_type": "FSDP", "downcast_bf16": "no",
        "fsdp_config": {"fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP", "fsdp_backward_prefetch": "BACKWARD_PRE",
                        "fsdp_cpu_ram_efficient_loading": True, "fsdp_forward_prefetch": False,
                        "fsdp_offload_params": hw.offload == "optimizer+params", "fsdp_sharding_strategy": "FULL_SHARD",
                        "fsdp_state_dict_type": "FULL_STATE_DICT", "fsdp_sync_module_states": True,
                        "fsdp_use_orig_params": False},
        "machine_rank": 0, "main_training_function": "main",
        **({"mixed_precision": mixed[t.precision]} if t.precision in mixed else {}),
        "num_machines": hw.nodes, "num_processes": hw.count * hw.nodes, "rdzv_backend": "static",
        "same_network": True, "tpu_env": [], "tpu_use_cluster": False, "tpu_use_sudo": False, "use_cpu": False}
    return dump(config, f"# Written by `llmspec export --to llamafactory` from {where}: the accelerate config of its "
                        "FSDP run\n# (after LLaMA-Factory 0.9.5 examples/accelerate/fsdp_config.yaml).")
