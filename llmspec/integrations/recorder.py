"""What both callbacks share: load the spec, check the run against it, measure each optimizer step and write the
run record. The framework callbacks only translate their events into these calls. Imported by the callback
modules (which import torch anyway), never by ``llmspec.integrations`` itself."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import torch

from llmspec._version import __version__
from llmspec.integrations.compare import architecture_config, diff
from llmspec.integrations.record import (
    Device,
    Framework,
    GpuMemory,
    MeasuredParts,
    Mismatch,
    RunRecord,
    SpecRef,
    StepRecord,
)

OnMismatch = Literal["warn", "fail", "ignore"]


class RunConfigWarning(UserWarning):
    """The running configuration differs from the spec (on_mismatch="warn")."""


class SpecMismatchError(RuntimeError):
    """The running configuration differs from the spec (on_mismatch="fail"): the run stops before its next step."""


def _tensor_bytes(tensors) -> int:
    """Bytes of the distinct storages behind ``tensors`` (tied weights count once)."""
    seen: set[tuple[str, int]] = set()
    total = 0
    for t in tensors:
        if not isinstance(t, torch.Tensor) or t.device.type == "meta":
            continue
        storage = t.untyped_storage()
        key = (str(t.device), storage.data_ptr())
        if key not in seen:
            seen.add(key)
            total += storage.nbytes()
    return total


def optimizer_state_bytes(optimizer) -> int:
    inner = getattr(optimizer, "optimizer", optimizer)  # accelerate / Lightning wrappers keep the torch one inside
    return _tensor_bytes(v for state in inner.state.values() for v in state.values())


def _rss_peak() -> int | None:
    """Peak resident set of this process in bytes (getrusage; psutil's peak_wset on Windows), or None."""
    try:
        import resource
    except ImportError:  # Windows
        try:
            import psutil  # type: ignore[import-untyped]
        except ImportError:
            return None
        return int(psutil.Process().memory_info().peak_wset)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux reports KiB, macOS bytes


class Recorder:
    def __init__(self, spec: str | os.PathLike, output: str | os.PathLike = "run-record.json",
                 on_mismatch: OnMismatch = "warn", overrides: tuple[str, ...] | list[str] = ()):
        from llmspec.project import load_spec
        from llmspec.spec.hashing import spec_hash
        from llmspec.spec.problems import SpecError

        if on_mismatch not in ("warn", "fail", "ignore"):
            raise ValueError(f"on_mismatch must be 'warn', 'fail' or 'ignore', not {on_mismatch!r}")
        try:
            self.spec = load_spec(spec, list(overrides))
        except SpecError as exc:
            raise ValueError("llmspec: the spec does not load:\n" + "\n".join(map(str, exc.problems))) from None
        self.spec_ref = SpecRef(path=str(Path(spec).resolve()), hash=spec_hash(self.spec), name=self.spec.model.name,
                                overrides=list(overrides))
        self.output = Path(output)
        self.on_mismatch: OnMismatch = on_mismatch
        self.config: dict[str, Any] = {}
        self.mismatches: list[Mismatch] = []
        self.steps: list[StepRecord] = []
        self.device: torch.device | None = None
        self._step_tokens = 0
        self._max_batch = self._max_seq = 0
        self._grads: int | None = None
        self._states: int | None = None
        self._last = time.perf_counter()

    # -- the run's configuration -----------------------------------------------------------------------------
    def begin(self, model: torch.nn.Module, framework: Framework, world_size: int, config: dict[str, Any]) -> None:
        params = list(model.parameters())
        self.device = params[0].device if params else torch.device("cpu")
        self.framework, self.world_size, self.model = framework, world_size, model
        hf_config = _hf_config(model)
        self.check({**config, **(architecture_config(hf_config) if hf_config else {})})
        self._last = time.perf_counter()

    def check(self, config: dict[str, Any]) -> None:
        """Add keys to the running configuration; warn about or fail on the new differences."""
        fresh = {k: v for k, v in config.items() if self.config.get(k, object()) != v}
        self.config.update(fresh)
        self.mismatches = [m for m in self.mismatches if m.key not in fresh] + diff(self.spec, fresh)
        new = [m for m in self.mismatches if m.key in fresh]
        if not new or self.on_mismatch == "ignore":
            return
        if self.on_mismatch == "fail":
            self.write()  # the record of what ran so far, with the differences, before stopping
            raise SpecMismatchError("the run differs from its spec (on_mismatch='fail'):\n"
                                    + "\n".join(f"{m.location or self.spec_ref.path}: {m.message}" for m in new))
        for m in new:  # shown as `spec.toml:LINE: RunConfigWarning: ...` with the spec's line below it
            file, line = (m.location or f"{self.spec_ref.path}:1:1").rsplit(":", 2)[:2]
            warnings.warn_explicit(m.message, RunConfigWarning, filename=file, lineno=int(line))

    # -- per step ------------------------------------------------------------------------------------------------
    def step_begin(self) -> None:
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def observe_batch(self, input_ids: Any) -> None:
        """Count a micro-batch's tokens from its input_ids (or the first tensor of the batch)."""
        if isinstance(input_ids, torch.Tensor) and input_ids.dim() >= 1:
            self._step_tokens += input_ids.numel()
            self._max_batch = max(self._max_batch, input_ids.shape[0])
            if input_ids.dim() >= 2:
                self._max_seq = max(self._max_seq, input_ids.shape[-1])

    def before_optimizer_step(self, model: torch.nn.Module) -> None:
        grads = _tensor_bytes(p.grad for p in model.parameters() if p.grad is not None)
        self._grads = max(self._grads or 0, grads)

    def step_end(self, optimizer, observed: dict[str, Any]) -> None:
        """Close an optimizer step; ``observed`` are keys only the batches tell (seq_len, micro-batch)."""
        if optimizer is not None:
            self._states = max(self._states or 0, optimizer_state_bytes(optimizer))
        memory = None
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            memory = GpuMemory(allocated_peak_bytes=torch.cuda.max_memory_allocated(self.device),
                               reserved_peak_bytes=torch.cuda.max_memory_reserved(self.device))
        now = time.perf_counter()
        self.steps.append(StepRecord(step=len(self.steps) + 1, tokens=self._step_tokens or None,
                                     seconds=now - self._last, gpu_memory=memory))
        self._last, self._step_tokens = now, 0
        if self._max_seq:
            observed = {"training.seq_len": self._max_seq, **observed}
        self.check(observed)

    @property
    def max_batch(self) -> int:
        return self._max_batch

    # -- the record ---------------------------------------------------------------------------------------------
    def record(self) -> RunRecord:
        dev = self.device or torch.device("cpu")
        peaks = [s.gpu_memory for s in self.steps if s.gpu_memory is not None]
        gpu = GpuMemory(allocated_peak_bytes=max(p.allocated_peak_bytes for p in peaks),
                        reserved_peak_bytes=max(p.reserved_peak_bytes for p in peaks)) if peaks else None
        note = None
        if gpu is None:
            note = (f"device {dev.type}: torch keeps allocator counters only on CUDA"
                    if dev.type != "cuda" else "no optimizer step ran, so no peak was read")
        params = list(self.model.parameters())
        tokens = sum(s.tokens or 0 for s in self.steps) or None
        seconds = sum(s.seconds for s in self.steps)
        return RunRecord(
            llmspec_version=__version__,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            spec=self.spec_ref, framework=self.framework,
            device=Device(type=dev.type, name=torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
                          count=self.world_size),
            on_mismatch=self.on_mismatch, run_config=self.config, mismatches=self.mismatches, steps=self.steps,
            gpu_memory=gpu, gpu_memory_note=note, process_rss_peak_bytes=_rss_peak(),
            parts=MeasuredParts(parameters=sum(p.numel() for p in params),
                                trainable_parameters=sum(p.numel() for p in params if p.requires_grad),
                                weights_bytes=_tensor_bytes(params), gradients_bytes=self._grads,
                                optimizer_states_bytes=self._states),
            tokens=tokens, seconds=seconds, tokens_per_second=tokens / seconds if tokens and seconds > 0 else None,
        )

    def write(self) -> Path:
        text = json.dumps(self.record().model_dump(mode="json"), indent=2) + "\n"
        self.output.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.output.name}.", suffix=".tmp", dir=str(self.output.parent))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, self.output)  # never a half-written record
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.output


def _hf_config(model: torch.nn.Module) -> dict | None:
    """The transformers config of the model (or of the first submodule that has one: a LightningModule or a
    PEFT wrapper holds the transformers model inside)."""
    for module in model.modules():
        config = getattr(module, "config", None)
        if config is not None and hasattr(config, "to_dict") and getattr(config, "model_type", None):
            return config.to_dict()
    return None


def gradient_checkpointing(model: torch.nn.Module) -> bool | None:
    """Whether a transformers model inside has gradient checkpointing on; None when no module says."""
    # transformers 5 renamed is_gradient_checkpointing (deprecated, warns) to is_activation_checkpointing
    name = "is_activation_checkpointing"
    for module in model.modules():
        value = getattr(module, name if hasattr(type(module), name) else "is_gradient_checkpointing", None)
        if isinstance(value, bool):
            return value
    return None


def optimizer_config(optimizer) -> dict[str, Any]:
    """training.optimizer_impl (and lr / weight decay of the first parameter group) from a torch optimizer."""
    inner = getattr(optimizer, "optimizer", optimizer)
    defaults = getattr(inner, "defaults", {})
    if not isinstance(defaults, dict) or "foreach" not in defaults:
        return {}  # not a torch.optim optimizer (bitsandbytes, Adafactor): no such choice
    if defaults.get("fused"):
        impl = "fused"
    elif defaults.get("foreach") is None:  # torch picks foreach when every parameter is on CUDA, else the loop
        params = [p for group in inner.param_groups for p in group["params"]]
        impl = "foreach" if params and all(p.device.type == "cuda" for p in params) else "for-loop"
    else:
        impl = "foreach" if defaults["foreach"] else "for-loop"
    return {"training.optimizer_impl": impl}


def param_dtype(model: torch.nn.Module) -> str:
    """dtype of the trainable parameters (the first one), as 'float32' / 'bfloat16' / ..."""
    for p in model.parameters():
        if p.requires_grad:
            return str(p.dtype).removeprefix("torch.")
    return "float32"


def method_config(model: torch.nn.Module) -> dict[str, Any]:
    """training.method and the LoRA settings of a PEFT model inside ``model`` (training.method full when every
    parameter trains; nothing is claimed otherwise)."""
    peft = next((m for m in model.modules() if getattr(m, "peft_config", None)), None)
    if peft is None:
        return {"training.method": "full"} if all(p.requires_grad for p in model.parameters()) else {}
    configs: dict[str, Any] = getattr(peft, "peft_config")  # noqa: B009  (nn.Module's __getattr__ types it as Tensor)
    lora = next(iter(configs.values()))
    quantised = any(getattr(m, "is_loaded_in_4bit", False) for m in model.modules())
    out: dict[str, Any] = {"training.method": "qlora" if quantised else "lora"}
    for key, attr in (("rank", "r"), ("alpha", "lora_alpha"), ("dropout", "lora_dropout")):
        if isinstance(getattr(lora, attr, None), (int, float)):
            out[f"training.lora.{key}"] = getattr(lora, attr)
    return out

