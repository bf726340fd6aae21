from __future__ import annotations

import math

from llmspec.lint.rule import Rule

KEY = ("training", "epochs")


def effective_data(unique: float, epochs: float, r_star: float) -> float:
    """Muennighoff et al. 2023, eq. 5: D' = U + U * R* * (1 - exp(-R / R*)), with R = epochs - 1 repetitions."""
    repetitions = max(0.0, epochs - 1)
    return unique + unique * r_star * (1 - math.exp(-repetitions / r_star))


class RepeatedPretrainingData(Rule):
    """Pretraining repeats its data for more epochs than stay worth their compute.

    For pretraining, repeating the corpus is nearly as good as fresh data for about 4 epochs; after that each
    further pass is worth less and less. The finding quotes the effective data D' and the share of the
    training compute spent on repetitions that add nothing. It is a warning above `warn_epochs`, and an error
    once one more epoch would be worth less than `min_epoch_value` of a fresh epoch.

    Why:
    Muennighoff et al. 2023, "Scaling Data-Constrained Language Models" (NeurIPS): "training with up to 4 epochs
    of repeated data yields negligible changes to loss compared to having unique data", and the value of
    repeated tokens decays exponentially: effective data D' = U + U*R*(1 - e^(-R/R*)), with U unique tokens,
    R = epochs - 1 repetitions and fitted R* ~ 15.4 (their eq. 5 and table 2). One more repetition is worth
    e^(-R/R*) of fresh data, under 10% past ~36 epochs.

    Thresholds:
    warn_epochs = 4 (Muennighoff et al.); r_star = 15.4 (fitted R_D*); min_epoch_value = 0.1 (error below).

    Bad:
    ```toml
    [training]
    method = "pretrain"
    epochs = 12
    dataset_tokens = "25B"
    ```

    Good:
    ```toml
    [training]
    method = "pretrain"
    epochs = 4
    dataset_tokens = "25B"
    ```
    """

    code = "OVF001"
    name = "repeated-pretraining-data"
    severity = "warning"
    thresholds = {"warn_epochs": 4, "r_star": 15.4, "min_epoch_value": 0.1}

    def check(self, ctx):
        training = ctx.spec.training
        if training is None or training.method != "pretrain" or training.epochs <= float(self.t["warn_epochs"]):
            return
        r_star = float(self.t["r_star"])
        epochs = training.epochs
        unique = training.tokens_per_epoch
        value_next = math.exp(-(epochs - 1) / r_star)
        effective = effective_data(1.0, epochs, r_star)  # in units of U
        wasted = 1 - effective / epochs
        tokens = ""
        if unique:
            from llmspec.units import format_count

            tokens = (f" over {format_count(unique)} unique tokens: {format_count(unique * epochs)} trained, worth "
                      f"D' = {format_count(unique * effective)} of fresh data")
        severe = value_next < float(self.t["min_epoch_value"])
        yield self.finding(
            ctx, KEY,
            f"{epochs:g} epochs{tokens or ''} (D' = {effective:.2f} x U after {epochs - 1:g} repetitions, R* = {r_star:g}); "
            f"{wasted:.0%} of the training compute adds no effective data, and one more epoch is worth "
            f"{value_next:.0%} of a fresh one",
            fix=f"train at most {float(self.t['warn_epochs']):g} epochs and add unique data, or spend the compute on "
                "a larger model over fewer epochs",
            severity="error" if severe else None,
        )


RULE = RepeatedPretrainingData
