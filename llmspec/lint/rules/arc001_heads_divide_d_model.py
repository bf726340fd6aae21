from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("model", "architecture", "n_heads")


class HeadsDivideDModel(Rule):
    """d_model is not divisible by n_heads, and head_dim is not given.

    Without an explicit head_dim, the per-head width is d_model / n_heads. When that is not a whole number the
    attention projections cannot be split into heads: Hugging Face models raise at construction ("hidden_size
    must be divisible by num_heads") and the parameter and memory estimates are meaningless.

    Why:
    Multi-head attention splits the d_model-wide projection into n_heads equal heads (Vaswani et al. 2017,
    "Attention Is All You Need", section 3.2.2: d_k = d_v = d_model / h). Models whose head width differs from
    d_model / n_heads (Gemma, Qwen3) state head_dim explicitly.

    Bad:
    ```toml
    [model.architecture]
    n_layers = 24
    d_model = 1000
    n_heads = 16
    ffn_dim = 4096
    vocab_size = 32000
    context_length = 2048
    ```

    Good:
    ```toml
    [model.architecture]
    n_layers = 24
    d_model = 1024
    n_heads = 16
    ffn_dim = 4096
    vocab_size = 32000
    context_length = 2048
    ```
    """

    code = "ARC001"
    name = "heads-do-not-divide-d-model"
    severity = "error"

    def check(self, ctx):
        arch = ctx.spec.arch
        if arch.head_dim is None and arch.d_model % arch.n_heads:
            lower = arch.d_model // arch.n_heads * arch.n_heads
            yield self.finding(
                ctx, KEY,
                f"d_model = {arch.d_model} is not divisible by n_heads = {arch.n_heads} "
                f"({arch.d_model / arch.n_heads:.3g} per head) and head_dim is not set",
                fix=f"choose n_heads that divides {arch.d_model}, a d_model such as {lower} or "
                    f"{lower + arch.n_heads}, or set head_dim explicitly",
            )


RULE = HeadsDivideDModel
