"""Shared logic of the budget rules: estimate vs budget, error above it, warning close to it."""

from __future__ import annotations


def over(rule, ctx, estimate: float | None, budget: float | None, key: tuple, what: str, unit: str, fix: str):
    if estimate is None or budget is None:
        return
    warn_at = float(rule.t["warn_fraction"]) * budget
    if estimate > budget:
        yield rule.finding(ctx, key, f"estimated {what}: {estimate:,.{_digits(estimate)}f}{unit}, over the budget of "
                           f"{budget:,g}{unit} ({estimate / budget:.0%} of it)", fix=fix)
    elif estimate > warn_at:
        yield rule.finding(ctx, key, f"estimated {what}: {estimate:,.{_digits(estimate)}f}{unit}, "
                           f"{estimate / budget:.0%} of the budget of {budget:,g}{unit}: no margin for restarts or "
                           "a lower utilisation than assumed", fix=fix, severity="warning")


def _digits(value: float) -> int:
    return 0 if value >= 100 else 1 if value >= 10 else 2


def hw_summary(ctx) -> str:
    hw = ctx.spec.hardware
    c = ctx.estimate("compute")
    tokens = f"{c.tokens / 1e9:.3g}B tokens" if c.tokens else "the run"
    return (f"{tokens} at {c.flops_per_token / 1e9:.3g} GFLOP/token on {hw.world_size} GPU(s) at "
            f"mfu {hw.mfu:g}")
