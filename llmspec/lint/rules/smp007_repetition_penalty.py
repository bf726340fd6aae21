from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("sampling", "repetition_penalty")


class RepetitionPenalty(Rule):
    """repetition_penalty below 1 (rewards repetition) or far above the usual 1.1-1.3.

    The penalty divides the logits of tokens already generated. Below 1 it makes repetition *more* likely;
    well above 1.2 it suppresses tokens that must repeat (names, numbers, function words, code identifiers) and
    the output drifts.

    Why:
    Keskar et al. 2019, "CTRL: A Conditional Transformer Language Model for Controllable Generation", section
    4.1, introduced the penalty and report that theta = 1.2 "yields a good balance between truthful generation
    and lack of repetition"; 1.0 means no penalty.

    Thresholds:
    min_penalty = 1.0 (no penalty); max_penalty = 1.5 (well above CTRL's 1.2).

    Bad:
    ```toml
    [sampling]
    repetition_penalty = 2.0
    ```

    Good:
    ```toml
    [sampling]
    repetition_penalty = 1.1
    ```
    """

    code = "SMP007"
    name = "repetition-penalty-out-of-range"
    severity = "warning"
    thresholds = {"min_penalty": 1.0, "max_penalty": 1.5}

    def check(self, ctx):
        s = ctx.spec.sampling
        if s is None or s.repetition_penalty is None:
            return
        low, high = float(self.t["min_penalty"]), float(self.t["max_penalty"])
        p = s.repetition_penalty
        if p < low:
            yield self.finding(ctx, KEY, f"repetition_penalty = {p:g} is below {low:g}: it rewards repetition",
                               fix="use 1.0 (off) to 1.2 (CTRL's recommendation)")
        elif p > high:
            yield self.finding(ctx, KEY, f"repetition_penalty = {p:g} is above {high:g}: it suppresses tokens that "
                               "must repeat (names, numbers, identifiers)", fix="use 1.1-1.2 (CTRL's recommendation)")


RULE = RepetitionPenalty
