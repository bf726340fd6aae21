"""The run record: what a training callback measured, as JSON with a schema (schemas/run-record.schema.json).

The callbacks (llmspec.integrations.hf_trainer, .lightning_callback) write ``RunRecord.model_dump(mode="json")``;
``llmspec calibrate`` reads it back with ``RunRecord.model_validate``. Version 1; bump ``SCHEMA_VERSION`` for any
change that an older reader would misread. Pure pydantic: importing this module imports no torch.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Final = 1
KIND: Final = "llmspec-run-record"


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)


class SpecRef(_Closed):
    path: str
    """The spec the run was checked against, as an absolute path on the machine that ran it."""
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    """llmspec.spec.hashing.spec_hash of that spec when the run started (`calibrate` refuses a spec that differs)."""
    name: str
    """model.name of the spec."""
    overrides: list[str] = Field(default_factory=list)
    """--set style overrides the callback applied when loading the spec (part of the hash)."""


class Framework(_Closed):
    name: Literal["transformers", "lightning"]
    version: str
    torch: str
    """torch.__version__ of the run."""


class Device(_Closed):
    type: str
    """torch device type of the model's parameters: cuda, cpu, mps, ..."""
    name: str | None = None
    """GPU name (torch.cuda.get_device_name), None off CUDA."""
    count: int = Field(ge=1)
    """Processes (ranks) of the run as the framework reports them (world size)."""


class Mismatch(_Closed):
    key: str
    """Spec key, e.g. training.micro_batch_size."""
    spec: Any
    run: Any
    message: str
    """Plain words: "spec says training.micro_batch_size 4, run has 8"."""
    location: str | None = None
    """file:line:col of the key in the spec (of its table when the spec leaves the key to its default)."""


class GpuMemory(_Closed):
    allocated_peak_bytes: int = Field(ge=0)
    """torch.cuda.max_memory_allocated, peak since the last reset."""
    reserved_peak_bytes: int = Field(ge=0)
    """torch.cuda.max_memory_reserved: the caching allocator's segments (allocated + its free blocks)."""


class StepRecord(_Closed):
    step: int = Field(ge=1)
    """Optimizer step (1-based)."""
    tokens: int | None = Field(default=None, ge=0)
    """Input tokens of the step's micro-batches (input_ids elements, padding included); None if not seen."""
    seconds: float = Field(ge=0)
    """Wall time from the end of the previous step to the end of this one (data loading included)."""
    gpu_memory: GpuMemory | None = None
    """Peaks of this step (counters reset when the step began); None when the run is not on CUDA."""


class MeasuredParts(_Closed):
    """Bytes of the live tensors themselves, counted from the model and the optimizer: exact on any device."""

    parameters: int = Field(ge=0)
    trainable_parameters: int = Field(ge=0)
    weights_bytes: int = Field(ge=0)
    """All parameters (trainable and frozen), each storage once."""
    gradients_bytes: int | None = Field(default=None, ge=0)
    """Gradients just before the optimizer step (largest over the steps); None if no step ran."""
    optimizer_states_bytes: int | None = Field(default=None, ge=0)
    """Tensors in optimizer.state after a step (largest over the steps); None if no step ran."""


class RunRecord(_Closed):
    """One training run, measured by an llmspec callback."""

    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["llmspec-run-record"] = KIND
    llmspec_version: str
    created: str
    """UTC time the record was written (ISO 8601)."""
    spec: SpecRef
    framework: Framework
    device: Device
    on_mismatch: Literal["warn", "fail", "ignore"]
    """What the callback did when the run differed from the spec."""
    run_config: dict[str, Any]
    """The running configuration in spec keys (training.micro_batch_size, ...), as the framework exposed it."""
    mismatches: list[Mismatch] = Field(default_factory=list)
    """Keys where run_config differs from the spec."""
    steps: list[StepRecord] = Field(default_factory=list)
    gpu_memory: GpuMemory | None = None
    """Largest per-step peaks of the run; None when not on CUDA (see gpu_memory_note)."""
    gpu_memory_note: str | None = None
    """Why gpu_memory is null."""
    process_rss_peak_bytes: int | None = Field(default=None, ge=0)
    """Peak resident set of the training process (getrusage ru_maxrss): host memory, interpreter and libraries
    included; not comparable with the estimate's GPU figures."""
    parts: MeasuredParts
    tokens: int | None = Field(default=None, ge=0)
    seconds: float = Field(ge=0)
    """Sum of the step times."""
    tokens_per_second: float | None = Field(default=None, ge=0)


def json_schema() -> dict:
    schema = RunRecord.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://raw.githubusercontent.com/llmspec/llmspec/main/schemas/run-record.schema.json",
        **schema,
        "title": "llmspec run record",
    }
