from __future__ import annotations

from llmspec.lint.rule import Rule


class GreedyIgnoresSampling(Rule):
    """top_p, top_k or min_p are set, but temperature = 0 means greedy decoding, which ignores them.

    With temperature 0 the engine takes the arg-max token; truncation parameters change nothing. Usually the
    author meant to sample (and the temperature is wrong) or the truncation settings are left over.

    Why:
    Hugging Face transformers warns for the same combination (GenerationConfig.validate: "`do_sample` is set to
    `False`. However, `top_p` is set to ... -- this flag is only used in sample-based generation modes"); vLLM
    treats temperature 0 as greedy and ignores top_p/top_k.

    Bad:
    ```toml
    [sampling]
    temperature = 0
    top_p = 0.9
    ```

    Good:
    ```toml
    [sampling]
    temperature = 0
    ```
    """

    code = "SMP002"
    name = "greedy-ignores-sampling"
    severity = "warning"

    def check(self, ctx):
        s = ctx.spec.sampling
        if s is None or s.temperature != 0:
            return
        ignored = []
        if s.top_p is not None and s.top_p < 1:
            ignored.append(("top_p", s.top_p))
        if s.top_k is not None and s.top_k > 0:
            ignored.append(("top_k", s.top_k))
        if s.min_p is not None and s.min_p > 0:
            ignored.append(("min_p", s.min_p))
        for key, value in ignored:
            yield self.finding(
                ctx, ("sampling", key),
                f"{key} = {value:g} has no effect: temperature = 0 decodes greedily",
                fix=f"remove {key}, or set a temperature > 0 if sampling was intended",
            )


RULE = GreedyIgnoresSampling
