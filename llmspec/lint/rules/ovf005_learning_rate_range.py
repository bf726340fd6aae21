from __future__ import annotations

import math

from llmspec.lint.rule import Rule

KEY = ("training", "learning_rate")

# GPT-3 (Brown et al. 2020, table 2.1): parameters -> peak learning rate (Adam). Data, used for pretraining bounds.
GPT3_LR = ((125e6, 6.0e-4), (350e6, 3.0e-4), (760e6, 2.5e-4), (1.3e9, 2.0e-4), (2.7e9, 1.6e-4),
           (6.7e9, 1.2e-4), (13e9, 1.0e-4), (175e9, 0.6e-4))


def gpt3_lr(n: float) -> float:
    """Log-log interpolation of GPT-3's learning rate at n parameters (clamped to the table's ends)."""
    if n <= GPT3_LR[0][0]:
        return GPT3_LR[0][1]
    for (n0, lr0), (n1, lr1) in zip(GPT3_LR, GPT3_LR[1:]):
        if n <= n1:
            w = (math.log(n) - math.log(n0)) / (math.log(n1) - math.log(n0))
            return math.exp(math.log(lr0) + w * (math.log(lr1) - math.log(lr0)))
    return GPT3_LR[-1][1]


class LearningRateRange(Rule):
    """A learning rate outside the usual range for the method, optimizer and model size.

    Ranges (AdamW and Adam, incl. 8-bit): full fine-tuning `full`; LoRA and QLoRA `lora` (about 10x the full
    fine-tuning rate); pretraining between `pretrain_low` and `pretrain_high` times GPT-3's rate for the model's
    size (larger models need lower rates). Lion runs 3 to 10x lower than AdamW, so its range is the AdamW range
    divided by 10 (low end) and 3 (high end). SGD and Adafactor are not checked.

    Why:
    Full fine-tuning: 1e-5 to 2e-5 in Alpaca, Vicuna and Llama 2-Chat SFT (Touvron et al. 2023); preference
    tuning goes down to 5e-7 (DPO, Rafailov et al. 2023). LoRA/QLoRA: 1e-4 to 2e-4 (Dettmers et al. 2023,
    QLoRA, appendix B; Hu et al. 2021, LoRA), and Biderman et al. 2024, "LoRA Learns Less and Forgets Less",
    find LoRA's best rates about an order of magnitude above full fine-tuning's. Pretraining: GPT-3's table 2.1
    (6e-4 at 125M down to 6e-5 at 175B); Llama uses 1.5e-4 to 3e-4. Lion: Chen et al. 2023, "Symbolic
    Discovery of Optimization Algorithms", section 5: "the default learning rate for Lion is typically 3-10x
    smaller than that for AdamW".

    Thresholds:
    full = [1e-7, 1e-4]; lora = [5e-5, 1e-3] (qlora too); pretrain_low = 0.1 and pretrain_high = 5 (x GPT-3's
    rate at this size); lion_divisor = [10, 3].

    Bad:
    ```toml
    [training]
    method = "lora"
    learning_rate = 2e-5
    ```

    Good:
    ```toml
    [training]
    method = "lora"
    learning_rate = 2e-4
    ```
    """

    code = "OVF005"
    name = "learning-rate-out-of-range"
    severity = "warning"
    thresholds = {"full": [1e-7, 1e-4], "lora": [5e-5, 1e-3], "pretrain_low": 0.1, "pretrain_high": 5,
                  "lion_divisor": [10, 3]}

    def check(self, ctx):
        training = ctx.spec.training
        if training is None or training.optimizer in ("sgd", "adafactor"):
            return
        method = training.method
        if method == "pretrain":
            base = gpt3_lr(ctx.params.active)
            low, high = base * float(self.t["pretrain_low"]), base * float(self.t["pretrain_high"])
            basis = f"pretraining a {_size(ctx.params.active)} model (GPT-3 used {_lr(base)})"
            typical = 2 * base
        else:
            low, high = (float(x) for x in self.t["lora" if method in ("lora", "qlora") else "full"])
            basis = f"{method} fine-tuning"
            typical = TYPICAL["lora" if method in ("lora", "qlora") else "full"]
        if training.optimizer == "lion":
            div_low, div_high = (float(x) for x in self.t["lion_divisor"])
            low, high = low / div_low, high / div_high
            basis += " with Lion (3-10x below AdamW)"
            typical /= 5
        typical = min(max(typical, low), high)
        lr = training.learning_rate
        if lr < low or lr > high:
            where = "below" if lr < low else "above"
            hint = {("lora", "below"): "; LoRA needs about 10x the full fine-tuning rate",
                    ("qlora", "below"): "; QLoRA needs about 10x the full fine-tuning rate",
                    ("full", "above"): "; this is a LoRA-sized rate, which erases pretrained knowledge in full fine-tuning"}
            yield self.finding(
                ctx, KEY,
                f"learning_rate = {_lr(lr)} is {where} the usual range [{_lr(low)}, {_lr(high)}] for {basis}"
                f"{hint.get((method, where), '')}",
                fix=f"use a learning rate in [{_lr(low)}, {_lr(high)}], typically {_lr(typical)}",
            )


# Typical AdamW rates (the recipes cited in the docstring): full fine-tuning 2e-5, LoRA/QLoRA 2e-4.
TYPICAL = {"full": 2e-5, "lora": 2e-4}


def _lr(x: float) -> str:
    """2e-05 -> "2e-5", 0.0003 -> "3e-4"."""
    mantissa, exponent = f"{x:.1e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def _size(n: float) -> str:
    from llmspec.units import format_count

    return format_count(n)


RULE = LearningRateRange
