"""What a reviewer reads: numbers in words and units (no raw field names or bare exponents), report files that
others can open, the chart's capacity as the tables state it, and diff sentences in plain English."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from report_helpers import EXAMPLES, ROOT, markdown_tables, run_cli

from llmspec.report import fmt

FSDP = ROOT / "examples" / "llama3-70b-full-fsdp-8xh100.toml"  # extends base/llama-3-70b.toml
LORA = ROOT / "examples" / "llama2-7b-lora-a100.toml"
SERVING_ONLY = ROOT / "examples" / "tiny-finetuned.toml"


def _details(text: str) -> dict[str, str]:
    compute = text.split("## Compute, time and cost", 1)[1].split("\n## ", 1)[0]
    tables = [t for t in markdown_tables(compute) if t[0] == ["Quantity", "Value"]]
    assert tables, compute
    return dict(tables[0][1:])


@pytest.mark.parametrize(
    "value, shown",
    [(None, "n/a"), (12, "12 FLOP"), (12_624_384, "12.6 MFLOP"), (449_230_454_784, "449 GFLOP"),
     (5.01e18, "5.01e18 FLOP"), (1.7969e21, "1.80e21 FLOP")],
)
def test_flop_is_si_per_token_and_scientific_for_training_budgets(value, shown):
    assert fmt.flop(value) == shown


def test_compute_details_are_in_words_with_units():
    result = run_cli("report", str(FSDP))
    assert result.exit_code == 0, result.output
    details = _details(result.stdout)
    assert details["Training FLOP per token (incl. recomputation)"] == "449 GFLOP"
    assert details["Training FLOP in total"] == "1.80e21 FLOP"
    assert details["Optimizer steps"] == "3,815"
    assert details["Tokens per optimizer step"] == "1.05M"
    # no recomputation here: model FLOP equals executed FLOP and is not repeated
    assert not any(k.startswith("Model FLOP") for k in details)
    for label, value in details.items():
        assert "_" not in label and "e+" not in value, (label, value)


def test_model_flop_is_shown_when_recomputation_makes_it_differ():
    details = _details(run_cli("report", str(LORA)).stdout)
    assert details["Model FLOP per token (what MFU counts)"] == "28 GFLOP"
    assert details["Training FLOP per token (incl. recomputation)"] == "41.8 GFLOP"


def test_a_spec_without_training_shows_no_training_quantities():
    details = _details(run_cli("report", str(SERVING_ONLY)).stdout)
    assert set(details) == {"Peak dense TFLOP/s per GPU", "Decode throughput bound, tokens/s",
                            "Prefill throughput bound, tokens/s"}


@pytest.mark.parametrize("spec_path", EXAMPLES, ids=lambda p: p.name)
def test_no_internal_field_names_or_awkward_plurals(spec_path: Path):
    text = run_cli("report", str(spec_path)).stdout
    for internal in ("per_gpu_bytes", "epoch(s)", "flops per token", "peak tflops", "tokens per s"):
        assert internal not in text, internal


def test_the_summary_says_epochs_in_words():
    summary = run_cli("report", str(FSDP)).stdout.split("## Architecture")[0]
    assert "| Training | full, bf16-mixed, adamw, 2 epochs of 2B tokens |" in summary


def test_chart_states_capacity_as_the_tables_do(tmp_path: Path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "review.md"
    assert run_cli("report", str(FSDP), "-o", str(out)).exit_code == 0
    svg = (tmp_path / "review.memory.svg").read_text(encoding="utf-8")
    assert "Capacity: 79.6 GiB per H100-SXM." in out.read_text(encoding="utf-8")
    assert "H100-SXM: 79.6 GiB" in svg


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("suffix", [".md", ".html"])
def test_written_reports_are_readable_by_others_like_any_file(tmp_path: Path, suffix: str):
    """mkstemp creates 0600; a review uploaded as a CI artifact or served from a docs folder must not be."""
    old = os.umask(0o022)
    try:
        out = tmp_path / f"review{suffix}"
        assert run_cli("report", str(LORA), "-o", str(out)).exit_code == 0
        written = [out] + sorted(tmp_path.glob("review.*.svg"))
        for path in written:
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
        out.chmod(0o640)  # an existing file keeps its mode when rewritten
        assert run_cli("report", str(LORA), "-o", str(out)).exit_code == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_diff_says_what_was_fixed_in_words(tmp_path: Path):
    result = run_cli("diff", str(LORA), str(ROOT / "examples" / "llama3-8b-qlora-rtx4090.toml"))
    assert result.exit_code == 0, result.output
    lead = result.stdout.splitlines()[2]
    assert lead.endswith("Fixes 1 lint finding."), lead
    rows = {t[0]: t for t in markdown_tables(result.stdout)[0][1:]}
    assert rows["Training FLOP"][1:3] == ["5.01e18 FLOP", "1.72e18 FLOP"]


def test_diff_applies_set_to_both_sides():
    """Documented in `llmspec diff --help`: --set changes both sides, so the same spec stays unchanged."""
    result = run_cli("diff", str(FSDP), str(FSDP), "--set", "hardware.accelerator=H200")
    assert result.exit_code == 0, result.output
    assert "No effective change" in result.stdout
    assert "--set applies to both sides" in " ".join(run_cli("diff", "--help").stdout.split())


@pytest.mark.parametrize("extra", [(), ("--set", "model.architecture.n_layers=40")])
def test_architecture_says_where_an_extended_spec_got_it(extra):
    """The FSDP example writes no [model.architecture]: a reviewer should not have to open the TOML to learn
    that it comes from the base."""
    text = run_cli("report", str(FSDP), *extra).stdout
    section = text.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    assert "Inherited from `base/llama-3-70b.toml` (through `extends`)." in section
    assert "Inherited from" not in run_cli("report", str(LORA)).stdout
