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
        yield self.finding(
            ctx, KEY,
            f"serving needs {estimate_text(est)} but {where(ctx)} has {format_bytes(est.capacity_bytes)} per GPU "
            f"(largest parts: {top_parts(est)})",
            fix=fixes_text(ctx, "inference"),
        )


RULE = InferenceDoesNotFit
