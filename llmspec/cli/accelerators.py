"""`llmspec accelerators`: the accelerator catalog."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def accelerators(fmt: str) -> int:
    """List the accelerator catalog: memory, bandwidth, peak dense TFLOP/s and capabilities.

    Names (or aliases) go into a spec's `[hardware] accelerator`. Add your own under
    `[accelerators.NAME]` in llmspec.toml or `[tool.llmspec.accelerators.NAME]` in pyproject.toml.
    """
    from pathlib import Path

    from llmspec.catalog import catalog
    from llmspec.spec.loader import _configured_accelerators

    table = catalog(_configured_accelerators(Path.cwd()))
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
    for col in ("name", "memory", "GB/s", "bf16", "fp16", "fp8", "fp32", "bf16?", "fp8?", "arch"):
        out.add_column(col, justify="left" if col in ("name", "arch") else "right")
    for name, acc in table.items():
        rate = lambda p: f"{acc.tflops[p]:g}" if p in acc.tflops else "-"  # noqa: E731
        out.add_row(
            name + (f" ({', '.join(acc.aliases)})" if acc.aliases else ""),
            format_bytes(acc.memory_bytes), f"{acc.bandwidth_gbs:g}",
            rate("bf16"), rate("fp16"), rate("fp8"), rate("fp32"),
            "yes" if acc.bf16 else "no", "yes" if acc.fp8 else "no", acc.architecture,
        )
    Console().print(out)
    return 0
