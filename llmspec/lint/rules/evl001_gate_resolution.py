from __future__ import annotations

import math
import re

from llmspec.lint.rule import Rule

_PROPORTION = re.compile(r"(^|_)(acc|accuracy|f1|exact_match|em|precision|recall|pass@\d+|mc\d?)($|_|,)", re.I)


def resolution(n: int, alpha: float) -> float:
    """Smallest drop (in proportion points) a one-sided test at level alpha can resolve with n examples, in the
    worst case (p = 0.5, independent samples): z_(1-alpha) * sqrt(2 * 0.25 / n)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(1 - alpha) * math.sqrt(0.5 / n)


class GateResolution(Rule):
    """An eval gate allows a drop smaller than the evaluation can measure with eval.limit examples.

    With `eval.limit = n`, a proportion metric (accuracy, F1, exact match) has a standard error up to
    0.5 / sqrt(n), and the difference of two runs up to sqrt(0.5 / n). A gate whose max_drop (in points) is
    below the one-sided z-threshold times that cannot do its job: in "regression" mode it lets real drops up
    to the resolution through; in "non_inferiority" mode it fails a model that did not regress.

    Why:
    Normal approximation to the binomial: SE(p) = sqrt(p(1-p)/n) <= 0.5/sqrt(n); for two independent runs the
    variances add. Pairing (same items) reduces the variance only as far as answers agree, so the unpaired
    figure is the conservative bound. See Miller 2024, "Adding Error Bars to Evals" (Anthropic), sections 2-4.

    Bad:
    ```toml
    [eval]
    limit = 100

    [[eval.gates]]
    metric = "arc_easy/acc"
    max_drop = 0.01
    ```

    Good:
    ```toml
    [eval]
    limit = 5000

    [[eval.gates]]
    metric = "arc_easy/acc"
    max_drop = 0.03
    ```
    """

    code = "EVL001"
    name = "gate-below-resolution"
    severity = "warning"

    def check(self, ctx):
        ev = ctx.spec.eval
        if ev is None or not ev.limit:
            return
        res = resolution(ev.limit, ev.alpha)
        for i, gate in enumerate(ev.gates):
            if gate.max_drop is None or gate.drop_unit != "points" or not _PROPORTION.search(gate.metric.split("/")[1]):
                continue
            if gate.max_drop < res:
                need = math.ceil(0.5 * (_z(ev.alpha) / gate.max_drop) ** 2) if gate.max_drop > 0 else None
                fix = (f"evaluate at least {need:,} examples (eval.limit), or allow max_drop >= {res:.3f}"
                       if need else f"allow max_drop >= {res:.3f}")
                yield self.finding(
                    ctx, ("eval", "gates", i, "max_drop"),
                    f"max_drop = {gate.max_drop:g} for {gate.metric} is below the {res:.3f} that {ev.limit:,} examples "
                    f"can resolve at alpha = {ev.alpha:g}",
                    fix=fix,
                )


def _z(alpha: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(1 - alpha)


RULE = GateResolution
