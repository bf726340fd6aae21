from __future__ import annotations

import math

from llmspec.lint.rule import Rule
from llmspec.units import format_count

KEY = ("training", "dataset_tokens")


class ChinchillaUndertraining(Rule):
    """Pretraining on far fewer tokens than Chinchilla's ~20 per parameter: the model is under-trained.

    Checked for method = "pretrain" when the token count is known (dataset_tokens, or dataset_examples x
    mean_example_tokens, times epochs). Below the threshold, the same compute would give a lower loss with a
    smaller model trained on more tokens; the finding gives the compute-optimal size for this budget.
    Training past 20 tokens per parameter (Llama-style over-training for cheaper inference) is normal and not
    flagged. For mixture-of-experts models the active parameters are used.

    Why:
    Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models" (Chinchilla): for compute-optimal
    training, parameters and tokens scale equally, about 20 tokens per parameter (their table 3). With
    training compute C = 6ND (Kaplan et al. 2020), the compute-optimal size is N = sqrt(C / 120).

    Thresholds:
    min_tokens_per_param = 10 (half of Chinchilla's ~20); tokens_per_param = 20 (Chinchilla).

    Bad:
    ```toml
    [training]
    method = "pretrain"
    dataset_tokens = "20B"
    ```

    Good:
    ```toml
    [training]
    method = "pretrain"
    dataset_tokens = "140B"
    ```
    """

    code = "OVF002"
    name = "chinchilla-undertraining"
    severity = "warning"
    thresholds = {"min_tokens_per_param": 10, "tokens_per_param": 20}

    def check(self, ctx):
        training = ctx.spec.training
        if training is None or training.method != "pretrain" or not training.tokens_per_epoch:
            return
        tokens = training.tokens_per_epoch * training.epochs
        n = ctx.params.active
        ratio = tokens / n
        if ratio < float(self.t["min_tokens_per_param"]):
            optimal = float(self.t["tokens_per_param"])
            n_opt = math.sqrt(6 * n * tokens / (6 * optimal))
            key = KEY if ctx.set(*KEY) else ("training", "dataset_examples") if ctx.set("training", "dataset_examples") else ("training",)
            yield self.finding(
                ctx, key,
                f"{format_count(tokens)} training tokens for {format_count(n)} parameters = {ratio:.3g} tokens per "
                f"parameter, far below Chinchilla's ~{optimal:g}",
                fix=f"train on ~{format_count(n * optimal)} tokens, or, for the same compute, a ~{format_count(n_opt)}-"
                    f"parameter model on ~{format_count(n_opt * optimal)} tokens",
            )


RULE = ChinchillaUndertraining
