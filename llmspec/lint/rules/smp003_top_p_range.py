from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("sampling", "top_p")


class TopPRange(Rule):
    """top_p outside (0, 1].

    Nucleus sampling keeps the smallest set of tokens whose probabilities add up to top_p; it is a probability
    mass, so it lies in (0, 1]. 0 keeps nothing (engines either reject it or silently fall back to greedy), and
    values above 1 are rejected.

    Why:
    Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration" (nucleus sampling, p in (0, 1]).
    vLLM's SamplingParams raises "top_p must be in (0, 1]"; transformers' TopPLogitsWarper requires
    0 <= top_p <= 1.

    Bad:
    ```toml
    [sampling]
    top_p = 1.5
    ```

    Good:
    ```toml
    [sampling]
    top_p = 0.9
    ```
    """

    code = "SMP003"
    name = "top-p-out-of-range"
    severity = "error"

    def check(self, ctx):
        s = ctx.spec.sampling
        if s is not None and s.top_p is not None and not 0 < s.top_p <= 1:
            yield self.finding(
                ctx, KEY, f"top_p = {s.top_p:g} is outside (0, 1]; it is a probability mass",
                fix="use 0.9-0.95 for sampling, or remove top_p (same as 1.0)",
            )


RULE = TopPRange
