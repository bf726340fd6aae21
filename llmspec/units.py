"""Human-friendly sizes: ``"40M"`` tokens, ``"6.74B"`` parameters, ``"80GiB"`` of memory.

Counts use decimal SI suffixes (K=1e3, M=1e6, B=G=1e9, T=1e12), as papers and model cards do.
Memory accepts both binary (KiB, MiB, GiB, TiB) and decimal (KB, MB, GB, TB) units; a bare number is bytes.
"""

from __future__ import annotations

import math
import re

_COUNT_SUFFIX = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9, "T": 10**12}
_BYTE_SUFFIX = {
    "": 1, "B": 1,
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40,
}
_NUMBER = r"[0-9][0-9_]*(?:\.[0-9_]+)?(?:[eE][+-]?[0-9]+)?"
_COUNT_RE = re.compile(rf"^\s*({_NUMBER})\s*([KkMBGTt]?)\s*$")
_BYTES_RE = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-z]*)\s*$")


def _number(value: object, what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a {what}, got a boolean")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        raise ValueError(f"expected a {what}")
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number


def parse_count(value: object) -> int:
    """``"40M"`` -> 40_000_000; ``"6.74B"`` -> 6_740_000_000; ``3_000`` -> 3000."""
    if isinstance(value, str):
        match = _COUNT_RE.match(value)
        if not match:
            raise ValueError(
                f"cannot read {value!r} as a count; write a number or a number with K, M, B or T, e.g. \"40M\""
            )
        number = float(match.group(1).replace("_", "")) * _COUNT_SUFFIX[match.group(2).upper()]
    else:
        number = _number(value, "count")
    if not math.isfinite(number):
        raise ValueError(f"count must be finite, got {value!r}")
    if number < 0:
        raise ValueError(f"count must not be negative, got {value!r}")
    return int(round(number))


def parse_bytes(value: object) -> int:
    """``"80GiB"`` -> 85_899_345_920; ``"24GB"`` -> 24_000_000_000; ``1024`` -> 1024."""
    if isinstance(value, str):
        match = _BYTES_RE.match(value)
        unit = match.group(2).upper() if match else None
        if not match or unit not in _BYTE_SUFFIX:
            raise ValueError(
                f"cannot read {value!r} as a memory size; write e.g. \"80GiB\", \"24GB\" or a number of bytes"
            )
        number = float(match.group(1).replace("_", "")) * _BYTE_SUFFIX[unit]
    else:
        number = _number(value, "memory size")
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"memory size must be a finite, non-negative amount, got {value!r}")
    return int(round(number))


def format_count(n: float) -> str:
    """6_738_415_616 -> "6.74B"."""
    for suffix, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{suffix}"
    return f"{n:.3g}" if isinstance(n, float) and not float(n).is_integer() else str(int(n))


def format_bytes(n: float) -> str:
    """85_899_345_920 -> "80.0 GiB"."""
    for suffix, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {suffix}"
    return f"{int(n)} B"
