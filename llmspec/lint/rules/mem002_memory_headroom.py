from __future__ import annotations

from llmspec.estimate.fit import MIN_HEADROOM
from llmspec.lint.rule import Rule
from llmspec.lint.rules._memory import estimate_text, where
from llmspec.units import format_bytes


class MemoryHeadroom(Rule):
    """Training or serving fits, but with less than 10% of GPU memory to spare.

    A run estimated just under capacity is likely to fail anyway: estimates are not exact, sequence lengths
    and batch shapes vary (padding, the longest batch), and the caching allocator fragments memory over time.
    Checked for training and for inference, when the spec has [hardware]; not for paged serving engines (vllm,
    tgi, trtllm), which fill their share of the GPU by design and queue what does not fit (MEM006).

    Why:
    llmspec's estimate includes an 8% fragmentation allowance, but the CPU-side measurements that validate it
    found reserved memory 1-19% above allocated in a replay of real allocation traces (docs, "Measuring
    training memory"), and framework overheads (NCCL buffers, cuBLAS workspaces) vary with versions. PyTorch's
    CUDA memory-management notes describe fragmentation in the caching allocator
    (`expandable_segments` reduces it).

    Thresholds:
    min_headroom = 0.10 (share of GPU memory left free by the estimate).

    Bad:
    ```toml
    [training]
    method = "lora"
    micro_batch_size = 4
    seq_len = 4096
    activation_checkpointing = true

    [hardware]
    accelerator = "A100-80GB"
    memory = "28GiB"
    ```

    Good:
    ```toml
    [training]
    method = "lora"
    micro_batch_size = 4
    seq_len = 4096
    activation_checkpointing = true

    [hardware]
    accelerator = "A100-80GB"
    ```
    """

    code = "MEM002"
    name = "memory-headroom"
    severity = "warning"
    thresholds = {"min_headroom": MIN_HEADROOM}

    def check(self, ctx):
        if ctx.spec.hardware is None:
            return
        minimum = float(self.t["min_headroom"])
        for mode, section in (("training", ctx.spec.training), ("inference", ctx.spec.inference)):
            if section is None:
                continue
            est = ctx.estimate(f"{mode}_memory")
            if not est.fits or not est.capacity_bytes or getattr(est, "concurrency", None) is not None:
                continue  # a paged engine fills its share by design and queues the rest: MEM006
            share = est.headroom_bytes / est.capacity_bytes
            if share < minimum:
                yield self.finding(
                    ctx, (mode,),
                    f"{mode} fits with {share:.1%} headroom: {estimate_text(est)} of {format_bytes(est.capacity_bytes)} "
                    f"on {where(ctx)}; below {minimum:.0%} an OOM is likely in practice",
                    fix="free memory: activation checkpointing, a smaller micro-batch, sharding or 8-bit optimizer "
                        "states for training; a smaller batch, shorter seq_len or a quantised KV cache for serving",
                )


RULE = MemoryHeadroom
