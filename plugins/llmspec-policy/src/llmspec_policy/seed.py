from __future__ import annotations

from llmspec.lint import Rule


class SeedRule(Rule):
    """A training run does not set a random seed ([training] seed).

    Without a seed, data order, dropout masks and adapter initialisation differ between runs, so a rerun to
    check a surprising result cannot reproduce it.

    Why:
    Organisation policy (example), following PyTorch's "Reproducibility" notes: seeding the random number
    generators is the first requirement for repeatable runs. Bouthillier et al. 2021, "Accounting for
    Variance in Machine Learning Benchmarks", show seed variance alone can exceed reported improvements.

    Bad:
    ```toml
    [training]
    method = "lora"
    ```

    Good:
    ```toml
    [training]
    method = "lora"
    seed = 42
    ```
    """

    code = "ORG002"
    name = "training-sets-seed"
    severity = "warning"

    def check(self, ctx):
        training = ctx.spec.training
        if training is not None and training.seed is None:
            yield self.finding(ctx, ("training",), "[training] sets no seed: the run cannot be reproduced",
                               fix="add seed = 42 (any fixed integer) to [training]")
