"""LitGPT (`litgpt finetune_lora|finetune_full --config FILE`, litgpt 0.5.13): the keys read together on import
([combined] in llmspec/data/bridges/litgpt.toml) and `llmspec export --to litgpt`."""

from __future__ import annotations

from typing import Any

import yaml

from llmspec.bridges.refusal import refuse, shown
from llmspec.bridges.tables import Combined, combined_values, table
from llmspec.bridges.yamlfile import BridgeError, Entry

# litgpt/lora.py: the boolean switches and the Hugging Face module names they adapt (LLaMA-style MLP names)
TARGETS = {"lora_query": ["q_proj"], "lora_key": ["k_proj"], "lora_value": ["v_proj"], "lora_projection": ["o_proj"],
           "lora_mlp": ["gate_proj", "up_proj", "down_proj"], "lora_head": ["lm_head"]}
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]  # PEFT all-linear: no head
QUANTIZE = {"bnb.nf4": ("nf4", False), "bnb.nf4-dq": ("nf4", True), "bnb.fp4": ("fp4", False), "bnb.fp4-dq": ("fp4", True)}
PRECISION = {"bf16": "bf16-true", "bf16-mixed": "bf16-mixed", "fp32": "32-true", "fp16-mixed": "16-mixed", "fp16": "16-true"}
OPTIMIZER = {"adamw": "torch.optim.AdamW", "adam": "torch.optim.Adam", "sgd": "torch.optim.SGD",
             "adamw_8bit": "bitsandbytes.optim.AdamW8bit"}


def after_import(path: str, entries: list[Entry], spec: dict[str, Any]) -> Combined:
    """The keys litgpt reads together ([combined] in its table), decided by :func:`combine`."""
    notes: list[str] = []
    positions = {e.key: f"{path}:{e.line}:{e.col}" for e in entries}
    repo = combine(spec, combined_values(table("litgpt"), entries), positions, notes, path)
    return Combined(notes, repo)


def combine(spec: dict[str, Any], values: dict[str, Any], where: dict[str, str], notes: list[str], path: str) -> str:
    """Method, adapter targets, QLoRA format, gradient accumulation and checkpointing from the keys LitGPT reads
    together; returns the checkpoint's <org>/<name> (litgpt download keeps checkpoints/<org>/<name>)."""
    t = spec["training"]
    lora_run = any(k in where for k in [*TARGETS, "lora_r", "lora_alpha", "lora_dropout", "quantize"])
    quantize = values["quantize"]
    if not lora_run:
        t["method"] = "full"
        notes.append(f"{path}: method full: no lora_* or quantize key (a `litgpt finetune_full` config)")
    elif quantize in QUANTIZE:
        t["method"] = "qlora"
        fmt, double = QUANTIZE[quantize]
        t.setdefault("lora", {}).update(quant_format=fmt, double_quant=double)
    else:
        t["method"] = "lora"
        if quantize not in (None, "none"):
            notes.append(f"{where['quantize']}: unsupported: quantize = {quantize!r} (the spec has no equivalent "
                         "of this value); imported as LoRA without quantisation")
    if lora_run:
        targets = [name for key, names in TARGETS.items() if values[key] for name in names]
        if not targets:
            raise BridgeError(f"{where.get('lora_query', path + ':1:1')}: every lora_* switch is false, so LitGPT "
                              "adapts nothing; set lora_query/lora_value (or others) to true")
        t.setdefault("lora", {})["targets"] = targets

    devices, nodes = values["devices"], values["num_nodes"]
    if not isinstance(devices, int) or devices < 1:
        notes.append(f"{where.get('devices', path)}: unsupported: devices = {devices!r} (the spec needs a count); "
                     "gradient_accumulation is computed for 1 device")
        devices = 1
    micro = t.get("micro_batch_size", table("litgpt").rules["train.micro_batch_size"].default)
    ranks = devices * nodes
    accumulation = values["train.global_batch_size"] // ranks // micro
    if accumulation < 1:
        raise BridgeError(f"{where.get('train.global_batch_size', path)}: train.global_batch_size "
                          f"{values['train.global_batch_size']} is below micro_batch_size {micro} x {ranks} device(s), "
                          "which LitGPT refuses; raise it")
    t["gradient_accumulation"] = accumulation
    if ranks > 1:
        t["activation_checkpointing"] = True
        notes.append(f"{where.get('devices', path)}: devices {devices} x num_nodes {nodes}: LitGPT shards with FSDP "
                     "and checkpoints every block; [hardware] is not written (the config names no GPU): set "
                     f"hardware.count = {devices}, nodes = {nodes}, sharding = \"fsdp\" and the accelerator")
    t["lr_schedule"] = "cosine"  # litgpt/finetune/lora.py:get_lr_scheduler: linear warmup, then CosineAnnealingLR
    t["packing"] = False  # litgpt/data/base.py:get_sft_collate_fn pads each batch to its longest example
    if "seq_len" not in t:
        notes.append(f"{path}: train.max_seq_length is not set: LitGPT trains on the longest example (up to the "
                     "model's block_size); training.seq_len keeps the spec default, set it to your longest example")
    parts = str(spec["model"].get("weights", "")).strip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else ""


def _refuse(where: str, key: str, value: Any, why: str) -> BridgeError:
    return BridgeError(f"{where}: {key} = {shown(value)} has no LitGPT equivalent ({why}); change it or write the "
                       "LitGPT config by hand", key=key)


def export_litgpt(spec: Any, where: str) -> str:
    """The YAML of a `litgpt finetune_lora|finetune_full --config FILE` for ``spec``; a value LitGPT cannot express
    that the spec sets is a one-line BridgeError, and a spec default LitGPT does otherwise is named in a comment."""
    t = spec.training
    if t is None:
        raise BridgeError(f"{where}: the spec has no [training] table; there is nothing to export")
    if t.method == "pretrain":
        refuse(_refuse(where, "training.method", t.method, "use `litgpt pretrain` with its own config"))
    if t.precision not in PRECISION:
        refuse(_refuse(where, "training.precision", t.precision, f"LitGPT trains in {', '.join(PRECISION)}"))
    if t.optimizer not in OPTIMIZER:
        refuse(_refuse(where, "training.optimizer", t.optimizer, f"the export knows {', '.join(OPTIMIZER)}"))
    if t.epochs != int(t.epochs):
        refuse(_refuse(where, "training.epochs", t.epochs, "train.epochs is a whole number"))
    hw = spec.hardware
    devices, nodes = (hw.count, hw.nodes) if hw is not None else (1, 1)
    explicit = t.model_fields_set
    if t.method == "qlora" and devices * nodes > 1:  # lora.py:setup raises NotImplementedError for it
        refuse(_refuse(where, "hardware.count", devices * nodes, "LitGPT quantises only on one device"))
    if devices * nodes > 1 and hw is not None and hw.sharding not in ("fsdp", "zero3"):
        if "sharding" in hw.model_fields_set:
            refuse(_refuse(where, "hardware.sharding", hw.sharding, "LitGPT shards with FSDP on more than one device"))
    left: list[str] = []
    for key, litgpt_value, why in [
        ("packing", False, "LitGPT pads each batch, it does not pack"),
        ("activation_checkpointing", devices * nodes > 1, "LitGPT checkpoints exactly when it shards over devices"),
        ("lr_schedule", "cosine", "LitGPT's schedule is warmup + cosine"),
    ]:
        if getattr(t, key) != litgpt_value:
            if key in explicit:
                refuse(_refuse(where, f"training.{key}", getattr(t, key), why))
            left.append(f"training.{key} (spec default {getattr(t, key)!r}; {why})")
    out: dict[str, Any] = {"checkpoint_dir": str(spec.model.weights or f"checkpoints/{spec.model.name}"),
                           "precision": PRECISION.get(t.precision, ""), "devices": devices, "num_nodes": nodes}
    if t.method in ("lora", "qlora"):
        out.update(_lora(t, where))
    train: dict[str, Any] = {"global_batch_size": t.micro_batch_size * t.gradient_accumulation * devices * nodes,
                             "micro_batch_size": t.micro_batch_size, "epochs": int(t.epochs)}
    if "seq_len" in explicit:  # the spec's default 2048 is no LitGPT setting (null: the longest example)
        train["max_seq_length"] = t.seq_len
    if t.max_steps is not None:
        train["max_steps"] = t.max_steps
    if t.warmup_steps is not None:
        train["lr_warmup_steps"] = t.warmup_steps
    elif t.warmup_ratio is not None:
        if t.epochs != 1:
            refuse(_refuse(where, "training.warmup_ratio", t.warmup_ratio,
                          "train.lr_warmup_fraction is a share of one epoch; give training.warmup_steps"))
        train["lr_warmup_fraction"] = t.warmup_ratio
    else:
        train["lr_warmup_steps"] = 0  # LitGPT's default is 100 steps; the spec has no warmup
    if t.max_grad_norm is not None and "max_grad_norm" in explicit:  # the spec's default 1.0 is no LitGPT setting
        train["max_norm"] = t.max_grad_norm
    out["train"] = train
    init_args: dict[str, Any] = {"lr": t.learning_rate, "weight_decay": t.weight_decay}
    if t.optimizer == "sgd":
        init_args["momentum"] = t.momentum
    out["optimizer"] = {"class_path": OPTIMIZER.get(t.optimizer, ""), "init_args": init_args}
    if t.seed is not None:
        out["seed"] = t.seed
    command = "finetune_full" if t.method == "full" else "finetune_lora"
    header = [f"# Written by `llmspec export --to litgpt` from {where} (litgpt {table('litgpt').version}).",
              f"# Run: litgpt {command} --config FILE"]
    header += [f"# Left to LitGPT: {item}" for item in left]
    return "\n".join(header) + "\n" + yaml.safe_dump(out, sort_keys=False, default_flow_style=False)


def _lora(t: Any, where: str) -> dict[str, Any]:
    lora = t.lora
    targets = ALL_LINEAR if lora.targets == ["all-linear"] else list(lora.targets)
    switches = {key: all(n in targets for n in names) for key, names in TARGETS.items()}
    covered = {n for key, names in TARGETS.items() if switches[key] for n in names}
    if set(targets) != covered:
        refuse(_refuse(where, "training.lora.targets", lora.targets, "LitGPT switches q, k, v, projection, the whole "
                      "MLP (gate/up/down) and the head on and off, nothing finer"))
    if lora.dora:
        refuse(_refuse(where, "training.lora.dora", True, "LitGPT has no DoRA"))
    if lora.alpha != int(lora.alpha):
        refuse(_refuse(where, "training.lora.alpha", lora.alpha, "lora_alpha is a whole number"))
    out: dict[str, Any] = {"lora_r": lora.rank, "lora_alpha": int(lora.alpha), "lora_dropout": lora.dropout,
                           **switches}
    if t.method == "qlora":
        if t.precision not in ("bf16", "fp16", "fp32"):
            refuse(_refuse(where, "training.precision", t.precision, "LitGPT quantises only with a -true precision"))
        out["quantize"] = f"bnb.{lora.quant_format}" + ("-dq" if lora.double_quant else "")
    return out
