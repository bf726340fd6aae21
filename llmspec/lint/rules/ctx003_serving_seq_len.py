from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("inference", "seq_len")


class ServingSeqLen(Rule):
    """The serving sequence length (KV cache per sequence) is longer than the context window.

    `inference.seq_len` sizes the KV cache for each concurrent sequence; beyond `context_length` the cache
    holds positions the model cannot use, and the memory estimate (MEM003) is inflated for nothing.

    Why:
    Serving engines cap the sequence at the model's maximum positions (vLLM `max_model_len` defaults to the
    config's max_position_embeddings and refuses larger values unless overridden); see CTX001 for why the model
    degrades past its window.

    Bad:
    ```toml
    [inference]
    seq_len = 32768
    ```

    Good:
    ```toml
    [inference]
    seq_len = 4096
    ```
    """

    code = "CTX003"
    name = "serving-seq-len-exceeds-context"
    severity = "error"

    def check(self, ctx):
        inference = ctx.spec.inference
        if inference is None or inference.seq_len is None:
            return
        window = ctx.spec.arch.context_length
        if inference.seq_len > window:
            yield self.finding(
                ctx, KEY,
                f"inference.seq_len = {inference.seq_len:,} exceeds the model's context_length = {window:,}",
                fix=f"set inference.seq_len = {window} or less",
            )


RULE = ServingSeqLen
