from __future__ import annotations

from llmspec.lint.rule import Rule


class GatePower(Rule):
    """A baseline gate (max_drop) that cannot be decided at its n, or cannot detect a drop of twice its margin.

    Each max_drop gate is tested at Holm's level alpha/m (m: the spec's max_drop gates). At n documents a test
    has a smallest reachable p-value; when it is above alpha/m no result can reject, and `llmspec eval` reports
    the gate UNDECIDABLE (exit 2) instead of letting it pass. When the test is decidable, this rule gives the
    smallest drop found with 80% power, assuming per-sample values in [0, 1] (sigma <= 0.5) and the unpaired
    variance 2 sigma^2 / n of the difference; a gate that misses a drop of twice its margin is flagged. n is the
    smallest of [eval].limit, the suite task's limit and the rows of a local task's data file.

    Why:
    Power of a one-sided level-a test: a true drop of margin + (z_(1-a) + z_0.8) * SE is detected with 80%
    probability (Chow, Shao & Wang, "Sample Size Calculations in Clinical Research", sec. 3.2). Paired data
    with non-negative correlation have at most the unpaired variance, so the figure is conservative.

    Bad:
    ```toml
    [eval]
    suites = ["smoke"]
    limit = 8

    [[eval.gates]]
    metric = "kb_mc/acc"
    max_drop = 0.05
    ```

    Good:
    ```toml
    [eval]
    suites = ["smoke"]

    [[eval.gates]]
    metric = "kb_mc/acc"
    min = 0.5
    ```
    """

    code = "EVL006"
    name = "gate-underpowered"
    severity = "warning"

    def check(self, ctx):
        ev = ctx.spec.eval
        if ev is None or not any(g.max_drop is not None for g in ev.gates):
            return
        from importlib.util import find_spec

        missing = next((m for m in ("numpy", "scipy") if find_spec(m) is None), None)
        if missing is not None:  # a core install (e.g. a pre-commit hook): say that power was not checked
            first = next(i for i, g in enumerate(ev.gates) if g.max_drop is not None)
            yield self.finding(
                ctx, ("eval", "gates", first, "max_drop"),
                f"the power of the max_drop gates was not checked ({missing} is not installed): an undecidable gate "
                "would pass any candidate",
                fix="install the eval extra (pip install 'llmspec-cli[eval]'; in a pre-commit hook, add it to "
                    "additional_dependencies) or run `llmspec eval --dry-run`")
            return
        from llmspec.eval.gateplan import plan_gates

        for p in plan_gates(ctx.spec):
            gate = ev.gates[p.index]
            where = ("eval", "gates", p.index, "max_drop")
            if p.undecidable:
                need = f"n >= {p.needed_n:,}" if p.needed_n else "far more documents"
                yield self.finding(
                    ctx, where,
                    f"gate {p.metric} is undecidable at n={p.n}: the smallest p-value {p.method} can reach is "
                    f"{p.floor:.3g}, above its level {p.level:.3g} (alpha {ev.alpha:g} / {round(ev.alpha / p.level)} max_drop gates)",
                    fix=f"evaluate {need}, use fewer max_drop gates or a larger eval.alpha", severity="error")
            elif p.detectable_drop is not None and gate.max_drop is not None and \
                    p.detectable_drop > 2 * gate.max_drop / (100.0 if gate.drop_unit == "percent" else 1.0):
                yield self.finding(
                    ctx, where,
                    f"gate {p.metric} detects with 80% power only drops of {p.detectable_drop:.3g} or more at "
                    f"n={p.n} (unpaired-variance assumption), over twice its max_drop {gate.max_drop:g}",
                    fix="evaluate more documents, allow a larger max_drop, or use fewer max_drop gates")


RULE = GatePower
