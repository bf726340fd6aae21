from __future__ import annotations

from llmspec.lint.rule import Rule
from llmspec.lint.rules._budget import hw_summary, over

KEY = ("hardware", "budget_gpu_hours")


class GpuHoursBudget(Rule):
    """Estimated GPU-hours exceed hardware.budget_gpu_hours (warning above 90% of it).

    GPU-hours = training FLOPs / (peak dense TFLOP/s at the training precision x hardware.mfu), from llmspec's
    compute estimate: 6N FLOPs per token for full training (4N for LoRA, +2N with activation checkpointing,
    active N for MoE) plus the attention term, over dataset tokens x epochs.

    Why:
    Kaplan et al. 2020, "Scaling Laws for Neural Language Models", section 2.1 (C = 6ND); Chowdhery et al.
    2022 (PaLM), appendix B, for the attention FLOPs and model FLOP utilisation (MFU; 0.3-0.5 is typical for
    dense training at scale, hardware.mfu defaults to 0.4).

    Thresholds:
    warn_fraction = 0.9 (warn when the estimate uses more than 90% of the budget).

    Bad:
    ```toml
    [training]
    method = "full"
    dataset_tokens = "1B"
    epochs = 3

    [hardware]
    accelerator = "A100-80GB"
    count = 8
    sharding = "fsdp"
    budget_gpu_hours = 100
    ```

    Good:
    ```toml
    [training]
    method = "full"
    dataset_tokens = "1B"
    epochs = 3

    [hardware]
    accelerator = "A100-80GB"
    count = 8
    sharding = "fsdp"
    budget_gpu_hours = 1000
    ```
    """

    code = "BUD001"
    name = "gpu-hours-over-budget"
    severity = "error"
    thresholds = {"warn_fraction": 0.9}

    def check(self, ctx):
        hw = ctx.spec.hardware
        if ctx.spec.training is None or hw is None or hw.budget_gpu_hours is None:
            return
        c = ctx.estimate("compute")
        yield from over(self, ctx, c.gpu_hours, hw.budget_gpu_hours, KEY, "GPU-hours", "",
                        fix=f"({hw_summary(ctx)}) train on fewer tokens or epochs, use LoRA, or raise the budget")


RULE = GpuHoursBudget
