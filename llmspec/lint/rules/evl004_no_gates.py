from __future__ import annotations

from llmspec.lint.rule import Rule


class NoGates(Rule):
    """An [eval] table without gates: the eval step reports numbers but can never fail.

    Without [[eval.gates]], `llmspec eval` runs the suites and writes results, and CI stays green whatever
    the model scores. Add a gate for each metric you would act on.

    Why:
    A CI check that cannot fail does not protect the checkpoint; gates are how regressions block a merge
    (see docs on eval gates: absolute thresholds and allowed drops against a baseline).

    Bad:
    ```toml
    [model]
    name = "m"
    weights = "checkpoints/m"

    [eval]
    suites = ["smoke"]
    ```

    Good:
    ```toml
    [model]
    name = "m"
    weights = "checkpoints/m"

    [eval]
    suites = ["smoke"]

    [[eval.gates]]
    metric = "kb_mc/acc"
    min = 0.5
    ```
    """

    code = "EVL004"
    name = "eval-without-gates"
    severity = "info"

    def check(self, ctx):
        ev = ctx.spec.eval
        if ev is not None and not ev.gates:
            yield self.finding(ctx, ("eval",), "[eval] has no [[eval.gates]]: the eval step can never fail",
                               fix='add a gate, e.g. [[eval.gates]] metric = "task/acc", min = 0.5')


RULE = NoGates
