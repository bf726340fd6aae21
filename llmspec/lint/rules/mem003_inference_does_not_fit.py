from __future__ import annotations

from llmspec.lint.rule import Rule
from llmspec.lint.rules._memory import estimate_text, fixes_text, top_parts, where
from llmspec.units import format_bytes

KEY = ("inference",)


class InferenceDoesNotFit(Rule):
    """Serving does not fit: weights plus the KV cache at batch x seq_len exceed the GPUs' memory.

    Uses llmspec's inference-memory estimate: weights at inference.precision (plus quantisation scales),
    the KV cache (2 x layers x kv_heads x head_dim x seq_len x batch x bytes), prefill activations and overhead,
    divided over the tensor-parallel GPUs. The message gives the estimate against the capacity and the
    cheapest changes that fit (smaller batch, quantised KV cache or weights, more GPUs, shorter context).

    Paged engines (vllm, tgi, trtllm) queue what their KV pool cannot hold, so for them it fires only when the
    engine cannot start: its share of the GPU (gpu_memory_utilization) less weights, the profile step, CUDA
    graphs and overhead leaves no room for one sequence of inference.seq_len tokens (vLLM raises ValueError at
    start-up then). Fewer concurrent sequences than batch_size is MEM006, a warning.

    Why:
    Pope et al. 2022, "Efficiently Scaling Transformer Inference", section 2: the KV cache grows linearly
    with batch and sequence length and dominates memory at long contexts; Kwon et al. 2023 (vLLM,
    PagedAttention) report the KV cache as the main memory consumer in serving.

    Bad:
    ```toml
    [inference]
    precision = "bf16"
    batch_size = 64
    seq_len = 4096

    [hardware]
    accelerator = "L4"
    ```

    Good:
    ```toml
    [inference]
    precision = "int8"
    batch_size = 4
    seq_len = 4096

    [hardware]
    accelerator = "L4"
    ```
    """

    code = "MEM003"
    name = "inference-does-not-fit"
    severity = "error"

    def check(self, ctx):
        if ctx.spec.inference is None or ctx.spec.hardware is None:
            return
        est = ctx.estimate("inference_memory")
        if est.fits is not False:
            return
        inf, con = ctx.spec.inference, est.concurrency
        if con is not None:  # a paged engine that cannot start (llmspec.estimate.engine)
            message = (f"{inf.backend} cannot start: with gpu_memory_utilization {inf.gpu_memory_utilization} its "
                       f"KV pool is {format_bytes(con.pool_bytes)} per GPU on {where(ctx)}, less than one sequence "
                       f"of {con.max_model_len:,} tokens (max_model_len) needs; serving with one sequence needs "
                       f"{estimate_text(est)} of its {format_bytes(est.capacity_bytes)} share")
        else:
            message = (f"serving needs {estimate_text(est)} but {where(ctx)} has {format_bytes(est.capacity_bytes)} "
                       f"per GPU (largest parts: {top_parts(est)})")
        yield self.finding(ctx, KEY, message, fix=fixes_text(ctx, "inference"))


RULE = InferenceDoesNotFit
