from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("sweep", "objective")
DEFAULT_TRIALS = 20  # llmspec.sweep.space.DEFAULT_TRIALS: random / tpe without budget.max_trials


def planned_trials(sweep) -> int:
    if sweep.budget is not None and sweep.budget.max_trials is not None:
        return sweep.budget.max_trials
    if sweep.method == "grid":
        size = 1
        for param in sweep.parameters.values():
            size *= param.grid_size() or 1
        return size
    return DEFAULT_TRIALS


class BestOfNOptimism(Rule):
    """The best of N trials looks better on the validation suite than it is: sigma x E[max of N normals].

    With N trials whose true scores are close, the best validation score exceeds its true value by about
    sigma x E[max of N standard normals] (1.54 sigma for 10 trials, 2.51 sigma for 100). sigma is
    [sweep.objective] metric_sd when given, else the largest standard error of a [0, 1] metric on the validation
    suite, 0.5 / sqrt(validation_examples). Fires when that optimism is above max_optimism; an info finding says
    so when neither metric_sd nor validation_examples is set (the optimism cannot be computed).

    Why:
    Cawley & Talbot 2010, "On Over-fitting in Model Selection and Subsequent Selection Bias in Performance
    Evaluation" (JMLR 11): the maximum of N noisy estimates is biased upward, more with more candidates and
    smaller validation sets. E[max of N standard normals] is the expected maximum of N order statistics (David &
    Nagaraja, "Order Statistics"). Fewer trials, a larger validation suite, or a held-out confirmation
    ([sweep.objective] holdout_suite) keep the reported score honest.

    Thresholds:
    max_optimism = 0.02 (2 points of accuracy: the smallest change most release gates care about).

    Bad:
    ```toml
    [sweep.objective]
    metric = "kb_val/acc"
    validation_examples = 40

    [sweep.budget]
    max_trials = 200

    [sweep.parameters."training.learning_rate"]
    distribution = "log_uniform"
    low = 1e-5
    high = 1e-3
    ```

    Good:
    ```toml
    [sweep.objective]
    metric = "kb_val/acc"
    validation_examples = 100000

    [sweep.budget]
    max_trials = 20

    [sweep.parameters."training.learning_rate"]
    distribution = "log_uniform"
    low = 1e-5
    high = 1e-3
    ```
    """

    code = "SWP002"
    name = "best-of-n-optimism"
    severity = "warning"
    thresholds = {"max_optimism": 0.02}

    def check(self, ctx):
        sweep = ctx.spec.sweep
        if sweep is None or sweep.objective is None:
            return
        from llmspec.sweep.optimism import expected_max_normal, metric_sigma

        objective = sweep.objective
        n = planned_trials(sweep)
        if objective.metric_sd is not None:
            sigma, source = objective.metric_sd, f"metric_sd {objective.metric_sd:g}"
        elif objective.validation_examples is not None:
            sigma = metric_sigma(objective.validation_examples)
            source = f"0.5 / sqrt({objective.validation_examples:,} validation examples)"
        else:
            yield self.finding(ctx, KEY, f"the best-of-{n} optimism of the objective cannot be judged: the "
                               "validation suite's size is not given", severity="info",
                               fix="set [sweep.objective] validation_examples (or metric_sd)")
            return
        expected = expected_max_normal(n)
        optimism = sigma * expected
        limit = float(self.t["max_optimism"])
        if optimism > limit:
            yield self.finding(
                ctx, KEY,
                f"the best of {n:,} trials is expected to score {optimism:.3g} above its true value on the "
                f"validation suite (sigma {sigma:.3g} from {source}, x E[max of {n:,} normals] {expected:.2f}), "
                f"above max_optimism {limit:g}",
                fix=f"run fewer trials, validate on more examples (sigma x {expected:.2f} <= {limit:g} needs "
                    f"sigma <= {limit / expected:.3g}), and confirm the winner on [sweep.objective] holdout_suite",
            )


RULE = BestOfNOptimism
