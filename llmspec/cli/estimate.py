"""`llmspec estimate`: parameters, memory, compute and what would fit, for people (table) or CI (json)."""

from __future__ import annotations

import click

from llmspec.cli._options import load_or_exit, set_option


@click.command("estimate", short_help="Parameters, memory per GPU, compute, time and cost.")
@click.argument("spec_path", metavar="SPEC")
@set_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table for people; json is the stable, versioned contract (schema_version) for CI.")
@click.option("--measure", is_flag=True,
              help="Also build the real transformers model under FakeTensorMode and measure the peak of one "
                   "training step / prefill (needs the eval extra: torch, transformers, peft; no GPU).")
def estimate_cmd(spec_path: str, overrides: tuple[str, ...], fmt: str, measure: bool) -> int:
    """Estimate parameters, per-GPU memory (training and inference), compute, time and cost of SPEC,
    and the cheapest changes that make it fit when it does not.

    Memory is the peak of allocated bytes (what torch.cuda.max_memory_allocated reports) plus a separate
    overhead (CUDA context, workspaces, fragmentation). Exit status 0; 2 for an invalid spec.
    """
    from llmspec.estimate import estimate

    spec = load_or_exit(spec_path, overrides)
    result = estimate(spec)
    result.spec_path = spec_path
    if measure:
        result.measured = _measure(spec)
    if fmt == "json":
        from llmspec.textsafe import json_dumps, non_finite

        data = result.to_dict()
        click.echo(json_dumps(data, indent=2))  # strict JSON: an overflow is null, and named on stderr
        for key in non_finite(data):
            click.echo(f"llmspec: warning: {key} overflowed (not a finite number) and is written as null; "
                       "check the spec's inputs to it (e.g. hardware.mfu)", err=True)
    else:
        from llmspec.cli._estimate_table import render

        render(result, spec)
    return 0


def _measure(spec) -> dict:
    try:
        import torch  # noqa: F401  (checked here so the message is about the extra, not a traceback)
        import transformers  # noqa: F401

        from llmspec.estimate import measure
        from llmspec.estimate.hfmap import UnsupportedArchitecture

        if spec.training is not None and spec.training.method in ("lora", "qlora"):
            import peft  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(
            f"--measure needs the eval extra ({exc.name} is not installed): pip install 'llmspec-cli[eval]'"
        ) from None
    out = {}
    try:
        if spec.training is not None:
            out["training"] = measure.measure_training(spec).to_dict()
        out["inference"] = measure.measure_inference(spec).to_dict()
    except UnsupportedArchitecture as exc:
        raise click.ClickException(f"--measure: {exc}") from None
    return out
