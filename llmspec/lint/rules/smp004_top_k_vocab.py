from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("sampling", "top_k")


class TopKVocab(Rule):
    """top_k is larger than the vocabulary, so it truncates nothing.

    top_k keeps the k most likely tokens. With k at or above vocab_size every token survives and the setting
    does nothing; it usually means the value was copied from another model or meant as a percentage.

    Why:
    Fan et al. 2018, "Hierarchical Neural Story Generation" (top-k sampling, k = 10 in the paper; 40-50 is the
    common default, e.g. transformers' top_k = 50). A k larger than the vocabulary is a no-op in
    transformers' TopKLogitsWarper (k = min(top_k, vocab)).

    Bad:
    ```toml
    [sampling]
    top_k = 50000
    ```

    Good:
    ```toml
    [sampling]
    top_k = 50
    ```
    """

    code = "SMP004"
    name = "top-k-exceeds-vocab"
    severity = "warning"

    def check(self, ctx):
        s = ctx.spec.sampling
        vocab = ctx.spec.arch.vocab_size
        if s is not None and s.top_k is not None and s.top_k >= vocab:
            yield self.finding(
                ctx, KEY, f"top_k = {s.top_k:,} is not below vocab_size = {vocab:,}: it keeps every token",
                fix="use a small k (40-50 is common), or remove top_k",
            )


RULE = TopKVocab
