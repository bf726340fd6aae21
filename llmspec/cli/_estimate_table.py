"""Rich tables for `llmspec estimate` (presentation only; the numbers come from llmspec.estimate)."""

from __future__ import annotations

import shlex

from llmspec.textsafe import visible
from llmspec.units import format_bytes, format_count


def _text(value) -> str:
    """Spec text for rich markup: control characters visible, markup brackets escaped."""
    from rich.markup import escape

    return escape(visible(value))


def _gib(n) -> str:
    return "-" if n is None else format_bytes(n)


def _num(x, digits: int = 3) -> str:
    if x is None:
        return "-"
    return format_count(x) if abs(x) >= 1000 else f"{x:.{digits}g}"


def render(result, spec) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    p = result.params
    console.print(f"[bold]{_text(spec.model.name)}[/bold]  ({_text(result.spec_path)})")
    line = f"parameters {format_count(p.total)}"
    if p.active != p.total:
        line += f", active {format_count(p.active)}"
    if p.trainable != p.total:
        line += f", trainable {format_count(p.trainable)} ({100 * p.trainable / p.total:.2f}%)"
    console.print(line)
    measured = result.measured or {}
    for mode, mem in (("training", result.training), ("inference", result.inference)):
        if mem is None or (mem.assumed and mode not in measured):
            continue  # no [inference] table: nothing to say about serving (the JSON has it, marked "assumed")
        where = mem.accelerator or "unknown accelerator"
        if mem.accelerator_note:
            where += f"; {mem.accelerator_note}"
        title = f"{mode} memory per GPU ({where})" + (" [assumed: no [inference] table]" if mem.assumed else "")
        table = Table(title=_text(title), title_justify="left")
        table.add_column("part")
        table.add_column("estimate", justify="right")
        m = measured.get(mode)
        if m:
            table.add_column("measured part", style="dim")
            table.add_column("measured", justify="right")
        mparts = list((m or {}).get("breakdown", {}).items())
        rows = list(mem.breakdown.items())
        for i in range(max(len(rows), len(mparts))):
            cells = [rows[i][0], _gib(rows[i][1])] if i < len(rows) else ["", ""]
            if m:
                cells += [mparts[i][0], _gib(mparts[i][1])] if i < len(mparts) else ["", ""]
            table.add_row(*cells)
        peak = [f"peak ({mem.peak_phase})", _gib(mem.per_gpu_bytes)]
        if m:
            err = (mem.per_gpu_bytes - m["peak_bytes"]) / m["peak_bytes"] * 100 if m["peak_bytes"] else 0.0
            peak += [f"peak ({m['peak_phase']}), estimate {err:+.1f}%", _gib(m["peak_bytes"])]
        table.add_row(*peak, style="bold")
        table.add_row("overhead (context, workspaces, fragmentation)", _gib(mem.overhead_bytes), *([""] * 2 if m else []))
        verdict = {True: "[green]fits[/green]", False: "[red]does not fit[/red]", None: "capacity unknown"}[mem.fits]
        table.add_row(f"total vs {_gib(mem.capacity_bytes)}: {verdict}", _gib(mem.total_bytes),
                      *([""] * 2 if m else []), style="bold")
        con = mem.concurrency  # paged engines: "fits" means it starts; the count says how many run at once
        if con is not None:
            queued = f" ({con.queued} queue)" if con.queued else ""
            table.add_row(f"concurrent sequences of {con.tokens_per_sequence} tokens (of {con.requested} asked)",
                          f"{con.max_concurrent}{queued}", *([""] * 2 if m else []), style="bold")
        console.print(table)
        for note in mem.assumptions:
            console.print(f"  [dim]- {_text(note)}[/dim]")
        for note in (m or {}).get("emulated", []):
            console.print(f"  [dim]- measured: {_text(note)}[/dim]")
    c = result.compute
    table = Table(title="compute", title_justify="left")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    rows = [
        ("training FLOPs per token", _num(c.flops_per_token)),
        ("tokens", _num(c.tokens)),
        ("tokens per optimizer step", _num(c.tokens_per_step)),
        ("optimizer steps", _num(c.steps)),
        ("total FLOPs", "-" if c.total_flops is None else f"{c.total_flops:.3g}"),
        ("wall-clock hours", _num(c.wall_hours)),
        ("GPU-hours", _num(c.gpu_hours)),
        ("cost (USD)", _num(c.cost)),
        ("decode tokens/s (upper bound)", _num(c.decode_tokens_per_s)),
        ("prefill tokens/s (upper bound)", _num(c.prefill_tokens_per_s)),
    ]
    if c.training_assumed:  # no [training] table: only the serving bounds describe the spec
        rows = rows[-2:]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for note in [] if c.training_assumed else c.assumptions:
        console.print(f"  [dim]- {_text(note)}[/dim]")
    if result.fits:
        console.print("[bold]what would fit[/bold] (cheapest first):")
        for i, fix in enumerate(result.fits, 1):
            console.print(f"  {i}. {visible(fix.mode)}: {visible(fix.description)}: {_gib(fix.total_bytes)} of "
                          f"{_gib(fix.capacity_bytes)} ({fix.impact})", markup=False)
            console.print(f"     {' '.join('--set ' + shlex.quote(visible(a)) for a in fix.set_args)}", markup=False)
