from __future__ import annotations

from llmspec.lint.rule import Rule


class ImpossibleGate(Rule):
    """An eval gate that no result can pass: min above max, or a proportion metric required above 1.

    A gate with `min > max` fails whatever the model scores, so CI is red for every checkpoint. Accuracy,
    F1 and exact match are proportions in [0, 1]; `min = 75` was probably meant as 0.75.

    Why:
    A gate is the conjunction metric >= min and metric <= max; the interval is empty when min > max. lm-eval
    reports acc, f1 and exact_match as fractions in [0, 1] (not percentages).

    Bad:
    ```toml
    [[eval.gates]]
    metric = "arc_easy/acc"
    min = 75
    ```

    Good:
    ```toml
    [[eval.gates]]
    metric = "arc_easy/acc"
    min = 0.75
    ```
    """

    code = "EVL002"
    name = "impossible-gate"
    severity = "error"

    def check(self, ctx):
        from llmspec.lint.rules.evl001_gate_resolution import _PROPORTION

        ev = ctx.spec.eval
        if ev is None:
            return
        for i, gate in enumerate(ev.gates):
            if gate.min is not None and gate.max is not None and gate.min > gate.max:
                yield self.finding(ctx, ("eval", "gates", i, "min"),
                                   f"gate {gate.metric}: min = {gate.min:g} is above max = {gate.max:g}; no score passes",
                                   fix="swap or correct min and max")
            elif gate.min is not None and gate.min > 1 and _PROPORTION.search(gate.metric.split("/")[1]):
                yield self.finding(ctx, ("eval", "gates", i, "min"),
                                   f"gate {gate.metric}: min = {gate.min:g}, but this metric is a proportion in [0, 1]",
                                   fix=f"write min = {gate.min / 100:g} if a percentage was meant")


RULE = ImpossibleGate
