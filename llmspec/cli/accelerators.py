"""`llmspec accelerators`: the accelerator catalog."""

from __future__ import annotations

import json

import click


@click.command(short_help="List the GPU catalog: memory, TFLOP/s, bf16/fp8.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def accelerators(fmt: str) -> int:
    """List the accelerator catalog: memory, bandwidth, peak dense TFLOP/s and capabilities.

    Names (or aliases) go into a spec's `[hardware] accelerator`. Add your own under
    `[accelerators.NAME]` in llmspec.toml or `[tool.llmspec.accelerators.NAME]` in pyproject.toml.
    """
    from pathlib import Path

    from llmspec.catalog import catalog
    from llmspec.config import ConfigError, configured_accelerators

    try:
        table = catalog(configured_accelerators(Path.cwd()))
    except ConfigError as exc:
        click.echo(f"llmspec accelerators: {exc}", err=True)
        raise SystemExit(2) from None
    if fmt == "json":
        click.echo(json.dumps({n: {"memory_bytes": a.memory_bytes, "bandwidth_gbs": a.bandwidth_gbs,
                                   "tflops": dict(a.tflops), "bf16": a.bf16, "fp8": a.fp8,
                                   "vendor": a.vendor, "architecture": a.architecture,
                                   "aliases": list(a.aliases), "source": a.source}
                               for n, a in table.items()}, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    from llmspec.units import format_bytes

    out = Table(title="Accelerator catalog (peak dense TFLOP/s)")
    for col in ("name", "memory", "GB/s", "fp32", "bf16/fp16", "fp8", "supports"):
        out.add_column(col, justify="left" if col in ("name", "supports") else "right", no_wrap=True)
    for name, acc in table.items():
        rate = lambda p, acc=acc: f"{acc.tflops[p]:g}" if p in acc.tflops else "-"  # noqa: E731
        half = rate("bf16") if "bf16" in acc.tflops else rate("fp16")
        supports = " ".join(p for p, ok in (("bf16", acc.bf16), ("fp8", acc.fp8)) if ok) or "-"
        out.add_row(name, format_bytes(acc.memory_bytes), f"{acc.bandwidth_gbs:g}", rate("fp32"), half,
                    rate("fp8"), supports)
    Console().print(out)
    return 0
