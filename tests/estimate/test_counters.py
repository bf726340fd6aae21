"""What each memory counter shows for an estimate (llmspec.estimate.counters): hand-computed cases of the caching
allocator's rounding (torch==2.13.0:c10/cuda/CUDACachingAllocator.cpp:round_size, get_allocation_size) and of the
counter rule that benchmarks/published_memory.py compares published figures with."""

from __future__ import annotations

import pytest

from llmspec.estimate import inference_memory, training_memory
from llmspec.estimate.counters import allocation_size, counter_bytes, round_size, segment_floor
from llmspec.estimate.result import MemoryEstimate, overhead_parts
from tests.estimate.conftest import LLAMA2_7B

MiB = 2**20


@pytest.mark.parametrize(("size", "block"), [(1, 512), (512, 512), (513, 1024), (1_000_000, 1_000_448)])
def test_round_size_is_at_least_512_and_a_multiple_of_it(size, block):
    assert round_size(size) == block


@pytest.mark.parametrize(("size", "segment"), [
    (512, 2 * MiB),              # small pool: a 2 MiB segment (kSmallBuffer)
    (MiB, 2 * MiB),              # kSmallSize itself is still small
    (MiB + 512, 20 * MiB),       # 1-10 MiB: a 20 MiB segment (kLargeBuffer), split for later requests
    (10 * MiB - 512, 20 * MiB),
    (10 * MiB, 10 * MiB),        # from kMinLargeAlloc on: rounded up to 2 MiB (kRoundLarge)
    (33 * MiB + 1, 34 * MiB),
])
def test_allocation_size_follows_the_segment_rules(size, segment):
    assert allocation_size(size) == segment


def _est(per_gpu: int, world: int = 1) -> MemoryEstimate:
    parts = overhead_parts(per_gpu, world)
    return MemoryEstimate("inference", per_gpu, sum(parts.values()), None, {}, "prefill", overhead_parts=parts)


def test_counters_of_a_10_gib_peak_on_one_gpu():
    est = _est(10 * 2**30)
    assert counter_bytes(est, "allocated") == counter_bytes(est, "active") == 10_737_418_240
    assert counter_bytes(est, "unstated") == 10_737_418_240
    # 10 GiB is a whole number of 2 MiB; fragmentation int(0.08 x 10 GiB) = 858,993,459
    assert counter_bytes(est, "reserved") == 10_737_418_240 + 858_993_459
    # + CUDA context 768 MiB + workspaces 64 MiB
    assert counter_bytes(est, "nvidia-smi") == 10_737_418_240 + 858_993_459 + 805_306_368 + 67_108_864


def test_reserved_rounds_the_peak_up_to_whole_2_mib_segments_and_nvidia_smi_adds_nccl_when_distributed():
    est = _est(3 * MiB + 1, world=2)
    frag = int(0.08 * (3 * MiB + 1))  # 251,658
    assert segment_floor(3 * MiB + 1) == 4 * MiB
    assert counter_bytes(est, "reserved") == 4 * MiB + frag
    assert counter_bytes(est, "nvidia-smi") == 4 * MiB + frag + (768 + 64 + 512) * MiB


def test_unknown_counter_is_an_error():
    with pytest.raises(ValueError, match="unknown memory counter"):
        counter_bytes(_est(MiB), "smi")


@pytest.mark.parametrize("mode", ["training", "inference"])
def test_nvidia_smi_is_the_verdicts_total_up_to_segment_rounding(load, mode):
    # one fact in one place: what MEM001 judges (total_bytes) is what nvidia-smi is compared with
    est = (training_memory if mode == "training" else inference_memory)(load(LLAMA2_7B))
    assert sum(est.overhead_parts.values()) == est.overhead_bytes
    assert est.total_bytes <= counter_bytes(est, "nvidia-smi") < est.total_bytes + 2 * MiB
    assert est.per_gpu_bytes < counter_bytes(est, "reserved") < counter_bytes(est, "nvidia-smi")


def test_allocated_plus_external_leaves_out_the_cached_free_blocks(load):
    """optimum's GPTQ benchmark (huggingface/optimum@043bbe2f:tests/benchmark/benchmark_gptq.py:benchmark_memory):
    allocated_bytes.all.peak + (nvidia-smi peak - reserved_bytes.all.peak): the allocated peak + the context and
    workspaces, no fragmentation."""
    est = inference_memory(load(LLAMA2_7B))
    parts = est.overhead_parts
    assert counter_bytes(est, "allocated+external") == est.per_gpu_bytes + parts["cuda_context"] + parts["workspaces"]
    assert counter_bytes(est, "nvidia-smi") - counter_bytes(est, "allocated+external") == (
        segment_floor(est.per_gpu_bytes) - est.per_gpu_bytes + parts["fragmentation"])
