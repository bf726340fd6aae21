"""The sharding configs beside a training config: DeepSpeed JSON, accelerate's `--config_file` YAML, and the HF
TrainingArguments `fsdp` / `fsdp_config` keys -> hardware.sharding / offload / deepspeed and a few training keys.

Every key is mapped or reported on one line as unmapped (the spec has no field for it) or unsupported (a value
the spec cannot express). Sources, with the versions installed here:
  DS  = DeepSpeed config JSON, https://www.deepspeed.ai/docs/config-json/ (zero_optimization, bf16, fp16, optimizer)
  HF  = transformers integrations/deepspeed.py (HfTrainerDeepSpeedConfig: "auto" is filled from TrainingArguments,
        a number that differs from TrainingArguments is refused) and TrainingArguments.fsdp / fsdp_config
  ACC = accelerate 1.16.0 commands/config/config_args.py (ClusterConfig) and utils/dataclasses.py
        (DeepSpeedPlugin, FullyShardedDataParallelPlugin)
  FSDP = torch.distributed.fsdp.ShardingStrategy: SHARD_GRAD_OP keeps parameters unsharded between forward and
        backward, so its peak is ZeRO-2's; FULL_SHARD is ZeRO-3's
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from llmspec.bridges.yamlfile import BridgeError, Entry, flatten, parse_yaml, read_text_or_fail

SKIP = object()
"""The value changes nothing in the spec ("auto": filled in from the training config)."""


@dataclass(frozen=True)
class Map:
    to: str
    values: dict[str, Any] | None = None
    """Value (lower-case text) -> spec value; None: the value itself."""
    other: bool = False
    """Values not listed pass through unchanged (numbers beside "auto")."""


_STAGE = {"0": "none", "1": "zero1", "2": "zero2", "3": "zero3"}
_AUTO = {"auto": SKIP}
_OFFLOAD = {"cpu": "optimizer", "nvme": "optimizer", "none": "none"}  # nvme: off the GPU as cpu is (GPU memory)
_PARAMS = {"cpu": "optimizer+params", "nvme": "optimizer+params", "none": SKIP}
_STRATEGY = {"full_shard": "fsdp", "1": "fsdp", "shard_grad_op": "zero2", "2": "zero2", "no_shard": "none",
             "3": "none"}  # FSDP; HYBRID_SHARD (4, 5) shards within a node only: unsupported

DEEPSPEED: dict[str, Map] = {  # DS, HF
    "zero_optimization.stage": Map("hardware.sharding", _STAGE),
    "zero_optimization.offload_optimizer.device": Map("hardware.offload", _OFFLOAD),
    "zero_optimization.offload_param.device": Map("hardware.offload", _PARAMS),
    "zero_optimization.reduce_bucket_size": Map("hardware.deepspeed.reduce_bucket_size"),
    "zero_optimization.stage3_prefetch_bucket_size": Map("hardware.deepspeed.prefetch_bucket_size"),
    "train_micro_batch_size_per_gpu": Map("training.micro_batch_size", _AUTO, other=True),
    "gradient_accumulation_steps": Map("training.gradient_accumulation", _AUTO, other=True),
    "bf16.enabled": Map("training.precision", {"true": "bf16-mixed", "false": SKIP, "auto": SKIP}),
    "fp16.enabled": Map("training.precision", {"true": "fp16-mixed", "false": SKIP, "auto": SKIP}),
    "optimizer.params.lr": Map("training.learning_rate", _AUTO, other=True),
    "optimizer.params.weight_decay": Map("training.weight_decay", _AUTO, other=True),
}
ACCELERATE: dict[str, Map] = {  # ACC
    "distributed_type": Map("hardware.sharding", {"no": "none", "multi_gpu": "none", "deepspeed": SKIP, "fsdp": SKIP}),
    "mixed_precision": Map("training.precision", {"no": "fp32", "fp16": "fp16-mixed", "bf16": "bf16-mixed",
                                                  "fp8": "fp8-mixed"}),
    "num_machines": Map("hardware.nodes"),
    "num_processes": Map("hardware.count"),  # all machines' processes: divided by num_machines below
    "deepspeed_config.zero_stage": Map("hardware.sharding", _STAGE),
    "deepspeed_config.offload_optimizer_device": Map("hardware.offload", _OFFLOAD),
    "deepspeed_config.offload_param_device": Map("hardware.offload", _PARAMS),
    "deepspeed_config.gradient_accumulation_steps": Map("training.gradient_accumulation", _AUTO, other=True),
    "fsdp_config.fsdp_sharding_strategy": Map("hardware.sharding", _STRATEGY),
    "fsdp_config.fsdp_reshard_after_forward": Map("hardware.sharding", {"true": "fsdp", "false": "zero2", **_STRATEGY}),
    "fsdp_config.fsdp_offload_params": Map("hardware.offload", {"true": "optimizer+params", "false": SKIP}),
    "fsdp_config.fsdp_activation_checkpointing": Map("training.activation_checkpointing"),
}
ACCELERATE_KEYS = frozenset({  # ACC ClusterConfig fields (checked against the installed accelerate in the tests)
    "compute_environment", "distributed_type", "mixed_precision", "use_cpu", "debug", "num_processes",
    "machine_rank", "num_machines", "gpu_ids", "main_process_ip", "main_process_port", "rdzv_backend",
    "same_network", "main_training_function", "enable_cpu_affinity", "fp8_config", "deepspeed_config",
    "fsdp_config", "parallelism_config", "megatron_lm_config", "mpirun_config", "downcast_bf16", "tpu_name",
    "tpu_zone", "tpu_use_cluster", "tpu_use_sudo", "command_file", "commands", "tpu_vm", "tpu_env", "dynamo_config"})
FSDP_CONFIG: dict[str, Map] = {  # HF TrainingArguments.fsdp_config (keys with or without the "fsdp_" prefix)
    "activation_checkpointing": Map("training.activation_checkpointing"),
    "offload_params": Map("hardware.offload", {"true": "optimizer+params", "false": SKIP}),
    "sharding_strategy": Map("hardware.sharding", _STRATEGY),
    "reshard_after_forward": Map("hardware.sharding", {"true": "fsdp", "false": "zero2", **_STRATEGY}),
    "cpu_offload": Map("hardware.offload", {"true": "optimizer+params", "false": SKIP}),  # HF 5.24 fsdp_config
}
FSDP_OPTIONS = {"full_shard": ("hardware.sharding", "fsdp"), "shard_grad_op": ("hardware.sharding", "zero2"),
                "no_shard": ("hardware.sharding", "none"), "offload": ("hardware.offload", "optimizer+params"),
                "auto_wrap": None}  # HF TrainingArguments.fsdp (FSDPOption); hybrid_shard*: unsupported
_OFFLOAD_ORDER = ("none", "optimizer", "optimizer+params")


@dataclass
class Found:
    """Spec values from sharding configs, each with the entry (and file) that set it."""

    values: dict[str, tuple[Any, Entry]]
    notes: list[str]


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value).lower()


def _put(found: Found, to: str, value: Any, e: Entry) -> None:
    old = found.values.get(to)
    if to == "hardware.offload" and old is not None:  # optimizer and parameter offload: the larger one holds
        value = max(value, old[0], key=_OFFLOAD_ORDER.index)
    elif old is not None and old[0] != value:
        raise BridgeError(f"{e.file}:{e.line}:{e.col}: {e.key} = {e.value!r} contradicts {old[1].key} = "
                          f"{old[1].value!r} ({old[1].file}:{old[1].line}:{old[1].col}); make them agree")
    found.values[to] = (value, e)


def map_entries(entries: list[Entry], table: dict[str, Map], found: Found, what: str) -> None:
    for e in flatten(entries):
        rule = table.get(e.key)
        where = f"{e.file}:{e.line}:{e.col}"
        if rule is None:
            found.notes.append(f"{where}: unmapped: {e.key} ({what}; the spec has no field for it)")
            continue
        text = _text(e.value)
        if rule.values is not None and text in rule.values:
            value = rule.values[text]
        elif rule.values is None or rule.other:
            value = e.value
        else:
            found.notes.append(f"{where}: unsupported: {e.key} = {e.value!r} (the spec has no equivalent of this value)")
            continue
        if value is not SKIP:
            _put(found, rule.to, value, e)


def read_json(path: str) -> list[Entry]:
    """A JSON config's top-level keys with positions: values from json (DeepSpeed reads it so), positions from
    PyYAML's marks over the same text (JSON strings hold no raw tab, so tabs become spaces, column for column)."""
    text = read_text_or_fail(path)

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        dup = next((k for k in keys if keys.count(k) > 1), None)
        if dup is not None:
            raise ValueError(f"duplicate key {dup!r}")
        return dict(pairs)

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise BridgeError(f"{path}:{exc.lineno}:{exc.colno}: JSON syntax error: {exc.msg}; fix the JSON") from None
    except ValueError as exc:
        raise BridgeError(f"{path}:1:1: {exc}; keep one of them") from None
    if not isinstance(data, dict):
        raise BridgeError(f"{path}:1:1: expected a JSON object of config keys at the top level")
    try:
        marks = {e.key: e for e in parse_yaml(path, text.replace("\t", " "))}
    except BridgeError:  # a JSON that is no YAML 1.1 (rare escapes): keys point at the file's start
        marks = {}
    return [Entry(k, v, marks[k].line if k in marks else 1, marks[k].col if k in marks else 1,
                  marks[k].marks if k in marks else {}, path) for k, v in data.items()]


def kind(entries: list[Entry]) -> str | None:
    """deepspeed, accelerate or fsdp: what a sharding config is, by its keys (None: none of them)."""
    keys = {e.key for e in entries}
    if keys & {"compute_environment", "distributed_type"}:
        return "accelerate"
    if keys & {"zero_optimization", "train_micro_batch_size_per_gpu", "train_batch_size", "zero_allow_untested_optimizer"}:
        return "deepspeed"
    if {k.removeprefix("fsdp_") for k in keys} & {"transformer_layer_cls_to_wrap", "min_num_params", "backward_prefetch",
                                                  "sharding_strategy", "offload_params", "activation_checkpointing"}:
        return "fsdp"
    return None


SHARDING_KEYS = ("deepspeed", "fsdp", "fsdp_config")
"""Keys of a training config (HF TrainingArguments, so TRL, axolotl, LLaMA-Factory) that hold or name these configs."""


def _file(name: str, e: Entry) -> str:
    """A config a training config names: relative to the working folder (as the HF Trainer opens it), else to the
    training config's folder."""
    import os

    for candidate in (name, os.path.join(os.path.dirname(e.file), name)):
        if os.path.isfile(candidate):
            return os.path.normpath(candidate)
    raise BridgeError(f"{e.file}:{e.line}:{e.col}: {e.key}: {name!r} not found (relative to the working folder, as "
                      "the HF Trainer reads it, or to the training config's folder); run from the training folder "
                      "or give the file beside the training config")


def _read(path: str) -> list[Entry]:
    return read_json(path) if path.lower().endswith(".json") else parse_yaml(path, read_text_or_fail(path))


def _named(e: Entry, found: Found, done: set[str]) -> None:
    """The `deepspeed`, `fsdp` or `fsdp_config` key of a training config."""
    if e.key == "fsdp" and e.value is True:  # HF 5.24: fsdp=True, the rest in fsdp_config (reshard default True)
        return
    if e.key == "fsdp":
        options = e.value.split() if isinstance(e.value, str) else e.value if isinstance(e.value, list) else None
        if options is None and e.value not in (None, False, ""):
            found.notes.append(f"{e.file}:{e.line}:{e.col}: unsupported: fsdp = {e.value!r} (HF takes a list of options)")
        for option in options or ():
            target = FSDP_OPTIONS.get(str(option).lower(), ...)
            if target is ...:
                found.notes.append(f"{e.file}:{e.line}:{e.col}: unsupported: fsdp option {option!r} (the spec has no "
                                   "equivalent; hybrid sharding shards within a node only)")
            elif target is not None:
                _put(found, target[0], target[1], e)
        return
    if isinstance(e.value, str) and e.value:
        path = _file(e.value, e)
        if path not in done:
            done.add(path)
            _beside(path, _read(path), found, "deepspeed" if e.key == "deepspeed" else "fsdp")
    elif isinstance(e.value, dict):
        _beside(e.file, e.children(), found, "deepspeed" if e.key == "deepspeed" else "fsdp")
    elif e.value not in (None, False):
        found.notes.append(f"{e.file}:{e.line}:{e.col}: unsupported: {e.key} = {e.value!r} (a path or a mapping)")


def _beside(path: str, entries: list[Entry], found: Found, what: str | None) -> None:
    what = what or kind(entries)
    if what is None:
        first = entries[0] if entries else Entry("", None, 1, 1, {}, path)
        raise BridgeError(f"{path}:{first.line}:{first.col}: not an accelerate, DeepSpeed or FSDP config (no key such "
                          "as distributed_type, zero_optimization or transformer_layer_cls_to_wrap); give the "
                          "training config first and its sharding configs after it")
    if what == "accelerate":
        keys = {e.key for e in entries}
        for e in entries:
            if e.key not in ACCELERATE_KEYS:
                raise BridgeError(f"{e.file}:{e.line}:{e.col}: accelerate 1.16.0 has no key {e.key!r} (renamed or "
                                  "removed between versions?); fix the key")
        map_entries(entries, ACCELERATE, found, "accelerate")
        _processes(found, keys)
        for e in entries:
            if e.key == "deepspeed_config" and isinstance(e.value, dict) and e.value.get("deepspeed_config_file"):
                _named(Entry("deepspeed", e.value["deepspeed_config_file"], *e.at("deepspeed_config_file"), {},
                             e.file), found, set())
    elif what == "deepspeed":
        map_entries(entries, DEEPSPEED, found, "DeepSpeed")
        optimizer = next((e for e in entries if e.key == "optimizer" and isinstance(e.value, dict)), None)
        params = optimizer.value.get("params") if optimizer is not None else None
        torch_adam = isinstance(params, dict) and params.get("torch_adam") is True  # DS then runs torch's Adam(W)
        if optimizer is not None and not torch_adam and str(optimizer.value.get("type", "")).lower() in ("adam", "adamw"):
            offload = found.values.get("hardware.offload", ("none",))[0] != "none"
            _put(found, "hardware.deepspeed.optimizer", "cpu-adam" if offload else "fused-adam", optimizer)
    else:
        plain = [Entry(e.key.removeprefix("fsdp_"), e.value, e.line, e.col, e.marks, e.file) for e in entries]
        map_entries(plain, FSDP_CONFIG, found, "FSDP config")


def _processes(found: Found, keys: set[str]) -> None:
    """accelerate's num_processes counts every machine's processes; the spec's count is per node."""
    count, nodes = found.values.get("hardware.count"), found.values.get("hardware.nodes")
    if count is not None and nodes is not None and isinstance(count[0], int) and isinstance(nodes[0], int) and nodes[0] > 0:
        if count[0] % nodes[0]:
            e = count[1]
            raise BridgeError(f"{e.file}:{e.line}:{e.col}: num_processes = {count[0]} is not a multiple of "
                              f"num_machines = {nodes[0]}; fix one of them")
        found.values["hardware.count"] = (count[0] // nodes[0], count[1])


def sharding(entries: list[Entry], beside: list[str]) -> Found:
    """What the training config's sharding keys and the sharding configs given beside it set."""
    found = Found({}, [])
    done: set[str] = set()
    import os

    for path in beside:
        done.add(os.path.normpath(path))
        _beside(path, _read(path), found, None)
    for e in entries:
        if e.key in SHARDING_KEYS:
            _named(e, found, done)
    on = next((e for e in entries if e.key == "fsdp" and e.value is True), None)
    if on is not None and "hardware.sharding" not in found.values:
        _put(found, "hardware.sharding", "fsdp", on)  # HF TrainingArguments: reshard_after_forward default True
    return found
