from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("sampling", "temperature")


class TemperatureRange(Rule):
    """Sampling temperature outside [0, 2].

    Temperature divides the logits before the softmax: 0 is greedy decoding, 1 the model's own distribution.
    Above 2 the distribution is close to uniform over the plausible tokens and the text degenerates.

    Why:
    The OpenAI and most hosted APIs reject temperatures above 2 ("between 0 and 2", OpenAI API reference,
    chat completions). Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration", show that the
    unreliable tail of the distribution dominates as the distribution flattens, producing incoherent text.

    Thresholds:
    max_temperature = 2.0 (OpenAI API range).

    Bad:
    ```toml
    [sampling]
    temperature = 2.5
    ```

    Good:
    ```toml
    [sampling]
    temperature = 0.7
    ```
    """

    code = "SMP001"
    name = "temperature-out-of-range"
    severity = "error"
    thresholds = {"max_temperature": 2.0}

    def check(self, ctx):
        sampling = ctx.spec.sampling
        limit = float(self.t["max_temperature"])
        if sampling is not None and not 0 <= sampling.temperature <= limit:
            yield self.finding(
                ctx, KEY,
                f"temperature = {sampling.temperature:g} is outside [0, {limit:g}]: the output is close to random",
                fix="use 0-0.3 for deterministic tasks, 0.7-1.0 for open-ended text",
            )


RULE = TemperatureRange
