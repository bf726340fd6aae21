from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("sampling", "max_new_tokens")


class NoStopSequence(Rule):
    """A large max_new_tokens with no stop sequence.

    Without a stop sequence, generation ends only at the end-of-sequence token or at max_new_tokens. Base and
    lightly tuned models often never emit EOS, so each request runs to the full budget: latency and cost grow
    with max_new_tokens, and the tail is usually repetition.

    Why:
    Holtzman et al. 2020 ("The Curious Case of Neural Text Degeneration") document that likelihood-maximising
    decoding falls into repetition loops; a stop sequence (the chat template's end-of-turn token, a delimiter)
    bounds the damage. Decode time is linear in generated tokens (one forward pass per token).

    Thresholds:
    max_new_tokens = 1024 (above this, runaway generations are expensive).

    Bad:
    ```toml
    [sampling]
    max_new_tokens = 4096
    ```

    Good:
    ```toml
    [sampling]
    max_new_tokens = 4096
    stop = ["<|eot_id|>"]
    ```
    """

    code = "SMP006"
    name = "no-stop-sequence"
    severity = "warning"
    thresholds = {"max_new_tokens": 1024}

    def check(self, ctx):
        s = ctx.spec.sampling
        limit = int(self.t["max_new_tokens"])
        if s is not None and not s.stop and s.max_new_tokens > limit:
            yield self.finding(
                ctx, KEY,
                f"max_new_tokens = {s.max_new_tokens:,} (above {limit:,}) and no stop sequence: a run-away "
                "generation costs the full budget",
                fix='add stop sequences (e.g. stop = ["<|eot_id|>"] or the chat template\'s end-of-turn token)',
            )


RULE = NoStopSequence
