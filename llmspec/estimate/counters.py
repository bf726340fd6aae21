"""What each GPU memory counter would show for an estimate (issue 12): the quantity a published figure is compared with.

A published figure is read from one of four counters, and they measure different things:

* ``allocated`` (``torch.cuda.max_memory_allocated``) and ``active`` (``memory_stats()["active_bytes.all.peak"]``,
  which adds only blocks freed but still waiting on another stream's work): the bytes of live tensors, each rounded
  up to 512 B. This is ``MemoryEstimate.per_gpu_bytes``. ``unstated`` (a source that does not say) is compared with
  it too, as before: the estimate's own peak, no assumption added.
* ``reserved`` (``torch.cuda.max_memory_reserved``): the segments the caching allocator holds from cudaMalloc. Derived
  from its rules (torch==2.13.0:c10/cuda/CUDACachingAllocator.cpp:round_size, get_allocation_size, should_split;
  the constants in c10/core/AllocatorConfig.h): a request is rounded up to kMinBlockSize = 512 B; one of at most
  kSmallSize = 1 MiB comes from a kSmallBuffer = 2 MiB segment; one under kMinLargeAlloc = 10 MiB from a
  kLargeBuffer = 20 MiB segment (split for later requests while more than 1 MiB is left); a larger one gets a segment
  of its size rounded up to kRoundLarge = 2 MiB. Every segment is a whole number of 2 MiB, so the reserved peak is at
  least the allocated peak rounded up to 2 MiB (``segment_floor``): that part is derived. What is not derivable from
  an estimate without the allocation trace is the fragmentation: segments kept by the order of frees, a freed
  block too small or on the wrong stream for the next request, segments never returned because nothing calls
  empty_cache. For it the counter takes the estimate's own allocator term, the fragmentation part of
  ``overhead_bytes`` (llmspec.estimate.result.FRAGMENTATION, 8% of the fragmenting bytes: NOTES.md's simulated
  replay found 1-19%; an assumption that predates issue 12's blind sets, not fitted to any published row). So
  reserved = segment_floor(allocated) + fragmentation.
* ``nvidia-smi`` (NVML's used memory of the process or device; optimum-benchmark's ``max_process_vram`` /
  ``max_global_vram``): everything the process holds on the device: reserved, plus memory outside torch's allocator,
  which are the CUDA context with the loaded kernel images, the cuBLAS / cuBLASLt workspaces and, when distributed,
  NCCL's buffers. These are the estimate's other overhead parts (llmspec.estimate.result: CUDA_CONTEXT 768 MiB,
  WORKSPACES 64 MiB, NCCL_BUFFERS 512 MiB), one fact in one place. The context's size: "x = th.randn(1).cuda(1) my
  gpu memory usage for that process goes from zero to 723 MiB ... The first CUDA call creates the CUDA context"
  (discuss.pytorch.org/t/what-is-the-reason-for-pytorchs-gpu-memory-floor/73021); it depends on the driver, the
  GPU and how many kernels are loaded (CUDA lazy module loading, CUDA_MODULE_LOADING=LAZY, the default on Linux
  since CUDA 12.2, loads a kernel at first use). optimum's maintainers describe the same split: "reserved =
  (allocated + cached) ... used ~= (reserved + non-releasable) is technically what you'll observe on nvidia-smi"
  (huggingface.co/spaces/optimum/llm-perf-leaderboard/discussions/21). Not modelled: memory that another library
  allocates with its own cudaMalloc (bitsandbytes paged states, custom kernels' workspaces), CUDA graph pools
  beyond what the estimate counts, and the driver's own reservation that device-wide NVML figures include.

* ``allocated+external``: the allocated peak plus the memory outside torch's allocator (the CUDA context and
  workspaces, NCCL), without the allocator's cached free blocks: optimum's GPTQ benchmark prints
  ``peak_allocated_torch_mb + (peak_nvml_mb - peak_reserved_torch_mb)``, from ``memory_stats()``'s
  allocated_bytes.all.peak and reserved_bytes.all.peak and nvidia-smi's memory.used polled every 0.1 s
  (huggingface/optimum@043bbe2f:tests/benchmark/benchmark_gptq.py:benchmark_memory, tests/benchmark/memory_tracker.py:
  PeakMemoryMeasureProcess.run), so its figures hold no cached free blocks: per_gpu_bytes + the overhead parts other
  than fragmentation.

``counter_bytes`` is what benchmarks/published_memory.py compares each run's figure with.
"""

from __future__ import annotations

from llmspec.estimate.result import MemoryEstimate

# torch==2.13.0:c10/core/AllocatorConfig.h (used by c10/cuda/CUDACachingAllocator.cpp:get_allocation_size)
K_MIN_BLOCK_SIZE = 512
K_SMALL_SIZE = 1 << 20
K_SMALL_BUFFER = 2 << 20
K_LARGE_BUFFER = 20 << 20
K_MIN_LARGE_ALLOC = 10 << 20
K_ROUND_LARGE = 2 << 20

COUNTERS = ("allocated", "active", "reserved", "nvidia-smi", "allocated+external", "unstated")


def round_size(size: int) -> int:
    """A request's block size: c10/cuda/CUDACachingAllocator.cpp:round_size (default settings, no
    roundup_power2_divisions): at least 512 B, rounded up to a multiple of 512 B."""
    return K_MIN_BLOCK_SIZE * max(1, -(-size // K_MIN_BLOCK_SIZE))


def allocation_size(size: int) -> int:
    """The segment cudaMalloc'd for a request no cached block can serve:
    c10/cuda/CUDACachingAllocator.cpp:get_allocation_size."""
    if size <= K_SMALL_SIZE:
        return K_SMALL_BUFFER
    if size < K_MIN_LARGE_ALLOC:
        return K_LARGE_BUFFER
    return K_ROUND_LARGE * -(-size // K_ROUND_LARGE)


def segment_floor(allocated: int) -> int:
    """The least reserved memory that can hold ``allocated`` live bytes: every segment is a multiple of 2 MiB
    (kSmallBuffer, kLargeBuffer and kRoundLarge all are), so the allocated bytes rounded up to 2 MiB."""
    return K_ROUND_LARGE * -(-int(allocated) // K_ROUND_LARGE) if allocated > 0 else 0


def counter_bytes(est: MemoryEstimate, counter: str) -> int:
    """The bytes ``counter`` would show at the estimate's peak, on one GPU (the module docstring gives the rule and
    its sources). Raises ValueError for a counter not in COUNTERS."""
    if counter in ("allocated", "active", "unstated"):
        return est.per_gpu_bytes
    parts = est.overhead_parts
    fragmentation = parts.get("fragmentation", 0)
    if counter == "allocated+external":
        return est.per_gpu_bytes + (sum(v for k, v in parts.items() if k != "fragmentation") if parts
                                    else est.overhead_bytes)
    reserved = segment_floor(est.per_gpu_bytes) + fragmentation
    if counter == "reserved":
        return reserved
    if counter == "nvidia-smi":
        outside = sum(v for k, v in parts.items() if k != "fragmentation") if parts else est.overhead_bytes
        return reserved + outside
    raise ValueError(f"unknown memory counter {counter!r}; expected one of {', '.join(COUNTERS)}")
