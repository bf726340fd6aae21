from __future__ import annotations

from llmspec.lint.rule import Rule
from llmspec.lint.rules.ovf006_no_validation import has_validation

KEY = ("training", "early_stopping")


class EarlyStoppingWithoutValidation(Rule):
    """early_stopping = true, but there is no validation data to stop on.

    Early stopping watches a held-out loss; without validation_split or training.data.eval there is none, so
    trainers either fail at start (Hugging Face's EarlyStoppingCallback needs an eval dataset and
    metric_for_best_model) or never stop.

    Why:
    Prechelt 1998, "Early Stopping - But When?": the stopping criterion is computed on a validation set
    disjoint from the training data. transformers' EarlyStoppingCallback asserts that evaluation is enabled.

    Bad:
    ```toml
    [training]
    early_stopping = true
    ```

    Good:
    ```toml
    [training]
    early_stopping = true
    validation_split = 0.05
    ```
    """

    code = "OVF009"
    name = "early-stopping-without-validation"
    severity = "error"

    def check(self, ctx):
        training = ctx.spec.training
        if training is not None and training.early_stopping and not has_validation(training):
            yield self.finding(
                ctx, KEY, "early_stopping = true but there is no validation data (validation_split or data.eval)",
                fix="set training.validation_split (e.g. 0.05) or training.data.eval",
            )


RULE = EarlyStoppingWithoutValidation
