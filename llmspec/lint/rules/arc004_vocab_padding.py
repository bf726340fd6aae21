from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("model", "architecture", "vocab_size")


class VocabPadding(Rule):
    """The vocabulary of a model trained from scratch is not padded to a multiple of 64 (a speed problem).

    Checked only for `method = "pretrain"`: when fine-tuning an existing checkpoint the embedding shape is
    given. The embedding and output-head matmuls have the vocabulary as one dimension; a size that is not a
    multiple of 64 leaves tensor cores partly idle on every step.

    Why:
    NVIDIA's "Matrix Multiplication Background User's Guide" (Deep Learning Performance documentation):
    tensor cores are used most efficiently when matrix dimensions are multiples of 64 bytes-worth of elements
    on A100 and later (multiples of 8 for fp16 at minimum). Karpathy's nanoGPT pads GPT-2's 50,257 tokens to
    50,304 ("nearest multiple of 64 for efficiency"), a measured ~25% speed-up of the step; Megatron-LM pads
    the vocabulary for the same reason (`--make-vocab-size-divisible-by`, default 128).

    Thresholds:
    multiple = 64 (nanoGPT; NVIDIA's guide).

    Bad:
    ```toml
    [model.architecture]
    n_layers = 12
    d_model = 768
    n_heads = 12
    ffn_dim = 3072
    vocab_size = 50257
    context_length = 1024

    [training]
    method = "pretrain"
    ```

    Good:
    ```toml
    [model.architecture]
    n_layers = 12
    d_model = 768
    n_heads = 12
    ffn_dim = 3072
    vocab_size = 50304
    context_length = 1024

    [training]
    method = "pretrain"
    ```
    """

    code = "ARC004"
    name = "vocab-not-padded"
    severity = "warning"
    thresholds = {"multiple": 64}

    def check(self, ctx):
        training = ctx.spec.training
        if training is None or training.method != "pretrain":
            return
        vocab, multiple = ctx.spec.arch.vocab_size, int(self.t["multiple"])
        if multiple > 1 and vocab % multiple:
            padded = -(-vocab // multiple) * multiple
            yield self.finding(
                ctx, KEY,
                f"vocab_size = {vocab:,} is not a multiple of {multiple}; the embedding and head matmuls run "
                "below tensor-core efficiency",
                fix=f"pad vocab_size to {padded:,} (the extra {padded - vocab} rows are never sampled)",
            )


RULE = VocabPadding
