from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("model", "architecture", "n_kv_heads")


class KvHeadsDivideHeads(Rule):
    """n_heads is not divisible by n_kv_heads (grouped-query attention needs equal groups).

    With grouped-query attention each key/value head serves n_heads / n_kv_heads query heads. The division
    must be exact; every implementation (Hugging Face `repeat_kv`, FlashAttention, vLLM) assumes it.

    Why:
    Ainslie et al. 2023, "GQA: Training Generalized Multi-Query Transformer Models from Multi-Head
    Checkpoints", section 2.2: query heads are divided into G groups, each sharing one key and value head.
    Llama-2-70B and Llama-3 use 64 query heads over 8 KV heads; Mistral-7B 32 over 8.

    Bad:
    ```toml
    [model.architecture]
    n_layers = 32
    d_model = 4096
    n_heads = 32
    n_kv_heads = 6
    ffn_dim = 14336
    vocab_size = 32000
    context_length = 4096
    ```

    Good:
    ```toml
    [model.architecture]
    n_layers = 32
    d_model = 4096
    n_heads = 32
    n_kv_heads = 8
    ffn_dim = 14336
    vocab_size = 32000
    context_length = 4096
    ```
    """

    code = "ARC002"
    name = "kv-heads-do-not-divide-heads"
    severity = "error"

    def check(self, ctx):
        arch = ctx.spec.arch
        kv = arch.n_kv_heads
        if kv is not None and (kv > arch.n_heads or arch.n_heads % kv):
            divisors = [d for d in range(1, arch.n_heads + 1) if arch.n_heads % d == 0]
            near = sorted(divisors, key=lambda d: abs(d - kv))[:2]
            yield self.finding(
                ctx, KEY,
                f"n_heads = {arch.n_heads} is not divisible by n_kv_heads = {kv}: query heads cannot be split "
                "into equal groups",
                fix=f"use an n_kv_heads that divides {arch.n_heads}, e.g. {' or '.join(map(str, sorted(near)))}",
            )


RULE = KvHeadsDivideHeads
