from __future__ import annotations

from llmspec.lint.rule import Rule
from llmspec.lint.rules._budget import hw_summary, over

KEY = ("hardware", "budget_usd")


class CostBudget(Rule):
    """Estimated cost (GPU-hours x price_per_gpu_hour) exceeds hardware.budget_usd (warning above 90%).

    Uses the compute estimate of BUD001 times hardware.price_per_gpu_hour. A money budget without a price
    cannot be checked; that is reported as info.

    Why:
    Cost is GPU-hours times the hourly price (cloud list prices are per GPU-hour); see BUD001 for the FLOP
    count (Kaplan et al. 2020; PaLM appendix B) and the utilisation assumption.

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
    price_per_gpu_hour = 2.0
    budget_usd = 200
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
    price_per_gpu_hour = 2.0
    budget_usd = 2000
    ```
    """

    code = "BUD002"
    name = "cost-over-budget"
    severity = "error"
    thresholds = {"warn_fraction": 0.9}

    def check(self, ctx):
        hw = ctx.spec.hardware
        if ctx.spec.training is None or hw is None or hw.budget_usd is None:
            return
        if hw.price_per_gpu_hour is None:
            yield self.finding(ctx, KEY, "budget_usd is set but price_per_gpu_hour is not: the cost cannot be checked",
                               fix="set hardware.price_per_gpu_hour", severity="info")
            return
        c = ctx.estimate("compute")
        yield from over(self, ctx, c.cost, hw.budget_usd, KEY, "cost", " USD",
                        fix=f"({hw_summary(ctx)} at {hw.price_per_gpu_hour:g} USD per GPU-hour) train on fewer tokens "
                            "or epochs, use LoRA, cheaper GPUs, or raise the budget")


RULE = CostBudget
