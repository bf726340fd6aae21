from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("training", "epochs")


class NoRegularisation(Rule):
    """Repeated data (several epochs) with no regularisation: weight decay, dropout and LoRA dropout all 0.

    Each extra pass over the same examples pushes the model towards memorising them; weight decay and dropout
    are the standard brakes. With all of them at 0 nothing counteracts it.

    Why:
    Xue et al. 2023, "To Repeat or Not To Repeat: Insights from Scaling LLM under Token-Crisis" (NeurIPS):
    multi-epoch training degrades models, and dropout is the most effective of the regularisers they tried
    against it. Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization" (AdamW), the usual 0.1 in
    LLM recipes (Llama, GPT-3); QLoRA uses LoRA dropout 0.05-0.1 (Dettmers et al. 2023, appendix B).

    Thresholds:
    max_epochs = 2 (more passes than this count as repeated data).

    Bad:
    ```toml
    [training]
    epochs = 4
    weight_decay = 0.0
    dropout = 0.0
    ```

    Good:
    ```toml
    [training]
    epochs = 4
    weight_decay = 0.1
    ```
    """

    code = "OVF007"
    name = "repeated-data-without-regularisation"
    severity = "warning"
    thresholds = {"max_epochs": 2}

    def check(self, ctx):
        training = ctx.spec.training
        if training is None or training.epochs <= float(self.t["max_epochs"]):
            return
        lora_dropout = training.lora.dropout if training.lora is not None and training.method in ("lora", "qlora") else 0.0
        if training.weight_decay == 0 and training.dropout == 0 and lora_dropout == 0:
            adapter = " (or training.lora.dropout = 0.05)" if training.method in ("lora", "qlora") else ""
            yield self.finding(
                ctx, KEY,
                f"epochs = {training.epochs:g} with {'weight_decay, dropout and lora.dropout all' if adapter else 'weight_decay and dropout both'} 0: "
                "nothing counteracts memorisation of the repeated data",
                fix=f"set training.weight_decay = 0.1 or training.dropout = 0.1{adapter}",
            )


RULE = NoRegularisation
