from __future__ import annotations

from llmspec.lint.rule import Rule
from llmspec.lint.rules._budget import hw_summary, over

KEY = ("hardware", "budget_hours")


class WallClockBudget(Rule):
    """Estimated wall-clock time exceeds hardware.budget_hours (warning above 90% of it).

    Wall-clock hours = GPU-hours / GPUs, from the compute estimate of BUD001 (no queueing, checkpointing or
    evaluation time included, so the real run is longer).

    Why:
    Time = training FLOPs / (GPUs x peak TFLOP/s x MFU): Kaplan et al. 2020 section 2.1 (C = 6ND) and
    Chowdhery et al. 2022 (PaLM) appendix B for MFU.

    Thresholds:
    warn_fraction = 0.9 (warn when the estimate uses more than 90% of the budget).

    Bad:
    ```toml
    [training]
    method = "lora"
    dataset_tokens = "200M"
    epochs = 3

    [hardware]
    accelerator = "L4"
    budget_hours = 2
    ```

    Good:
    ```toml
    [training]
    method = "lora"
    dataset_tokens = "200M"
    epochs = 3

    [hardware]
    accelerator = "L4"
    budget_hours = 200
    ```
    """

    code = "BUD003"
    name = "wall-clock-over-budget"
    severity = "error"
    thresholds = {"warn_fraction": 0.9}

    def check(self, ctx):
        hw = ctx.spec.hardware
        if ctx.spec.training is None or hw is None or hw.budget_hours is None:
            return
        c = ctx.estimate("compute")
        yield from over(self, ctx, c.wall_hours, hw.budget_hours, KEY, "wall-clock hours", "",
                        fix=f"({hw_summary(ctx)}) add GPUs, train on fewer tokens, use LoRA, or raise the budget")


RULE = WallClockBudget
