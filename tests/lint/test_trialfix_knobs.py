"""An attacker trial of the inference and checkpointing knobs (issue 12): each knob the estimate ignores or an engine
cannot run gets one finding at its own file:line:col, through the real CLI."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmspec.cli import cli

BASE = Path(__file__).parent / "data" / "trialfix_base.toml"  # examples/llama2-7b-lora-a100.toml minus [eval]


def _run(tmp_path: Path, body: str, *args: str):
    shutil.copy(BASE, tmp_path / "base.toml")
    spec = tmp_path / "spec.toml"
    spec.write_text('version = 1\nextends = "base.toml"\n\n' + body, encoding="utf-8")
    result = CliRunner().invoke(cli, [args[0], str(spec), *args[1:]])
    return result, spec


def _lines(output: str, code: str) -> list[str]:
    return [line for line in output.splitlines() if f" {code} " in line]


# item 1 (A4, A5): MEM005 for the new inference knobs where the estimate ignores them
@pytest.mark.parametrize("body, line, words", [
    ('[inference]\nbackend = "hf"\nkv_cache_tokens = 4096\n', 6, "kv_cache_tokens sizes a static KV cache"),
    ('[inference]\nbackend = "vllm"\nkv_cache_tokens = 4096\n', 6, "paged block pool"),
    ('[inference]\nbackend = "hf"\nmask_buffer = "dense"\n', 6, "mask_buffer sizes a static KV cache"),
    ('[inference]\nbackend = "torchao-generate"\nkv_cache_growth = "whole"\n', 6, "up front (static)"),
    ('[inference]\nbackend = "vllm"\nkv_cache_growth = "whole"\n', 6, "kv_cache_growth describes"),
    ('[inference]\nprecision = "fp16"\nquant_kernel = "exllama"\n', 6, "not precision = 'fp16'"),
    ('[inference]\nprecision = "int4"\nquant_format = "nf4"\nquant_kernel = "exllama"\n', 7,
     "not quant_format = 'nf4'"),
    ('[inference]\nprecision = "int4"\nact_order = true\n', 6, "no quant_kernel is named"),
    ('[inference]\nprecision = "int8"\nact_order = true\n', 6, "not int4-groups"),
])
def test_mem005_inference_knob_ignored(tmp_path, body, line, words):
    result, spec = _run(tmp_path, body, "lint", "--select", "MEM005")
    found = _lines(result.output, "MEM005")
    assert len(found) == 1, result.output
    assert found[0].startswith(f"{spec}:{line}:1: MEM005") and words in found[0] and "ignores it" in found[0]


def test_mem005_quiet_where_the_knobs_apply(tmp_path):
    result, _ = _run(tmp_path, '[inference]\nbackend = "hf"\nprecision = "int4"\nquant_kernel = "exllama"\n'
                               'act_order = true\nkv_cache_growth = "whole"\n', "lint", "--select", "MEM005")
    assert not _lines(result.output, "MEM005"), result.output


def test_estimate_notes_an_ignored_act_order(tmp_path):
    result, _ = _run(tmp_path, '[inference]\nprecision = "int4"\nact_order = true\n', "estimate")
    assert "inference.act_orderappliestoint4-groups" in "".join(result.output.split()), result.output


# item 2 (A7): engine contradictions, from the engines' supports data
@pytest.mark.parametrize("body, line, words", [
    ('[inference]\nbackend = "autoawq"\nprecision = "bf16"\n', 6, "backend 'autoawq' only runs with 'int4'"),
    ('[inference]\nbackend = "autoawq"\nprecision = "int4"\nquant_format = "nf4"\n', 7, "only runs with 'int4-groups'"),
    ('[inference]\nbackend = "autoawq"\nprecision = "int4"\nquant_kernel = "exllamav2"\n', 7, "backend 'autoawq'"),
    ('[inference]\nbackend = "vllm"\nprecision = "int4"\nquant_kernel = "cuda-old"\n', 7, "backend 'vllm'"),
    ('[inference]\nbackend = "litgpt"\nprecision = "int4"\nquant_kernel = "triton"\n', 7, "backend 'litgpt'"),
    ('[inference]\nbackend = "torchao-generate"\nprecision = "int4"\nquant_kernel = "exllama"\n', 7,
     "backend 'torchao-generate'"),
])
def test_mem004_engine_cannot_run(tmp_path, body, line, words):
    result, spec = _run(tmp_path, body, "lint", "--select", "MEM004")
    found = _lines(result.output, "MEM004")
    assert len(found) == 1, result.output
    assert found[0].startswith(f"{spec}:{line}:1: MEM004") and words in found[0]
    assert result.exit_code == 1


def test_mem004_unset_precision_under_an_int4_only_engine(tmp_path):
    """An unset inference.precision is the spec's default bf16: AutoAWQ loads only int4, so the estimate (16-bit
    weights, 12.6 GiB for Llama-2-7B instead of about 3.9) describes a run that cannot happen. Found at the backend
    key; the old rule checked only knobs the spec set."""
    spec = tmp_path / "spec.toml"
    spec.write_text('extends = "preset:Llama-2-7B"\n[model]\nname = "awq"\n[meta]\nowner = "a@b.c"\n'
                    '[inference]\nbackend = "autoawq"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["lint", str(spec), "--select", "MEM004"])
    found = _lines(result.output, "MEM004")
    assert len(found) == 1 and found[0].startswith(f"{spec}:7:1: MEM004 [error]"), result.output
    assert "inference.precision is unset and the spec's default is 'bf16', but backend 'autoawq' only runs with " \
           "'int4'" in found[0]
    assert result.exit_code == 1
    spec.write_text(spec.read_text() + 'precision = "int4"\n', encoding="utf-8")
    assert CliRunner().invoke(cli, ["lint", str(spec), "--select", "MEM004"]).exit_code == 0


def test_mem004_hf_runs_autogptq_kernels(tmp_path):
    result, _ = _run(tmp_path, '[inference]\nbackend = "hf"\nprecision = "int4"\nquant_kernel = "exllama"\n',
                     "lint", "--select", "MEM004")
    assert not _lines(result.output, "MEM004"), result.output


# item 3 (A2, A3): kv_cache_tokens must hold the prompt and the new tokens and stay within the context window
def test_ctx004_cache_too_small_for_the_run(tmp_path):
    result, spec = _run(tmp_path, '[inference]\nbackend = "torchao-generate"\nkv_cache_tokens = 16\n', "lint")
    found = _lines(result.output, "CTX004")
    assert len(found) == 1 and found[0].startswith(f"{spec}:6:1: CTX004 [error]"), result.output
    assert "cannot hold the prompt and the new tokens (2,048 + 512 = 2,560)" in found[0]
    assert result.exit_code == 1


def test_ctx004_cache_beyond_the_context(tmp_path):
    result, spec = _run(tmp_path, '[inference]\nbackend = "torchao-generate"\nkv_cache_tokens = 100000000\n', "lint")
    found = _lines(result.output, "CTX004")
    assert len(found) == 1 and "exceeds the model's context_length = 4,096" in found[0], result.output


# item 4 (A6): every-n with checkpoint_every above n_layers checkpoints no block
def test_mem005_checkpoint_every_beyond_the_blocks(tmp_path):
    result, spec = _run(tmp_path, '[training]\ncheckpoint_policy = "every-n"\ncheckpoint_every = 100\n', "lint",
                        "--select", "MEM005")
    found = _lines(result.output, "MEM005")
    assert len(found) == 1 and found[0].startswith(f"{spec}:6:1: MEM005 [warning]"), result.output
    assert "0 of 32 blocks are checkpointed" in found[0]


def test_mem005_checkpoint_every_within_the_blocks(tmp_path):
    result, _ = _run(tmp_path, '[training]\ncheckpoint_policy = "every-n"\ncheckpoint_every = 32\n', "lint",
                     "--select", "MEM005")
    assert not _lines(result.output, "MEM005"), result.output


# item 5 (A8): LitGPT's mask cache is its mask buffer: counted once, and "none" is a contradiction
def test_litgpt_dense_mask_counted_once(tmp_path):
    import json

    result, _ = _run(tmp_path, '[inference]\nbackend = "litgpt"\nmask_buffer = "dense"\n', "estimate", "--format",
                     "json")
    breakdown = json.loads(result.output)["memory"]["inference"]["breakdown"]
    assert breakdown["mask_cache"] == 4096 * 4096 and "mask_buffer" not in breakdown, breakdown


def test_mem004_litgpt_always_builds_its_mask(tmp_path):
    result, spec = _run(tmp_path, '[inference]\nbackend = "litgpt"\nmask_buffer = "none"\n', "lint", "--select",
                        "MEM004")
    found = _lines(result.output, "MEM004")
    assert len(found) == 1 and found[0].startswith(f"{spec}:6:1: MEM004"), result.output
    assert "backend 'litgpt' only runs with 'dense'" in found[0]


# item 6 (A10): a union field's bad value is one line at its key, without pydantic's member tags
@pytest.mark.parametrize("value, line", [
    ("0", "inference.kv_cache_tokens: 0 must be an integer >= 1 or 'context_length'"),
    ('"context-length"', "inference.kv_cache_tokens: 'context-length' must be an integer or 'context_length'; "
                         "did you mean 'context_length'?"),
    ("4096.0", "inference.kv_cache_tokens: 4096.0 must be a whole number or 'context_length'; write 4096"),
])
def test_union_field_error_is_one_line(tmp_path, value, line):
    result, spec = _run(tmp_path, f'[inference]\nbackend = "torchao-generate"\nkv_cache_tokens = {value}\n', "check")
    assert result.exit_code == 2
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert lines == [f"{spec}:6:1: {line}"], result.output


def test_every_union_field_is_one_line(tmp_path):
    # another union field (int | "auto"): the same one-line form
    result, spec = _run(tmp_path, '[hardware]\nsharding = "zero2"\n\n[hardware.deepspeed]\nreduce_bucket_size = "atuo"\n',
                        "check")
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "reduce_bucket_size: 'atuo' must be" in lines[0] and "did you mean 'auto'?" in lines[0]
    assert "constrained" not in lines[0] and "literal[" not in lines[0], result.output


# item 7: the README and docs/report.md quote what `llmspec diff` prints for the lora -> full switch
def test_readme_quotes_the_diff_lead(tmp_path):
    root = Path(__file__).resolve().parents[2]
    example = (root / "examples" / "llama2-7b-lora-a100.toml").read_text(encoding="utf-8")
    (tmp_path / "old.toml").write_text(example, encoding="utf-8")
    (tmp_path / "new.toml").write_text(example.replace('method = "lora"', 'method = "full"', 1), encoding="utf-8")
    result = CliRunner().invoke(cli, ["diff", str(tmp_path / "old.toml"), str(tmp_path / "new.toml")])
    lead = next(line for line in result.output.splitlines() if line.startswith("Changes 1 key"))
    readme = (root / "README.md").read_text(encoding="utf-8")
    quote = readme.split("switching the LoRA example to a full fine-tune:\n\n", 1)[1].split("\n\n", 1)[0]
    assert " ".join(x.removeprefix("> ") for x in quote.splitlines()) == lead.replace("\\$", "$")
    assert lead in (root / "docs" / "report.md").read_text(encoding="utf-8")
