from __future__ import annotations

from llmspec.lint.rule import Rule

_NEEDS = {"bf16-mixed": "bf16", "bf16": "bf16", "fp8-mixed": "fp8", "fp8": "fp8"}
_GENERATIONS = {"bf16": "Ampere (A100, A10G, RTX 30xx) / CDNA2 (MI200) or later",
                "fp8": "Ada (L4, L40S, RTX 40xx), Hopper (H100, H200), Blackwell or CDNA3 (MI300)"}


class PrecisionSupport(Rule):
    """The accelerator lacks the precision the spec trains or serves in (bf16 on V100/T4, fp8 before Ada/Hopper).

    Read from the catalog's capability flags (`bf16`, `fp8`; `llmspec accelerators` lists them, and
    llmspec.toml can add entries). Checks training.precision, training.base_dtype and inference.precision.
    On a part without native support the run fails at start (fp8 kernels) or falls back to slow emulation
    (bf16 matmuls on Volta/Turing are not tensor-core accelerated).

    Why:
    bfloat16 tensor-core math arrived with NVIDIA Ampere (A100 whitepaper, 2020) and AMD CDNA2; fp8 (E4M3/E5M2)
    with Ada and Hopper (H100 whitepaper, 2022; Micikevicius et al. 2022, "FP8 Formats for Deep Learning") and
    AMD CDNA3. V100 (Volta) and T4 (Turing) have fp16 tensor cores only.

    Bad:
    ```toml
    [training]
    precision = "bf16-mixed"

    [hardware]
    accelerator = "V100"
    ```

    Good:
    ```toml
    [training]
    precision = "fp16-mixed"

    [hardware]
    accelerator = "V100"
    ```
    """

    code = "HW001"
    name = "precision-not-supported"
    severity = "error"

    def check(self, ctx):
        acc = ctx.accelerator
        if acc is None:
            return
        wanted = []
        if ctx.spec.training is not None:
            wanted.append((("training", "precision"), ctx.spec.training.precision))
            if ctx.spec.training.base_dtype:
                wanted.append((("training", "base_dtype"), ctx.spec.training.base_dtype))
        if ctx.spec.inference is not None:
            wanted.append((("inference", "precision"), ctx.spec.inference.precision))
            if ctx.spec.inference.kv_cache_precision == "fp8":
                wanted.append((("inference", "kv_cache_precision"), "fp8"))
        for key, precision in wanted:
            need = _NEEDS.get(precision)
            if need and not getattr(acc, need):
                alt = "fp16" + ("-mixed" if precision.endswith("-mixed") else "") if need == "bf16" else (
                    "bf16-mixed" if precision == "fp8-mixed" and acc.bf16 else "bf16" if acc.bf16 else "fp16")
                yield self.finding(
                    ctx, key,
                    f"{key[-1]} = {precision!r} needs {need} support, which {acc.name} ({acc.architecture}) lacks",
                    fix=f"use {alt!r} on {acc.name}, or an accelerator of {_GENERATIONS[need]}",
                )


RULE = PrecisionSupport
