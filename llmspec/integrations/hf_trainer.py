"""A transformers ``TrainerCallback`` that checks the run against its spec and writes a run record.

    from llmspec.integrations.hf_trainer import LlmspecCallback
    trainer = Trainer(..., callbacks=[LlmspecCallback("specs/bot.toml", output="run-record.json")])

Events used (transformers 5.x, trainer.py ``_inner_training_loop``): ``on_train_begin`` (the optimizer exists),
``on_step_begin`` (first micro-batch of an optimizer step), ``on_pre_optimizer_step`` (gradients are live),
``on_step_end`` (after ``optimizer.step()`` and ``zero_grad``) and ``on_train_end``. Tokens are counted by a
forward pre-hook on the model (the Trainer calls ``model(**inputs)``), in training mode only.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import transformers
from transformers import TrainerCallback

from llmspec.integrations.compare import GPUS, hf_lr_schedule, hf_optimizer, precision_of
from llmspec.integrations.record import Framework
from llmspec.integrations.recorder import (
    OnMismatch,
    Recorder,
    gradient_checkpointing,
    method_config,
    optimizer_config,
    param_dtype,
)


def _value(x: Any) -> Any:
    return getattr(x, "value", x)  # transformers' str enums (OptimizerNames, SchedulerType)


def _sharding(args) -> str | None:
    if args.fsdp:
        return "fsdp"
    ds = getattr(args, "hf_deepspeed_config", None)
    stage = ds.config.get("zero_optimization", {}).get("stage") if ds is not None else None
    if stage is not None:
        return {0: "none", 1: "zero1", 2: "zero2", 3: "zero3"}.get(int(stage))
    return None if args.deepspeed else "none"


def run_config(args, model: torch.nn.Module) -> dict[str, Any]:
    """TrainingArguments and the model, in spec keys."""
    max_steps = args.max_steps if args.max_steps and args.max_steps > 0 else None
    config: dict[str, Any] = {
        "training.stack": "hf-trainer",
        "training.micro_batch_size": args.per_device_train_batch_size,
        "training.gradient_accumulation": args.gradient_accumulation_steps,
        "training.precision": precision_of(param_dtype(model), bf16=bool(args.bf16), fp16=bool(args.fp16)),
        "training.activation_checkpointing": bool(args.gradient_checkpointing or gradient_checkpointing(model)),
        "training.optimizer": hf_optimizer(_value(args.optim)),
        "training.learning_rate": args.learning_rate,
        "training.weight_decay": args.weight_decay,
        "training.max_grad_norm": args.max_grad_norm if args.max_grad_norm and args.max_grad_norm > 0 else None,
        "training.lr_schedule": hf_lr_schedule(_value(args.lr_scheduler_type)),
        "training.max_steps": max_steps,
        "training.compile": bool(args.torch_compile),
        "training.seed": args.seed,
        GPUS: args.world_size,
    }
    if max_steps is None:  # max_steps > 0 overrides num_train_epochs (TrainingArguments docs)
        config["training.epochs"] = args.num_train_epochs
    sharding = _sharding(args)
    if sharding is not None:
        config["hardware.sharding"] = sharding
    config.update(method_config(model))
    return config


class LlmspecCallback(TrainerCallback):
    """Check the Trainer's configuration against SPEC and record memory and tokens/s per optimizer step.

    on_mismatch: "warn" (default; a RunConfigWarning per differing key, and the record lists them), "fail"
    (SpecMismatchError before the first step, or after the first step for keys only batches tell, e.g.
    seq_len) or "ignore" (recorded only). The record is written at the end of training (rank 0 only).
    """

    def __init__(self, spec: str | os.PathLike, output: str | os.PathLike = "run-record.json",
                 on_mismatch: OnMismatch = "warn", overrides: tuple[str, ...] | list[str] = ()):
        self.recorder = Recorder(spec, output, on_mismatch, overrides)
        self._hook = None

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        framework = Framework(name="transformers", version=transformers.__version__, torch=torch.__version__)
        config = run_config(args, model)
        if optimizer is not None:
            config.update(optimizer_config(optimizer))
        self._hook = model.register_forward_pre_hook(self._count, with_kwargs=True)
        self.recorder.begin(model, framework, args.world_size, config)

    def _count(self, module, args, kwargs):
        if module.training:
            self.recorder.observe_batch(kwargs.get("input_ids", args[0] if args else None))

    def on_step_begin(self, args, state, control, **kwargs):
        self.recorder.step_begin()

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        self.recorder.before_optimizer_step(model)

    def on_step_end(self, args, state, control, optimizer=None, **kwargs):
        self.recorder.step_end(optimizer, {})

    def on_train_end(self, args, state, control, **kwargs):
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        if state.is_world_process_zero:
            self.recorder.write()
