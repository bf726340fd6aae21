from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("training", "seq_len")


class TrainSeqLen(Rule):
    """The training sequence length is longer than the model's context window.

    `training.seq_len` (default 2048) must not exceed `model.architecture.context_length`: a model with learned
    position embeddings has no rows for the extra positions (an index error), and a RoPE model trained past its
    window without a position-interpolation scheme sees rotation angles it was never trained on.

    Why:
    Learned absolute positions (GPT-2, OPT) are a table of context_length rows. For RoPE, Chen et al. 2023,
    "Extending Context Window of Large Language Models via Positional Interpolation", show that direct
    extrapolation beyond the trained window fails and that extension needs interpolation plus fine-tuning, which
    is then reflected in a larger context_length.

    Bad:
    ```toml
    [training]
    seq_len = 8192
    ```

    Good:
    ```toml
    [training]
    seq_len = 4096
    ```
    """

    code = "CTX001"
    name = "train-seq-len-exceeds-context"
    severity = "error"

    def check(self, ctx):
        training = ctx.spec.training
        if training is None:
            return
        window = ctx.spec.arch.context_length
        if training.seq_len > window:
            default = "" if ctx.set("training", "seq_len") else " (the default)"
            yield self.finding(
                ctx, KEY,
                f"training.seq_len = {training.seq_len:,}{default} exceeds the model's context_length = {window:,}",
                fix=f"set training.seq_len = {window} or less (or extend the context window first and raise "
                    "context_length)",
            )


RULE = TrainSeqLen
