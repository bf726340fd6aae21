from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("training", "precision")


class Fp16OnBf16Hardware(Rule):
    """Training in fp16 on an accelerator that supports bf16.

    fp16 has a 5-bit exponent: gradients underflow and activations overflow unless a dynamic loss scaler
    intervenes, and large models still diverge. bf16 keeps fp32's 8-bit exponent, needs no loss scaling and is
    as fast wherever it is supported.

    Why:
    Kalamkar et al. 2019, "A Study of BFLOAT16 for Deep Learning Training": bf16 matches fp32 convergence
    without loss scaling. The BLOOM team report fp16 instabilities at 104B parameters that disappeared with bf16
    (Le Scao et al. 2022, BigScience "BLOOM", section 3.5); Micikevicius et al. 2018, "Mixed Precision
    Training", explain the loss scaling fp16 needs.

    Bad:
    ```toml
    [training]
    precision = "fp16-mixed"

    [hardware]
    accelerator = "A100-80GB"
    ```

    Good:
    ```toml
    [training]
    precision = "bf16-mixed"

    [hardware]
    accelerator = "A100-80GB"
    ```
    """

    code = "HW002"
    name = "fp16-on-bf16-hardware"
    severity = "info"

    def check(self, ctx):
        acc, training = ctx.accelerator, ctx.spec.training
        if acc is None or training is None or not acc.bf16:
            return
        if training.precision in ("fp16-mixed", "fp16"):
            better = training.precision.replace("fp16", "bf16")
            yield self.finding(
                ctx, KEY,
                f"precision = {training.precision!r} on {acc.name}, which supports bf16: fp16 needs loss scaling "
                "and can overflow",
                fix=f"use precision = {better!r}",
            )


RULE = Fp16OnBf16Hardware
