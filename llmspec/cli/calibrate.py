"""`llmspec calibrate`: compare run records (written by the llmspec.integrations callbacks) with the estimate."""

from __future__ import annotations

import click


@click.command("calibrate", short_help="Compare run records with the spec's memory estimate, part by part.")
@click.argument("records", metavar="RECORD...", nargs=-1, required=True)
@click.option("--spec", "spec_path", default=None, metavar="SPEC",
              help="The spec the runs used, when it is not at the path the record names (it must hash the same).")
@click.option("--as-run", is_flag=True,
              help="Estimate for what the run did where it differed from the spec (its values as --set overrides).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people; json (schema_version 1) for scripts.")
def calibrate_cmd(records: tuple[str, ...], spec_path: str | None, as_run: bool, fmt: str) -> int:
    """Compare each RECORD (run-record.json from LlmspecCallback / LlmspecLightningCallback) with the estimate of
    its spec: parameters, weights, gradients and optimizer states counted from the run's tensors, and on CUDA the
    peak allocated and reserved memory. The error is (estimate - measured) / measured. A record from a CPU run
    has no GPU peak, and the output says so rather than compare it. Where a run differed from its spec, the
    estimate is the spec's unless --as-run is given.

    Exit status 0; 2 when a file is not a run record, has another schema version, or its spec has changed.
    """
    from llmspec.integrations.calibrate import RecordError, calibrate, render_summary, render_text, summary

    try:
        results = [calibrate(path, spec_path, as_run) for path in records]
    except RecordError as exc:
        from llmspec.textsafe import visible

        click.echo(visible(exc), err=True)
        return 2
    if fmt == "json":
        from llmspec.textsafe import json_dumps

        click.echo(json_dumps({"schema_version": 1, "records": [c.to_dict() for c in results],
                               "summary": summary(results)}, indent=2))
    else:
        click.echo("\n\n".join(render_text(c) for c in results) + "\n\n" + render_summary(summary(results)))
    return 0
