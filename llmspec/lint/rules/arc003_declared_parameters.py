from __future__ import annotations

from llmspec.lint.rule import Rule
from llmspec.units import format_count

KEY = ("model", "parameters")


class DeclaredParameters(Rule):
    """The declared parameter count differs from the one computed from the architecture.

    `model.parameters` is what people read in a review ("a 7B model"); the architecture is what gets built.
    When they disagree by more than the tolerance, one of them is wrong: a typo in a dimension, a wrong
    n_kv_heads or ffn_dim, tied vs untied embeddings. For mixture-of-experts models either the total or the
    active count may be declared.

    Why:
    The computed count is exact for standard decoder families (llmspec.estimate.count_params, verified
    against transformers on the meta device, e.g. Llama-2-7B 6,738,415,616). Model names round to one or two
    significant digits (Llama-2-"7B" is 6.74B, 3.9% off), hence a 5% default tolerance; write the precise
    figure ("6.74B") and it passes at any tolerance.

    Thresholds:
    tolerance = 0.05 (relative difference; model names round to about 4%).

    Bad:
    ```toml
    [model]
    name = "llama-2-7b"
    parameters = "13B"
    ```

    Good:
    ```toml
    [model]
    name = "llama-2-7b"
    parameters = "6.74B"
    ```
    """

    code = "ARC003"
    name = "declared-parameters-mismatch"
    severity = "warning"
    thresholds = {"tolerance": 0.05}

    def check(self, ctx):
        declared = ctx.spec.model.parameters
        if not declared:
            return
        count = ctx.params
        candidates = {count.total, count.active}
        best = min(candidates, key=lambda n: abs(n - declared))
        off = abs(declared - best) / best
        if off > float(self.t["tolerance"]):
            what = "total" if best == count.total else "active"
            yield self.finding(
                ctx, KEY,
                f"declared parameters = {format_count(declared)} but the architecture has {count.total:,} "
                f"({format_count(count.total)}{', ' + format_count(count.active) + ' active' if count.active != count.total else ''}); "
                f"{off:.1%} off the {what} count, tolerance {float(self.t['tolerance']):.0%}",
                fix=f'set parameters = "{format_count(best)}", or fix the architecture dimension that is wrong',
            )


RULE = DeclaredParameters
