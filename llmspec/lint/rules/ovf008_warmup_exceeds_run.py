from __future__ import annotations

from llmspec.lint.rule import Rule


class WarmupExceedsRun(Rule):
    """The learning-rate warmup is as long as the whole run (error) or more than half of it (warning).

    The run's optimizer steps come from llmspec's compute estimate: dataset tokens x epochs / (micro batch x
    seq_len x gradient accumulation x data-parallel GPUs), capped by max_steps. With warmup_steps at or above
    that, the learning rate never reaches its peak and the schedule after warmup never runs.

    Why:
    Warmup is a short ramp: Goyal et al. 2017 ("Accurate, Large Minibatch SGD") use 5 epochs of 90; GPT-3
    warms up over 375M of 300B tokens (Brown et al. 2020, appendix B); Llama over 2,000 steps; fine-tuning
    recipes use 3-10% of the steps (warmup_ratio 0.03 in Alpaca and QLoRA).

    Thresholds:
    max_fraction = 0.5 (warning when warmup takes more than half of the steps).

    Bad:
    ```toml
    [training]
    dataset_tokens = "10M"
    micro_batch_size = 8
    gradient_accumulation = 4
    seq_len = 2048
    warmup_steps = 500
    ```

    Good:
    ```toml
    [training]
    dataset_tokens = "10M"
    micro_batch_size = 8
    gradient_accumulation = 4
    seq_len = 2048
    warmup_steps = 10
    ```
    """

    code = "OVF008"
    name = "warmup-exceeds-run"
    severity = "error"
    thresholds = {"max_fraction": 0.5}

    def check(self, ctx):
        training = ctx.spec.training
        if training is None:
            return
        steps = ctx.estimate("compute").steps
        if not steps:
            return
        if training.warmup_steps is not None:
            warmup, key = training.warmup_steps, ("training", "warmup_steps")
        elif training.warmup_ratio is not None:
            warmup, key = training.warmup_ratio * steps, ("training", "warmup_ratio")
        else:
            return
        limit = float(self.t["max_fraction"])
        fix = f"warm up over 3-10% of the run: warmup_steps = {max(1, round(0.03 * steps))} (or warmup_ratio = 0.03)"
        if warmup >= steps:
            yield self.finding(ctx, key, f"warmup of {warmup:,.0f} steps is not shorter than the whole run "
                               f"({steps:,} optimizer steps): the learning rate never reaches its peak", fix=fix)
        elif warmup > limit * steps:
            yield self.finding(ctx, key, f"warmup of {warmup:,.0f} steps is {warmup / steps:.1%} of the run's "
                               f"{steps:,} optimizer steps (more than {limit:.0%})", fix=fix, severity="warning")


RULE = WarmupExceedsRun
