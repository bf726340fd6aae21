from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("training", "epochs")


class SftEpochs(Rule):
    """Fine-tuning for more epochs than the usual 1 to 3.

    Supervised fine-tuning of a pretrained model converges in a few passes; beyond that, validation loss rises
    and the model overfits the style and content of the training set. Checked for method full / lora / qlora.

    Why:
    Published SFT recipes train 1-3 epochs: Stanford Alpaca 3 epochs; Vicuna 3; Tulu 2 (Ivison et al. 2023)
    2 epochs; Llama 2-Chat SFT 2 epochs (Touvron et al. 2023, section 3.1); Hugging Face TRL's default is 3.
    Longer schedules (InstructGPT's 16 epochs, Ouyang et al. 2022) were chosen against a reward model, with the
    overfitting of validation loss noted.

    Thresholds:
    max_epochs = 3 (published SFT recipes).

    Bad:
    ```toml
    [training]
    method = "lora"
    epochs = 8
    ```

    Good:
    ```toml
    [training]
    method = "lora"
    epochs = 3
    ```
    """

    code = "OVF004"
    name = "too-many-sft-epochs"
    severity = "warning"
    thresholds = {"max_epochs": 3}

    def check(self, ctx):
        training = ctx.spec.training
        limit = float(self.t["max_epochs"])
        if training is not None and training.method in ("full", "lora", "qlora") and training.epochs > limit:
            yield self.finding(
                ctx, KEY,
                f"epochs = {training.epochs:g} for {training.method} fine-tuning; the usual range is 1 to {limit:g}",
                fix=f"train at most {limit:g} epochs, with a validation split and early stopping",
            )


RULE = SftEpochs
