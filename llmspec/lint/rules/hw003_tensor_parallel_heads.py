from __future__ import annotations

from llmspec.lint.rule import Rule


def _problem(n_heads: int, kv: int, tp: int) -> str | None:
    if n_heads % tp:
        return f"n_heads = {n_heads} is not divisible by tensor_parallel = {tp}"
    if kv >= tp and kv % tp:
        return f"n_kv_heads = {kv} is not divisible by tensor_parallel = {tp}"
    if kv < tp and tp % kv:
        return f"tensor_parallel = {tp} is not a multiple of n_kv_heads = {kv} (KV heads cannot be replicated evenly)"
    return None


class TensorParallelHeads(Rule):
    """The tensor-parallel degree does not split the attention heads evenly.

    Tensor parallelism gives each GPU n_heads / tp query heads and n_kv_heads / tp key/value heads (or, when
    there are fewer KV heads than GPUs, replicates each KV head tp / n_kv_heads times). Checked for
    hardware.tensor_parallel (training) and inference.tensor_parallel (serving).

    Why:
    Shoeybi et al. 2019, "Megatron-LM", section 3: attention is partitioned across GPUs by heads. vLLM raises
    "Total number of attention heads must be divisible by tensor parallel size" and replicates KV heads only
    when tp is a multiple of n_kv_heads.

    Bad:
    ```toml
    [hardware]
    accelerator = "H100-SXM"
    count = 6
    tensor_parallel = 6
    ```

    Good:
    ```toml
    [hardware]
    accelerator = "H100-SXM"
    count = 8
    tensor_parallel = 8
    ```
    """

    code = "HW003"
    name = "tensor-parallel-splits-heads-unevenly"
    severity = "error"

    def check(self, ctx):
        arch = ctx.spec.arch
        checks = []
        if ctx.spec.hardware is not None and ctx.spec.hardware.tensor_parallel > 1:
            checks.append((("hardware", "tensor_parallel"), ctx.spec.hardware.tensor_parallel))
        if ctx.spec.inference is not None and (ctx.spec.inference.tensor_parallel or 1) > 1:
            checks.append((("inference", "tensor_parallel"), ctx.spec.inference.tensor_parallel))
        for key, tp in checks:
            problem = _problem(arch.n_heads, arch.kv_heads, tp)
            if problem:
                good = [d for d in range(1, min(arch.n_heads, 64) + 1) if _problem(arch.n_heads, arch.kv_heads, d) is None]
                yield self.finding(ctx, key, problem,
                                   fix=f"use a tensor-parallel degree of {', '.join(map(str, good[-4:]))}")


RULE = TensorParallelHeads
