from __future__ import annotations

from llmspec.lint.rule import Rule
from llmspec.lint.rules._memory import where
from llmspec.units import format_bytes

KEY = ("inference", "batch_size")


class ServingRequestsQueue(Rule):
    """A paged serving engine holds fewer concurrent sequences than inference.batch_size: the rest queue.

    vLLM, TGI and TensorRT-LLM give what their share of the GPU leaves after weights, the profile step and CUDA
    graphs to a pool of KV blocks, and schedule only the sequences whose blocks fit in it; the other requests wait
    (vLLM's scheduler preempts or defers them). The run does not run out of memory, but fewer sequences run at
    once than the spec asks for, so throughput is lower than batch_size suggests. The message gives the count
    (llmspec's estimate, ``memory.inference.concurrency`` in `llmspec estimate --format json`) and what raises it.

    Why:
    Kwon et al. 2023 (vLLM, PagedAttention), section 4.5: when the KV blocks run out, the scheduler preempts or
    holds back requests instead of failing. vLLM logs the same count at start-up ("Maximum concurrency for N
    tokens per request", vllm==0.10.2:vllm/v1/core/kv_cache_utils.py:get_kv_cache_config), and refuses to start
    only when not even one sequence fits (check_enough_kv_cache_memory; MEM003).

    Bad:
    ```toml
    [inference]
    backend = "vllm"
    precision = "bf16"
    batch_size = 64
    seq_len = 8192

    [hardware]
    accelerator = "L4"
    ```

    Good:
    ```toml
    [inference]
    backend = "vllm"
    precision = "bf16"
    batch_size = 1
    seq_len = 8192

    [hardware]
    accelerator = "L4"
    ```
    """

    code = "MEM006"
    name = "serving-requests-queue"
    severity = "warning"

    def check(self, ctx):
        if ctx.spec.inference is None or ctx.spec.hardware is None:
            return
        est = ctx.estimate("inference_memory")
        con = est.concurrency
        if con is None or not est.fits or not con.queued:
            return
        inf = ctx.spec.inference
        capped = bool(con.max_num_seqs) and con.max_concurrent == con.max_num_seqs
        limit = (f"max_num_seqs = {con.max_num_seqs}" if capped else
                 f"a KV pool of {format_bytes(con.pool_bytes)} per GPU on {where(ctx)}")
        fix = (f"raise inference.max_num_seqs to {con.requested}" if capped else
               "more KV room: a higher gpu_memory_utilization, kv_cache_precision = \"fp8\", quantised weights or "
               f"more tensor-parallel GPUs; or set batch_size = {con.max_concurrent} to ask only for what runs at once")
        yield self.finding(
            ctx, KEY,
            f"{inf.backend} runs {con.max_concurrent} of the {con.requested} requested sequences of "
            f"{con.tokens_per_sequence:,} tokens at once ({limit}); the other {con.queued} queue: lower throughput, "
            "not an out-of-memory error",
            fix=fix,
        )


RULE = ServingRequestsQueue
