"""Result types of the memory estimators, and the overhead model shared by training and inference."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from llmspec.spec.models import Hardware, Spec

GiB = 2**30
MiB = 2**20

# Outside torch's allocated-bytes counters (NOTES.md, "What a CPU measurement cannot see"):
CUDA_CONTEXT = 768 * MiB  # CUDA context + kernels: 0.5-1+ GiB depending on driver, GPU and libraries loaded
WORKSPACES = 64 * MiB  # cuBLAS / cuBLASLt workspaces (up to 32 MiB per handle on Hopper) and cuDNN
NCCL_BUFFERS = 512 * MiB  # NCCL communicator buffers when world size > 1 (channels x peers x 4 MiB)
FRAGMENTATION = 0.08  # caching-allocator reserved over allocated: 1-19% in a simulated replay; 8% typical


@dataclass
class Concurrency:
    """Paged engines (vLLM, TGI, TensorRT-LLM; issue 12): how many sequences of the given lengths run at once.

    The engine starts when its KV pool holds one sequence of max_model_len tokens (vllm==0.10.2:
    vllm/v1/core/kv_cache_utils.py:check_enough_kv_cache_memory raises ValueError "To serve at least one request
    with the models's max seq len ... larger than the available KV cache memory"); beyond what the pool holds,
    requests queue in its scheduler (lower throughput, not an out-of-memory error)."""

    max_concurrent: int
    """Sequences of tokens_per_sequence that can run at once: what the KV pool holds, capped by max_num_seqs (vLLM
    logs it as "Maximum concurrency"); min(max_concurrent, requested) run."""
    requested: int
    """inference.batch_size: the sequences asked to run at once."""
    tokens_per_sequence: int
    """KV tokens one sequence holds: prompt + generated tokens, bounded by max_model_len."""
    max_model_len: int
    """inference.seq_len, else context_length: the length the start-up check needs one sequence of."""
    pool_bytes: int
    """The KV pool per GPU: the engine's share less weights, profile activations, CUDA graphs and overhead."""
    max_num_seqs: int | None = None

    @property
    def queued(self) -> int:
        """Requested sequences that wait for a free slot."""
        return max(0, self.requested - self.max_concurrent)

    def to_dict(self) -> dict:
        return {"max_concurrent": self.max_concurrent, "requested": self.requested, "queued": self.queued,
                "tokens_per_sequence": self.tokens_per_sequence, "max_model_len": self.max_model_len,
                "pool_bytes": self.pool_bytes, "max_num_seqs": self.max_num_seqs}


@dataclass
class MemoryEstimate:
    mode: str
    """"training" or "inference"."""
    per_gpu_bytes: int
    """Peak allocated bytes on one GPU (what torch.cuda.max_memory_allocated reports), excluding overhead."""
    overhead_bytes: int
    """CUDA context, workspaces, NCCL buffers and allocator fragmentation: outside torch's counters."""
    capacity_bytes: int | None
    """Memory of one GPU: hardware.memory, else the catalog's, else None (unknown accelerator)."""
    breakdown: dict[str, int]
    """Parts of per_gpu_bytes at the peak."""
    peak_phase: str
    """The phase where the peak falls: forward, backward or optimizer (inference: prefill)."""
    phases: dict[str, int] = field(default_factory=dict)
    """Peak per phase; per_gpu_bytes is their maximum (phases do not add up)."""
    assumptions: list[str] = field(default_factory=list)
    accelerator: str | None = None
    accelerator_note: str = ""
    """How the accelerator was picked when the spec did not name it exactly (an alias, or the default)."""
    assumed: bool = False
    """True when the spec has no table for this mode and the estimate uses defaults (inference without
    [inference]): `estimate` does not print it, and the JSON says so."""
    concurrency: Concurrency | None = None
    """Paged engines: sequences that run at once against those requested; None for the other engines. For them
    ``fits`` means the engine starts (its pool holds one sequence of max_model_len tokens)."""
    overhead_parts: dict[str, int] = field(default_factory=dict)
    """overhead_bytes by part (overhead_parts(): cuda_context, workspaces, nccl, fragmentation); counter_bytes()
    reads it to say what each memory counter would show."""

    @property
    def total_bytes(self) -> int:
        return self.per_gpu_bytes + self.overhead_bytes

    @property
    def fits(self) -> bool | None:
        return None if self.capacity_bytes is None else self.total_bytes <= self.capacity_bytes

    @property
    def headroom_bytes(self) -> int | None:
        return None if self.capacity_bytes is None else self.capacity_bytes - self.total_bytes

    def to_dict(self) -> dict:
        return {
            "per_gpu_bytes": self.per_gpu_bytes,
            "overhead_bytes": self.overhead_bytes,
            "total_bytes": self.total_bytes,
            "capacity_bytes": self.capacity_bytes,
            "fits": self.fits,
            "peak_phase": self.peak_phase,
            "phases": dict(self.phases),
            "breakdown": {k: int(v) for k, v in self.breakdown.items()},
            "accelerator": self.accelerator,
            "accelerator_note": self.accelerator_note,
            "assumed": self.assumed,
            "assumptions": list(self.assumptions),
            "concurrency": None if self.concurrency is None else self.concurrency.to_dict(),
        }


def accelerator(spec: Spec):
    """The catalog entry of hardware.accelerator (built-in, or the user entries from llmspec.toml beside the
    spec, as the loader resolved them: ``spec.source.accelerators``), or None."""
    from llmspec.catalog import CatalogError, resolve

    hw = spec.hardware or Hardware()
    extra = getattr(spec.source, "accelerators", None) if spec.source is not None else None
    if not extra:
        return _builtin_accelerator(hw.accelerator)
    try:
        return resolve(hw.accelerator, extra)
    except CatalogError:
        return None


@lru_cache(maxsize=256)
def _builtin_accelerator(name: str):
    """resolve(name) in the built-in catalog, memoised: catalog.builtin() is loaded once per process (lru_cache),
    so the answer for a name cannot change; a look-up rebuilds the alias index (~25 us), which "what would fit"
    otherwise repeats for every candidate it estimates (lint follow-up)."""
    from llmspec.catalog import CatalogError, resolve

    try:
        return resolve(name, None)
    except CatalogError:
        return None


def accelerator_note(spec: Spec) -> str:
    """Which catalog entry was picked when the spec did not name it exactly: no [hardware], no accelerator key
    (the default), or an alias ("A100" is the A100-80GB); "" when the spec names the entry."""
    hw = spec.hardware
    acc = accelerator(spec)
    name = acc.name if acc is not None else (hw or Hardware()).accelerator
    if hw is None:
        return f"no [hardware] table: assumed {name}, the default accelerator"
    if "accelerator" not in hw.model_fields_set:
        return f"hardware.accelerator not set: assumed {name}, the default"
    if acc is not None and acc.name != hw.accelerator:
        return f"accelerator {hw.accelerator!r} is the catalog's {acc.name} (an alias)"
    return ""


def capacity(spec: Spec) -> tuple[int | None, str | None, list[str]]:
    """(bytes, accelerator name, notes): hardware.memory overrides the catalog."""
    hw = spec.hardware or Hardware()
    notes: list[str] = []
    acc = accelerator(spec)
    name, mem = (acc.name, acc.memory_bytes) if acc else (hw.accelerator, None)
    if acc is None and hw.memory is None:
        notes.append(f"accelerator {hw.accelerator!r} is not in the catalog: capacity unknown")
    if hw.memory is not None:
        mem = hw.memory
    return mem, name, notes


def overhead_parts(per_gpu: float, world_size: int) -> dict[str, int]:
    """The overhead outside torch's allocated bytes, by part: the CUDA context, workspaces and NCCL buffers (outside
    torch's counters altogether) and the caching allocator's fragmentation of ``per_gpu`` (inside reserved)."""
    return {"cuda_context": CUDA_CONTEXT, "workspaces": WORKSPACES,
            "nccl": NCCL_BUFFERS if world_size > 1 else 0, "fragmentation": int(FRAGMENTATION * per_gpu)}


def overhead(per_gpu: float, world_size: int) -> int:
    return sum(overhead_parts(per_gpu, world_size).values())


OVERHEAD_NOTE = ("overhead = CUDA context 768 MiB + workspaces 64 MiB (+ NCCL 512 MiB when distributed) "
                 "+ 8% allocator fragmentation; not in per_gpu_bytes")
