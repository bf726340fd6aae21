from __future__ import annotations

from llmspec.lint.rule import Rule
from llmspec.units import format_count

KEY = ("training", "epochs")
FINE_TUNING = ("full", "lora", "qlora")


class SmallDataManyEpochs(Rule):
    """Fine-tuning repeats a dataset smaller than the trainable parameters for several epochs: memorisation risk.

    When a fine-tuning set has fewer tokens than the run has trainable parameters, the model has the capacity
    to store it; every extra epoch moves it from learning the task towards reciting the training examples
    (and leaking them). Checked for method full / lora / qlora when the dataset size is known.

    Why:
    Tirumala et al. 2022, "Memorization Without Overfitting: Analyzing the Training Dynamics of Large Language
    Models": larger models memorise training data faster, before they overfit by validation loss. Carlini et
    al. 2023, "Quantifying Memorization Across Neural Language Models": memorisation grows log-linearly with
    model capacity and with the number of times an example is repeated.

    Thresholds:
    max_epochs = 2 (passes over a small set before the finding); min_tokens_per_trainable_param = 1.0 (a set
    with fewer tokens than trainable parameters counts as small).

    Bad:
    ```toml
    [training]
    method = "full"
    epochs = 10
    dataset_tokens = "3M"
    ```

    Good:
    ```toml
    [training]
    method = "full"
    epochs = 2
    dataset_tokens = "3M"
    ```
    """

    code = "OVF003"
    name = "small-data-many-epochs"
    severity = "warning"
    thresholds = {"max_epochs": 2, "min_tokens_per_trainable_param": 1.0}

    def check(self, ctx):
        training = ctx.spec.training
        if training is None or training.method not in FINE_TUNING or not training.tokens_per_epoch:
            return
        if training.epochs <= float(self.t["max_epochs"]):
            return
        trainable = ctx.params.trainable
        tokens = training.tokens_per_epoch
        if tokens < trainable * float(self.t["min_tokens_per_trainable_param"]):
            yield self.finding(
                ctx, KEY,
                f"{training.epochs:g} epochs over {format_count(tokens)} tokens with {format_count(trainable)} "
                f"trainable parameters ({tokens / trainable:.2g} tokens per parameter): memorisation risk",
                fix=f"train at most {float(self.t['max_epochs']):g} epochs, add data, or train fewer parameters "
                    "(LoRA with a small rank)",
            )


RULE = SmallDataManyEpochs
