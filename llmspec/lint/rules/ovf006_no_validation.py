from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("training", "epochs")


def has_validation(training) -> bool:
    return bool(training.validation_split) or bool(training.data is not None and training.data.eval)


class NoValidation(Rule):
    """Several epochs with neither a validation split nor early stopping.

    After the first pass over the data, training loss keeps falling whether or not the model still improves;
    only a held-out loss shows when it starts to overfit. A multi-epoch run without validation data or early
    stopping cannot tell, and the last checkpoint may be the worst one.

    Why:
    Prechelt 1998, "Early Stopping - But When?" (Neural Networks: Tricks of the Trade): held-out error is the
    practical criterion for stopping before overfitting. Muennighoff et al. 2023 report validation loss rising
    with too many repeated epochs, and the SFT recipes cited in OVF004 select checkpoints on validation loss.

    Thresholds:
    min_epochs = 2 (from the second pass on, data is repeated).

    Bad:
    ```toml
    [training]
    epochs = 3
    ```

    Good:
    ```toml
    [training]
    epochs = 3
    validation_split = 0.05
    ```
    """

    code = "OVF006"
    name = "epochs-without-validation"
    severity = "warning"
    thresholds = {"min_epochs": 2}

    def check(self, ctx):
        training = ctx.spec.training
        if training is None or training.epochs < float(self.t["min_epochs"]):
            return
        if not has_validation(training) and not training.early_stopping:
            yield self.finding(
                ctx, KEY,
                f"epochs = {training.epochs:g} with no validation split, eval data or early stopping: overfitting "
                "would go unnoticed",
                fix="set training.validation_split (e.g. 0.05) or training.data.eval, and early_stopping = true",
            )


RULE = NoValidation
