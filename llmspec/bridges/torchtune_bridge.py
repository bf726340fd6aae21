"""torchtune (`tune run lora_finetune_single_device|full_finetune_single_device --config FILE`, torchtune 0.6.1): the
keys read together on import ([combined] in llmspec/data/bridges/torchtune.toml) and `llmspec export --to torchtune`."""

from __future__ import annotations

import tomllib
from functools import cache
from typing import Any

import yaml

from llmspec.bridges.refusal import refuse, shown
from llmspec.bridges.tables import DATA, Combined, combined_values, table
from llmspec.bridges.yamlfile import BridgeError, Entry

# torchtune/modules/peft/_utils.py LORA_ATTN_MODULES and the LoRA MLP/output switches -> Hugging Face module names
ATTN = {"q_proj": "q_proj", "k_proj": "k_proj", "v_proj": "v_proj", "output_proj": "o_proj"}
MLP = ["gate_proj", "up_proj", "down_proj"]  # torchtune's w1, w3, w2
ALL_LINEAR = [*ATTN.values(), *MLP]
OPTIMIZER = {"adamw": "torch.optim.AdamW", "adam": "torch.optim.Adam", "sgd": "torch.optim.SGD",
             "adamw_8bit": "bitsandbytes.optim.PagedAdamW8bit"}
RECIPE = {"full": "full_finetune_single_device", "lora": "lora_finetune_single_device",
          "qlora": "lora_finetune_single_device"}


@cache
def models() -> dict[str, dict[str, Any]]:
    return tomllib.loads((DATA / "torchtune.toml").read_text(encoding="utf-8"))["models"]


def after_import(path: str, entries: list[Entry], spec: dict[str, Any]) -> Combined:
    """The keys torchtune reads together ([combined] in its table), decided by :func:`combine`."""
    notes: list[str] = []
    positions = {e.key: f"{path}:{e.line}:{e.col}" for e in entries}
    repo = combine(spec, combined_values(table("torchtune"), entries), positions, notes, path)
    return Combined(notes, repo)


def combine(spec: dict[str, Any], values: dict[str, Any], where: dict[str, str], notes: list[str], path: str) -> str:
    """Method and base model from the model builder, adapter targets, and max_steps; returns the preset's repo."""
    t = spec["training"]
    component = str(values.get("model._component_") or "")
    builder = component.rpartition(".")[2]
    method = "qlora" if builder.startswith("qlora_") else "lora" if builder.startswith("lora_") else "full"
    t["method"] = method
    base = builder.removeprefix("qlora_").removeprefix("lora_")
    if method != "full":
        t.setdefault("lora", {})
        if method == "qlora":  # torchtune/modules/low_precision: NF4 (torchao), block 64, scales double-quantised
            t["lora"].update(quant_format="nf4", double_quant=True)
        modules = values.get("model.lora_attn_modules") or []
        targets = [ATTN[m] for m in modules if m in ATTN]
        targets += MLP if values["model.apply_lora_to_mlp"] else []
        targets += ["lm_head"] if values["model.apply_lora_to_output"] else []
        if not targets:
            raise BridgeError(f"{where.get('model._component_', path + ':1:1')}: model.lora_attn_modules is empty "
                              "and no MLP or output adapter is on, so nothing trains; name the modules")
        t["lora"]["targets"] = targets
    per_epoch = values.get("max_steps_per_epoch")
    if per_epoch:
        t["max_steps"] = int(per_epoch * t.get("epochs", 1))
        notes.append(f"{where['max_steps_per_epoch']}: max_steps_per_epoch {per_epoch} x epochs -> training.max_steps "
                     f"{t['max_steps']}")
    if "seq_len" not in t:
        notes.append(f"{path}: tokenizer.max_seq_len is not set: torchtune does not truncate; training.seq_len keeps "
                     "the spec default, set it to your longest example")
    known = models().get(base)
    if known is None:
        notes.append(f"{where.get('model._component_', path)}: the builder {builder or '(none)'} is none of "
                     f"{', '.join(models())}; the architecture needs --hf-config")
        return ""
    from llmspec.spec.families import PRESETS

    return PRESETS[known["preset"]].repo


def _model_for(spec: Any, where: str) -> tuple[str, dict[str, Any]]:
    from llmspec.spec.families import preset_spec

    arch = spec.model.architecture
    shape = ("n_layers", "d_model", "n_heads", "n_kv_heads", "ffn_dim", "vocab_size")
    for name, entry in models().items():  # the preset whose architecture the spec has (extends, or the same numbers)
        known = preset_spec(entry["preset"])["model"]["architecture"]
        if arch is not None and all(getattr(arch, k) == known.get(k, getattr(arch, k)) for k in shape):
            return name, entry
    raise BridgeError(f"{where}: torchtune export knows the builders of {', '.join(e['preset'] for e in models().values())}; "
                      "this spec's model is none of them (extends = \"preset:...\" names one)", key="model.architecture")


def _refuse(where: str, key: str, value: Any, why: str) -> BridgeError:
    return BridgeError(f"{where}: {key} = {shown(value)} has no torchtune equivalent ({why}); change it or write the "
                       "torchtune config by hand", key=key)


def export_torchtune(spec: Any, where: str) -> str:
    t = spec.training
    if t is None:
        raise BridgeError(f"{where}: the spec has no [training] table; there is nothing to export")
    if t.method not in RECIPE:
        refuse(_refuse(where, "training.method", t.method, "the single-device recipes fine-tune"))
    if t.precision not in ("bf16", "fp32"):
        refuse(_refuse(where, "training.precision", t.precision, "torchtune trains the whole model in bf16 or fp32"))
    if t.optimizer not in OPTIMIZER:
        refuse(_refuse(where, "training.optimizer", t.optimizer, f"the export knows {', '.join(OPTIMIZER)}"))
    if t.lr_schedule not in ("cosine", "constant"):
        refuse(_refuse(where, "training.lr_schedule", t.lr_schedule, "its recipes have cosine with warmup or none"))
    if t.epochs != int(t.epochs):
        refuse(_refuse(where, "training.epochs", t.epochs, "epochs is a whole number"))
    epochs = max(1, int(t.epochs))  # the spec's whole number of epochs (a refused fraction goes on as at least 1)
    if t.max_steps is not None and t.max_steps % epochs:
        refuse(_refuse(where, "training.max_steps", t.max_steps, "max_steps_per_epoch x epochs"))
    name, entry = _model_for(spec, where)
    if t.method in RECIPE and t.method not in entry.get("methods", RECIPE):
        refuse(_refuse(where, "training.method", t.method, f"torchtune {table('torchtune').version} ships "
                      f"single-device {', '.join(entry['methods'])} configs for {entry['preset']}"))
    seq_len = t.seq_len if "seq_len" in t.model_fields_set else None  # the spec's default: no torchtune setting
    method = t.method if t.method in RECIPE else "full"  # a refused method goes on as a full fine-tune
    prefix = {"full": "", "lora": "lora_", "qlora": "qlora_"}[method]
    model: dict[str, Any] = {"_component_": f"{entry['module']}.{prefix}{name}"}
    if method != "full":
        model.update(_lora(t, where))
        if not entry.get("lora_output", True):  # the builder has no apply_lora_to_output (tied output)
            if model.pop("apply_lora_to_output"):
                refuse(_refuse(where, "training.lora.targets", t.lora.targets, f"{entry['preset']}'s output is the "
                              "tied embedding, which torchtune does not adapt"))
    out: dict[str, Any] = {"output_dir": f"/tmp/torchtune/{name}/{RECIPE[method]}", "model": model,
                           "tokenizer": {**entry["tokenizer"], "max_seq_len": seq_len},
                           "checkpointer": {"_component_": entry.get("checkpointer", "torchtune.training.FullModelHFCheckpointer"),
                                            "checkpoint_dir": str(spec.model.weights or f"/tmp/{name}"),
                                            "checkpoint_files": entry["checkpoint_files"], "recipe_checkpoint": None,
                                            "output_dir": "${output_dir}", "model_type": entry["model_type"]},
                           "resume_from_checkpoint": False,
                           "dataset": {"_component_": "torchtune.datasets.alpaca_cleaned_dataset", "packed": t.packing},
                           "seed": t.seed, "shuffle": True, "batch_size": t.micro_batch_size, "epochs": epochs,
                           "max_steps_per_epoch": t.max_steps // epochs if t.max_steps else None,
                           "gradient_accumulation_steps": t.gradient_accumulation}
    optimizer: dict[str, Any] = {"_component_": OPTIMIZER.get(t.optimizer, ""), "lr": t.learning_rate,
                                 "weight_decay": t.weight_decay}
    if t.optimizer in ("adamw", "adam"):
        optimizer["fused"] = t.optimizer_impl == "fused"
    out["optimizer"] = optimizer
    if t.lr_schedule == "cosine":
        out["lr_scheduler"] = {"_component_": "torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup",
                               "num_warmup_steps": t.warmup_steps or 0}
    loss = {"full": "torch.nn.CrossEntropyLoss", "chunked": "torchtune.modules.loss.CEWithChunkedOutputLoss"}
    if t.loss not in loss:
        refuse(_refuse(where, "training.loss", t.loss, "its recipes use the chunked or the plain cross-entropy"))
    out["loss"] = {"_component_": loss.get(t.loss, "")}
    if method == "full":
        out["optimizer_in_bwd"] = bool(t.optimizer_in_backward)
    clip = t.max_grad_norm if "max_grad_norm" in t.model_fields_set else None  # the spec's default 1.0: no setting
    out |= {"clip_grad_norm": clip, "compile": bool(t.compile),
            "metric_logger": {"_component_": "torchtune.training.metric_logging.DiskLogger",
                              "log_dir": "${output_dir}/logs"},
            "log_every_n_steps": 1, "log_peak_memory_stats": True, "device": "cuda", "dtype": t.precision,
            "enable_activation_checkpointing": t.activation_checkpointing,
            "enable_activation_offloading": bool(t.activation_offload),
            "profiler": {"_component_": "torchtune.training.setup_torch_profiler", "enabled": False}}
    header = (f"# Written by `llmspec export --to torchtune` from {where} (torchtune {table('torchtune').version}).\n"
              f"# Run: tune run {RECIPE[method]} --config FILE   (after the layout of recipes/configs/"
              f"{entry['configs']}_{method}_single_device.yaml)\n")
    return header + yaml.safe_dump(out, sort_keys=False, default_flow_style=False)


def _lora(t: Any, where: str) -> dict[str, Any]:
    lora = t.lora
    targets = ALL_LINEAR if lora.targets == ["all-linear"] else list(lora.targets)
    attn = [tt for tt, hf in ATTN.items() if hf in targets]
    mlp = [m for m in MLP if m in targets]
    if mlp and len(mlp) != len(MLP) or set(targets) - set(ALL_LINEAR) - {"lm_head"}:
        refuse(_refuse(where, "training.lora.targets", lora.targets, "torchtune adapts q/k/v/output, the whole MLP "
                      "and the output, nothing finer"))
    if t.method == "qlora" and (lora.quant_format != "nf4" or not lora.double_quant):
        refuse(_refuse(where, "training.lora.quant_format", lora.quant_format, "torchtune QLoRA is NF4 (torchao) with "
                      "double-quantised scales"))
    return {"lora_attn_modules": attn, "apply_lora_to_mlp": bool(mlp), "apply_lora_to_output": "lm_head" in targets,
            "lora_rank": lora.rank, "lora_alpha": lora.alpha, "lora_dropout": lora.dropout}
