"""Charts as SVG text, drawn with matplotlib (the ``report`` extra), imported lazily with the Agg backend.

One chart: memory per GPU as horizontal stacked bars (training, inference), one segment per breakdown part plus
the overhead, against a vertical line at the GPU's capacity. Output is deterministic (fixed hash salt, no date
metadata) so that reports are reproducible build artifacts and diffs of them are meaningful.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

INSTALL_HINT = "install the report extra for charts: pip install 'llmspec-cli[report]'"

# Colour-blind safe qualitative palettes: Okabe & Ito 2008 ("Color Universal Design") without black (it reads as
# text), then Paul Tol's "muted" scheme (personal.sron.nl/~pault) for breakdowns with more parts.
_PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
            "#332288", "#117733", "#882255", "#44AA99", "#999933", "#AA4499", "#88CCEE", "#DDCC77", "#661100"]
_OVERHEAD = "#B0B0B0"
CAPACITY = "#C00000"


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def memory_chart(bars: Sequence[tuple[str, Mapping[str, float]]], capacity: float | None,
                 capacity_label: str) -> str | None:
    """``bars`` = [(label, {part: bytes, ...}), ...] with an optional "overhead" part; returns SVG or None when
    matplotlib is missing. Values are plotted in GiB."""
    if not matplotlib_available():
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure  # Figure directly: no pyplot global state, safe in a library

    gib = 2**30
    parts: list[str] = []
    for _, breakdown in bars:
        for key in breakdown:
            if key != "overhead" and key not in parts:
                parts.append(key)
    colours = {p: _PALETTE[i % len(_PALETTE)] for i, p in enumerate(parts)}
    colours["overhead"] = _OVERHEAD

    with matplotlib.rc_context({"svg.hashsalt": "llmspec", "svg.fonttype": "path", "font.size": 9}):
        fig = Figure(figsize=(8.0, 1.2 + 0.55 * len(bars) + 0.25 * ((len(parts) + 4) // 4)))
        ax = fig.add_subplot()
        labels = [label for label, _ in bars]
        ys = list(range(len(bars)))[::-1]
        handles: dict[str, tuple[Any, str]] = {}
        largest = 0.0
        for y, (_, breakdown) in zip(ys, bars):
            left = 0.0
            for key in [*parts, "overhead"]:
                value = breakdown.get(key, 0) / gib
                if value <= 0:
                    continue
                name = key.replace("_", " ")
                bar = ax.barh(y, value, left=left, color=colours[key], edgecolor="white", linewidth=0.5,
                              height=0.6, hatch="//" if key == "overhead" else None)
                handles.setdefault(key, (bar, name))
                left += value
            largest = max(largest, left)
            ax.text(left, y, f" {left:,.1f} GiB", va="center", fontsize=8,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0, "alpha": 0.85})
        if capacity:
            cap = capacity / gib
            ax.axvline(cap, color=CAPACITY, linestyle="--", linewidth=1.5)
            left_of_line = cap >= 0.7 * max(largest, cap)  # keep the label inside the axes, clear of the line
            # parse_math=False: the name is text; a "$" in a custom accelerator's name would start mathtext
            ax.text(cap, len(bars) - 0.45, f" {capacity_label}: {cap:,.1f} GiB ", color=CAPACITY, fontsize=8,
                    va="bottom", ha="right" if left_of_line else "left", parse_math=False)
            largest = max(largest, cap)
        ax.set_yticks(ys, labels)
        ax.set_xlim(0, largest * 1.2 or 1)
        ax.set_ylim(-0.6, len(bars) - 0.1)
        ax.set_xlabel("GiB per GPU")
        ax.spines[["top", "right"]].set_visible(False)
        order = [k for k in [*parts, "overhead"] if k in handles]
        ax.legend([handles[k][0] for k in order], [handles[k][1] for k in order], loc="upper center",
                  bbox_to_anchor=(0.5, -0.35 if len(bars) > 1 else -0.6), ncol=min(4, len(order) or 1),
                  frameon=False, fontsize=8)
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "llmspec"}, bbox_inches="tight")
    return _strip_prolog(buffer.getvalue())


def _strip_prolog(svg: str) -> str:
    """Drop the XML declaration and DOCTYPE so the SVG can be inlined in HTML (a standalone file keeps them)."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def standalone(svg: str) -> str:
    """An inline SVG as a file of its own (for Markdown, written beside the report)."""
    body = svg if re.search(r"<svg[^>]*xmlns=", svg) else svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
    return '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n' + body
