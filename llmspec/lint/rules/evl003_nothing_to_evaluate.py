from __future__ import annotations

from llmspec.lint.rule import Rule


class NothingToEvaluate(Rule):
    """An [eval] table with no checkpoint to evaluate: neither eval.model nor model.weights is set.

    `llmspec eval` loads eval.model, else model.weights. With neither, the eval step of CI fails at load time
    instead of gating anything.

    Why:
    The eval runner needs a checkpoint path or hub id (docs: eval.model "defaults to [model].weights").

    Bad:
    ```toml
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
    ```
    """

    code = "EVL003"
    name = "eval-without-checkpoint"
    severity = "warning"

    def check(self, ctx):
        ev = ctx.spec.eval
        if ev is not None and not ev.model and not ctx.spec.model.weights:
            yield self.finding(ctx, ("eval",), "[eval] is set but there is no checkpoint to evaluate",
                               fix='set model.weights (or eval.model) to a checkpoint folder or hub id')


RULE = NothingToEvaluate
