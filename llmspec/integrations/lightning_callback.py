"""A Lightning ``Callback`` that checks the run against its spec and writes a run record.

    from llmspec.integrations.lightning_callback import LlmspecLightningCallback
    trainer = lightning.Trainer(..., callbacks=[LlmspecLightningCallback("specs/bot.toml")])

Events used (lightning 2.x, automatic optimization): ``on_train_start`` (optimizers exist), ``on_train_batch_start``
(a micro-batch: tokens, batch size and sequence length are read from its input_ids, or its first tensor),
``on_before_optimizer_step`` (gradients are live), ``on_train_batch_end`` (an optimizer step closed when
``trainer.global_step`` moved) and ``on_train_end``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import lightning
import torch
from lightning.pytorch import Callback

from llmspec.integrations.compare import GPUS, LIGHTNING_PRECISION, OPTIMIZER_CLASSES
from llmspec.integrations.record import Framework
from llmspec.integrations.recorder import (
    OnMismatch,
    Recorder,
    gradient_checkpointing,
    method_config,
    optimizer_config,
)


def _sharding(strategy) -> str | None:
    name = type(strategy).__name__
    if name == "FSDPStrategy":
        return "fsdp"
    if name == "DeepSpeedStrategy":
        stage = getattr(strategy, "config", {}).get("zero_optimization", {}).get("stage")
        return {0: "none", 1: "zero1", 2: "zero2", 3: "zero3"}.get(stage) if stage is not None else None
    if name in ("SingleDeviceStrategy", "DDPStrategy", "SingleDeviceXLAStrategy", "XLAStrategy"):
        return "none"
    return None  # another strategy: nothing is claimed


def run_config(trainer) -> dict[str, Any]:
    """The Trainer's settings, in spec keys."""
    max_steps = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
    precision = str(trainer.precision)
    config: dict[str, Any] = {
        "training.stack": "lightning",
        "training.precision": LIGHTNING_PRECISION.get(precision, precision),
        "training.gradient_accumulation": trainer.accumulate_grad_batches,
        "training.max_steps": max_steps,
        GPUS: trainer.world_size,
    }
    if max_steps is None and trainer.max_epochs is not None and trainer.max_epochs > 0:
        config["training.epochs"] = trainer.max_epochs
    if trainer.gradient_clip_algorithm in (None, "norm"):
        clip = trainer.gradient_clip_val
        config["training.max_grad_norm"] = float(clip) if clip else None
    sharding = _sharding(trainer.strategy)
    if sharding is not None:
        config["hardware.sharding"] = sharding
    if trainer.optimizers:
        optimizer = trainer.optimizers[0]
        name = type(optimizer).__name__
        group = optimizer.param_groups[0]
        config["training.optimizer"] = OPTIMIZER_CLASSES.get(name, name)
        config["training.learning_rate"] = group.get("initial_lr", group.get("lr"))
        if "weight_decay" in group:
            config["training.weight_decay"] = group["weight_decay"]
        config.update(optimizer_config(optimizer))
    return config


def _input_ids(batch: Any) -> Any:
    if isinstance(batch, Mapping):
        return batch.get("input_ids")
    if isinstance(batch, (tuple, list)):
        return next((x for x in batch if isinstance(x, torch.Tensor)), None)
    return batch


class LlmspecLightningCallback(Callback):
    """Check the Lightning Trainer's configuration against SPEC and record memory and tokens/s per optimizer step.

    on_mismatch: "warn" (default; a RunConfigWarning per differing key, and the record lists them), "fail"
    (SpecMismatchError when training starts, or after the first step for what only batches tell: micro-batch
    size and seq_len) or "ignore" (recorded only). The record is written when training ends (global rank 0).
    """

    def __init__(self, spec: str | os.PathLike, output: str | os.PathLike = "run-record.json",
                 on_mismatch: OnMismatch = "warn", overrides: tuple[str, ...] | list[str] = ()):
        self.recorder = Recorder(spec, output, on_mismatch, overrides)
        self._step = 0
        self._open = False

    def on_train_start(self, trainer, pl_module) -> None:
        framework = Framework(name="lightning", version=lightning.__version__, torch=torch.__version__)
        config = run_config(trainer)
        checkpointing = gradient_checkpointing(pl_module)
        if checkpointing is not None:
            config["training.activation_checkpointing"] = checkpointing
        config.update(method_config(pl_module))
        self._step = trainer.global_step
        self.recorder.begin(pl_module, framework, trainer.world_size, config)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if not self._open:
            self.recorder.step_begin()
            self._open = True
        self.recorder.observe_batch(_input_ids(batch))

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.recorder.before_optimizer_step(pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self._step:
            return  # still accumulating
        self._step, self._open = trainer.global_step, False
        observed = {"training.micro_batch_size": self.recorder.max_batch} if self.recorder.max_batch else {}
        self.recorder.step_end(trainer.optimizers[0] if trainer.optimizers else None, observed)

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self.recorder.write()
