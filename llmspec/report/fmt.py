"""Number formatting shared by the report and the diff (one place, so both say the same thing)."""

from __future__ import annotations

from llmspec.units import format_count

GIB = 2**30


def gib(n: float | None, digits: int = 1) -> str:
    """Bytes as GiB with one decimal ("61.2 GiB"); MiB below 1 GiB so that tiny models do not read 0.0."""
    if n is None:
        return "n/a"
    if abs(n) < GIB:
        return f"{n / 2**20:,.{digits}f} MiB"
    return f"{n / GIB:,.{digits}f} GiB"


def count(n: float | None) -> str:
    """6_738_415_616 -> "6.74B"; None -> "n/a"."""
    return "n/a" if n is None else format_count(n)


def exact(n: int | None) -> str:
    return "n/a" if n is None else f"{int(n):,}"


def pct(part: float, whole: float) -> str:
    if not whole:
        return "n/a"
    share = 100 * part / whole
    return "<0.1%" if 0 < share < 0.05 else f"{share:.1f}%"


def money(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"${x:,.0f}" if abs(x) >= 100 else f"${x:,.2f}"


def hours(x: float | None) -> str:
    if x is None:
        return "n/a"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:,.1f}" if x >= 1 else f"{x:.2g}"


def flops(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def flop(x: float | None) -> str:
    """Floating-point operations with an SI prefix up to tera ("449 GFLOP"), and in scientific notation from
    1e15 on, as scaling-law papers write training budgets ("5.01e18 FLOP", "1.80e21 FLOP")."""
    if x is None:
        return "n/a"
    if abs(x) >= 1e15:
        mantissa, exponent = f"{x:.2e}".split("e")
        return f"{mantissa}e{int(exponent)} FLOP"
    for scale, prefix in _SI:
        if abs(x) >= scale:
            return f"{x / scale:.3g} {prefix}FLOP"
    return f"{x:.3g} FLOP"


def signed_pct(old: float | None, new: float | None) -> str:
    """Relative change "+53%" / "-12%" / "±0%"; "new" when old is 0 or missing."""
    if old is None or new is None:
        return ""
    if old == 0:
        return "" if new == 0 else "new"
    change = 100 * (new - old) / abs(old)
    if change >= 900 and old > 0:
        return f"{new / old:.0f}x"
    if abs(change) < 0.05:
        return "±0%"
    return f"{change:+.0f}%" if abs(change) >= 10 else f"{change:+.1f}%"


def label(key: str) -> str:
    """breakdown key -> words: "optimizer_states" -> "optimizer states"."""
    return key.replace("_", " ").replace("+", " + ")


def metric(x: float | None) -> str:
    """Eval metric values: 4 significant digits, thousands separators instead of exponents (48,210 not 4.821e+04)."""
    if x is None:
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"
