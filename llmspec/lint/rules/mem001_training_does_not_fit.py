from __future__ import annotations

from llmspec.lint.rule import Rule
from llmspec.lint.rules._memory import estimate_text, fixes_text, top_parts, where
from llmspec.units import format_bytes

KEY = ("training",)


class TrainingDoesNotFit(Rule):
    """The training run does not fit in its GPUs' memory.

    Uses llmspec's training-memory estimate (weights, gradients, optimizer states, activations, logits,
    sharding, plus CUDA context, workspaces and allocator overhead) against the accelerator's memory
    (hardware.memory, else the catalog). The message gives the estimate, the capacity, the largest parts, and
    the cheapest changes that the estimator's "what would fit" search found to bring the run under capacity,
    each with its figure and the `--set` arguments to try it. Checked when the spec has [training] and
    [hardware].

    Why:
    An out-of-memory error is found minutes to hours into a job, after scheduling and model loading. The
    estimator's formulas and their sources (Korthikanti et al. 2022 for activations; Rajbhandari et al. 2020
    for ZeRO sharding; PyTorch AMP semantics for mixed precision) are documented in llmspec.estimate, and its
    accuracy against measurements is tabulated in the repository.

    Bad:
    ```toml
    [training]
    method = "full"
    micro_batch_size = 8
    seq_len = 4096

    [hardware]
    accelerator = "A100-80GB"
    ```

    Good:
    ```toml
    [training]
    method = "lora"
    micro_batch_size = 4
    seq_len = 2048
    activation_checkpointing = true

    [hardware]
    accelerator = "A100-80GB"
    ```
    """

    code = "MEM001"
    name = "training-does-not-fit"
    severity = "error"

    def check(self, ctx):
        if ctx.spec.training is None or ctx.spec.hardware is None:
            return
        est = ctx.estimate("training_memory")
        if est.fits is not False:
            return
        yield self.finding(
            ctx, KEY,
            f"training needs {estimate_text(est)} but {where(ctx)} has {format_bytes(est.capacity_bytes)} per GPU "
            f"(largest parts: {top_parts(est)})",
            fix=fixes_text(ctx, "training"),
        )


RULE = TrainingDoesNotFit
