"""axolotl configs: the keys llmspec/data/bridges/axolotl.toml marks `combined` (import), and `export --to axolotl`.

Each decision cites axolotl 0.19.0 in axolotl.toml; this module only combines the keys.
"""

from __future__ import annotations

from typing import Any

from llmspec.bridges.refusal import refuse, shown
from llmspec.bridges.tables import Combined, table
from llmspec.bridges.toolmap import at, dump, given, hf_optim, inverse, optimizer, put, unsupported
from llmspec.bridges.yamlfile import BridgeError, Entry

PLUGINS = {"cut_cross_entropy": "axolotl.integrations.cut_cross_entropy.CutCrossEntropyPlugin",
           "liger_fused_linear_cross_entropy": "axolotl.integrations.liger.LigerPlugin"}
DEEPSPEED = {"zero1": "deepspeed_configs/zero1.json", "zero2": "deepspeed_configs/zero2.json",
             "zero3": "deepspeed_configs/zero3_bf16.json"}
"""The DeepSpeed JSONs axolotl ships (`axolotl fetch deepspeed_configs`) for each ZeRO stage."""


def after_import(path: str, entries: list[Entry], spec: dict[str, Any]) -> Combined:
    """Write the combined keys into ``spec``; one note per value the spec cannot hold or key it does not map."""
    tab, notes, training = table("axolotl"), [], spec["training"]
    adapter, four, eight = given(entries, "adapter"), given(entries, "load_in_4bit"), given(entries, "load_in_8bit")
    method = str(adapter.value).lower() if adapter else "full"
    if adapter is not None and method not in ("lora", "qlora", "full"):
        notes.append(unsupported(path, adapter, "the spec trains full, lora or qlora"))
        method = "full"
    if method == "lora" and four and four.value is True:
        method = "qlora"  # a 4-bit base under LoRA adapters is QLoRA's memory layout
    if eight and eight.value is True:
        notes.append(unsupported(path, eight, "the spec has no 8-bit base weights; method written without it"))
    training["method"] = method
    lora = method in ("lora", "qlora")

    precision = _precision(entries, lora)
    if precision:
        training["precision"] = precision
    if (e := given(entries, "learning_rate")) is not None:
        training["learning_rate"] = _number(path, e)
    notes += optimizer(spec, tab, "optimizer", given(entries, "optimizer"), path)
    e = given(entries, "gradient_checkpointing")  # SCH default False
    training["activation_checkpointing"] = e is not None and e.value is not False
    if e is not None and e.value in ("offload", "offload_disk"):
        training["activation_offload"] = True
    if lora:
        notes += _lora(path, entries, spec)
    notes += _datasets(path, entries, spec)
    if (e := given(entries, "val_set_size")) is not None:
        if isinstance(e.value, float) and 0 < e.value < 1:
            training["validation_split"] = e.value
        elif e.value not in (0, 0.0):
            notes.append(unsupported(path, e, "the spec holds a validation share between 0 and 1"))
    if (e := given(entries, "early_stopping_patience")) is not None:
        training["early_stopping"] = True
    notes += _fsdp(path, entries, spec)
    return Combined(notes)


def _number(path: str, e: Entry) -> Any:
    try:  # axolotl's own convert_learning_rate: float(str)
        return float(e.value) if isinstance(e.value, str) else e.value
    except ValueError:
        raise BridgeError(f"{at(path, e)}: axolotl key learning_rate = {e.value!r} is no number; "
                          "fix the value in the config") from None


def _precision(entries: list[Entry], lora: bool) -> str | None:
    """bf16 (true or 'auto': a bf16 GPU) / bfloat16 load the model in bf16 and a full fine-tune trains in it (pure
    bf16); LoRA adapters stay fp32 (bf16-mixed). fp16 likewise. Neither: fp32."""
    on = {k: (e.value if (e := given(entries, k)) is not None else None) for k in ("bf16", "fp16", "bfloat16", "float16")}
    if on["fp16"] is True or on["float16"] is True:
        half = "fp16"
    elif on["bf16"] in (True, "auto") or on["bfloat16"] is True:
        half = "bf16"
    else:
        return "fp32"  # CFG resolve_dtype: torch_dtype float32
    return f"{half}-mixed" if lora else half


def _lora(path: str, entries: list[Entry], spec: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    if (e := given(entries, "lora_target_linear")) is not None and e.value is True:
        put(spec, "training.lora.targets", ["all-linear"])
    elif (e := given(entries, "lora_target_modules")) is not None:
        put(spec, "training.lora.targets", [e.value] if isinstance(e.value, str) else list(e.value))
    bnb = given(entries, "bnb_config_kwargs")
    kwargs = bnb.value if bnb is not None and isinstance(bnb.value, dict) else {}
    if spec["training"]["method"] == "qlora":  # LDR's 4-bit defaults: nf4, double quantisation on
        put(spec, "training.lora.quant_format", str(kwargs.get("bnb_4bit_quant_type", "nf4")))
        put(spec, "training.lora.double_quant", bool(kwargs.get("bnb_4bit_use_double_quant", True)))
    for key in sorted(set(kwargs) - {"bnb_4bit_quant_type", "bnb_4bit_use_double_quant"}):
        notes.append(f"{at(path, bnb)}: unmapped: bnb_config_kwargs.{key} (the spec has no field for it)")  # type: ignore[arg-type]
    return notes


def _datasets(path: str, entries: list[Entry], spec: dict[str, Any]) -> list[str]:
    """The first dataset's path is training.data.train; every other nested key is reported (or refused if unknown)."""
    e = given(entries, "datasets")
    if e is None:
        return []
    if not isinstance(e.value, list) or not all(isinstance(d, dict) for d in e.value):
        raise BridgeError(f"{at(path, e)}: axolotl datasets must be a list of mappings (- path: ...); fix the config")
    known, notes = table("axolotl").known, []
    for i, item in enumerate(e.value):
        for key in item:
            if f"datasets.{key}" not in known:
                raise BridgeError(f"{at(path, e)}: axolotl 0.19.0 has no dataset key {key!r} (datasets[{i}]); rename "
                                  "it to the 0.19.0 key")
            if not (i == 0 and key == "path"):
                notes.append(f"{at(path, e)}: unmapped: datasets[{i}].{key} (the spec has no field for it)")
    if e.value and e.value[0].get("path"):
        put(spec, "training.data.train", str(e.value[0]["path"]))
    return notes


def _fsdp(path: str, entries: list[Entry], spec: dict[str, Any]) -> list[str]:
    """fsdp_config / fsdp / fsdp_version: FSDP shards weights, gradients and optimizer states (shard_grad_op: only
    gradients and states, ZeRO-2 style); offload_params moves them to CPU."""
    config, legacy = given(entries, "fsdp_config"), given(entries, "fsdp")
    version = given(entries, "fsdp_version")
    if config is None and legacy is None and version is None:
        return []
    options = [str(o).lower() for o in legacy.value] if legacy and isinstance(legacy.value, list) else []
    put(spec, "hardware.sharding", "zero2" if "shard_grad_op" in options else "fsdp")
    cfg = config.value if config is not None and isinstance(config.value, dict) else {}
    where = at(path, config) if config is not None else path
    known, notes = table("axolotl").known, []
    if cfg.get("offload_params", cfg.get("fsdp_offload_params")) is True or "offload" in options:
        put(spec, "hardware.offload", "optimizer+params")
    for key in sorted(set(cfg) - {"offload_params", "fsdp_offload_params"}):  # FSDPConfig ignores unknown keys
        why = "the spec has no field for it" if f"fsdp_config.{key}" in known else "no FSDPConfig field: axolotl ignores it"
        notes.append(f"{where}: unmapped: fsdp_config.{key} ({why})")
    return notes


def export_axolotl(spec: Any, where: str) -> str:
    """The YAML text of an axolotl config for ``spec`` (the inverse of axolotl.toml)."""
    if spec.training is None:
        raise BridgeError(f"{where}: the spec has no [training] table; there is nothing to export")
    t, tab = spec.training, table("axolotl")
    out: dict[str, Any] = {"base_model": spec.model.weights or spec.model.hf_config or spec.model.name}
    if t.method not in ("full", "lora", "qlora"):
        refuse(BridgeError(f"{where}: training.method = {shown(t.method)} has no axolotl equivalent; use full, lora or "
                           "qlora", key="training.method"))
    lora = t.method in ("lora", "qlora")
    half = {"bf16-mixed" if lora else "bf16": "bf16", "fp16-mixed" if lora else "fp16": "fp16"}
    if t.precision in half:
        out[half[t.precision]] = True
    elif t.precision != "fp32":
        kinds = ("LoRA adapters in fp32 over a 16-bit base: bf16-mixed, fp16-mixed" if lora
                 else "a full fine-tune in its 16-bit load dtype: bf16, fp16")
        refuse(BridgeError(f"{where}: training.precision = {shown(t.precision)} has no axolotl equivalent for method "
                           f"{t.method} (axolotl trains {kinds}, or fp32); change it", key="training.precision"))
    if lora:
        out.update(adapter=t.method, load_in_4bit=t.method == "qlora")
        out["lora_target_modules" if t.lora.targets != ["all-linear"] else "lora_target_linear"] = (
            t.lora.targets if t.lora.targets != ["all-linear"] else True)
        if t.method == "qlora":
            out["bnb_config_kwargs"] = {"bnb_4bit_quant_type": t.lora.quant_format,
                                        "bnb_4bit_use_double_quant": t.lora.double_quant}
    out["learning_rate"] = t.learning_rate
    out["optimizer"] = hf_optim(t, where, "axolotl optimizer")
    if t.activation_checkpointing:
        out["gradient_checkpointing"] = "offload" if t.activation_offload else True
    comments = ["# datasets: the spec does not say the data's format; set `type` (alpaca here) to yours."]
    if not (t.data and t.data.train):
        comments.append("# datasets: the spec names no training data; replace data/train.jsonl with yours.")
    out["datasets"] = [{"path": t.data.train if t.data and t.data.train else "data/train.jsonl", "type": "alpaca"}]
    if t.validation_split:
        out["val_set_size"] = t.validation_split
    if t.early_stopping:
        comments.append("# early_stopping_patience: the spec says only that it stops early; 3 evaluations here, every "
                        "100 steps (axolotl requires eval_steps and save_steps with it).")
        out.update(early_stopping_patience=3, eval_steps=100, save_steps=100)
    out.update(inverse(spec, tab, where, "axolotl"))
    if t.activation_checkpointing and t.activation_offload:
        out.pop("activation_offloading", None)
    plugins = [p for key, p in PLUGINS.items() if key in out]
    if plugins:
        out["plugins"] = plugins
    out.update(_sharding(spec, where))
    out["output_dir"] = "./outputs/out"
    head = f"# Written by `llmspec export --to axolotl` from {where} (axolotl {tab.version})."
    return dump(out, "\n".join([head, *comments]))


def _sharding(spec: Any, where: str) -> dict[str, Any]:
    hw = spec.hardware
    if hw is None or hw.sharding == "none":
        return {}
    if hw.sharding == "fsdp":
        return {"fsdp_version": 2, "fsdp_config": {"offload_params": hw.offload == "optimizer+params",
                                                   "reshard_after_forward": True}}
    if hw.offload != "none":
        refuse(BridgeError(f"{where}: hardware.offload = {shown(hw.offload)} with {hw.sharding}: name your DeepSpeed "
                           "JSON with offload by hand (axolotl's shipped zero1/zero2/zero3 configs do not offload)",
                           key="hardware.offload"))
        return {}
    return {"deepspeed": DEEPSPEED[hw.sharding]}
