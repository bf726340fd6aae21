from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("sweep", "objective", "metric")


class ObjectiveIsReleaseGate(Rule):
    """The sweep tunes on the task that a release gate judges: the gate then passes on selection bias.

    Fires when the task of [sweep.objective] metric ("task/metric") is also the task of an [[eval.gates]]
    metric. The configuration chosen because it scored best on that task will score above its true level on the
    same task, so the gate no longer measures what the model does on new data.

    Why:
    Cawley & Talbot 2010, "On Over-fitting in Model Selection and Subsequent Selection Bias in Performance
    Evaluation" (JMLR 11): a score used to select among configurations is optimistically biased, and only data not
    used for the selection gives an unbiased estimate. Tune on a validation task; gate on another
    ([sweep.objective] holdout_suite confirms the winner on data it was not tuned on).

    Bad:
    ```toml
    [eval]
    suites = ["smoke"]

    [[eval.gates]]
    metric = "kb_mc/acc"
    min = 0.5

    [sweep.objective]
    metric = "kb_mc/acc"

    [sweep.parameters."training.learning_rate"]
    distribution = "log_uniform"
    low = 1e-5
    high = 1e-3
    ```

    Good:
    ```toml
    [eval]
    suites = ["smoke"]

    [[eval.gates]]
    metric = "kb_mc/acc"
    min = 0.5

    [sweep.objective]
    metric = "kb_val/acc"

    [sweep.parameters."training.learning_rate"]
    distribution = "log_uniform"
    low = 1e-5
    high = 1e-3
    ```
    """

    code = "SWP001"
    name = "sweep-objective-is-release-gate"
    severity = "warning"

    def check(self, ctx):
        sweep, ev = ctx.spec.sweep, ctx.spec.eval
        if sweep is None or sweep.objective is None or ev is None:
            return
        task = sweep.objective.metric.split("/", 1)[0]
        gates = [g.metric for g in ev.gates if g.metric.split("/", 1)[0] == task]
        if gates:
            yield self.finding(
                ctx, KEY,
                f"the sweep selects on task {task!r}, which the release gate {gates[0]!r} also judges: the winner's "
                "score there is biased upward by the selection",
                fix=f"tune on a validation task that no gate uses (a split of {task!r}), and keep {task!r} for the "
                    "gate; set [sweep.objective] holdout_suite to confirm the winner",
            )


RULE = ObjectiveIsReleaseGate
