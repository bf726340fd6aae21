"""Serving engines: presets filled into [inference], what each does to the estimate, and the CLI's errors."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from llmspec.cli import cli
from llmspec.estimate import inference_memory
from llmspec.spec.loader import load_spec
from llmspec.spec.models import Inference

SPEC = """
[model]
name = "Llama-3.1-8B"
family = "llama"
architecture = { n_layers = 32, d_model = 4096, n_heads = 32, n_kv_heads = 8, ffn_dim = 14336, vocab_size = 128256, context_length = 131072 }

[inference]
seq_len = 8192
batch_size = 32

[hardware]
accelerator = "A100-80GB"
"""
KV_PER_TOKEN = 2 * 32 * 8 * 128 * 2  # K and V x layers x kv heads x head_dim x bf16


@pytest.fixture
def load(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC, encoding="utf-8")
    return lambda *o: load_spec(path, o)


def test_every_backend_has_a_preset_and_defaults_fill_unset_knobs():
    for backend in ("hf", "vllm", "tgi", "trtllm", "llama.cpp"):
        inf = Inference.model_validate({"backend": backend})
        assert inf.kv_allocation in ("dynamic", "static", "paged") and inf.logits in ("all", "last")
        assert set(inf.engine_sources()) >= {"kv_allocation", "logits", "attention"}
    mine = Inference.model_validate({"backend": "vllm", "gpu_memory_utilization": 0.95})
    assert mine.gpu_memory_utilization == 0.95 and "gpu_memory_utilization" not in mine.engine_sources()


def test_vllm_reports_how_many_sequences_its_pool_holds(load):
    est = inference_memory(load("inference.backend=vllm"))
    assert est.capacity_bytes == int(0.9 * 80 * 2**30)
    assert est.breakdown["kv_cache"] == 32 * 8192 * KV_PER_TOKEN
    note = next(a for a in est.assumptions if a.startswith("paged KV pool"))
    pool_gib, seqs = re.search(r"pool ([\d.]+) GiB .*: (\d+) concurrent sequences of 8192 tokens", note).groups()
    assert int(seqs) == int(float(pool_gib) * 2**30 // (8192 * KV_PER_TOKEN)) or abs(
        int(seqs) - float(pool_gib) * 2**30 / (8192 * KV_PER_TOKEN)) < 1
    capped = inference_memory(load("inference.backend=vllm", "inference.seq_len=1024", "inference.max_num_seqs=8"))
    assert "8 concurrent sequences of 1024 tokens fit (max_num_seqs 8)" in " ".join(capped.assumptions)


def test_paged_blocks_round_a_sequence_up(load):
    est = inference_memory(load("inference.backend=vllm", "inference.seq_len=8193", "inference.batch_size=1"))
    assert est.breakdown["kv_cache"] == (8192 + 16) * KV_PER_TOKEN


def test_hf_prefill_uses_the_prompt_and_every_position_logits(load):
    whole = inference_memory(load("inference.batch_size=1"))
    prompt = inference_memory(load("inference.batch_size=1", "inference.prompt_tokens=512"))
    assert prompt.breakdown["kv_cache"] == whole.breakdown["kv_cache"] == 8192 * KV_PER_TOKEN
    assert prompt.breakdown["prefill_activations"] < whole.breakdown["prefill_activations"] / 8


def test_llama_cpp_preallocates_and_says_so(load):
    est = inference_memory(load("inference.backend=llama.cpp"))
    assert any("static KV cache preallocated for 8192 tokens x 32 sequences" in a for a in est.assumptions)


def test_int4_group_size_sets_the_scale_bytes(load):
    g128 = inference_memory(load("inference.precision=int4"))
    g64 = inference_memory(load("inference.precision=int4", "inference.weight_group_size=64"))
    assert g64.breakdown["quant_scales"] == pytest.approx(2 * g128.breakdown["quant_scales"], rel=1e-6)


def test_eager_attention_adds_the_prompt_squared_scores(load):
    flash = inference_memory(load("inference.batch_size=1", "inference.logits=last"))
    eager = inference_memory(load("inference.batch_size=1", "inference.logits=last", "inference.attention=eager"))
    assert eager.breakdown["prefill_activations"] - flash.breakdown["prefill_activations"] == 2 * 2 * 32 * 8192 ** 2


def test_unknown_backend_is_one_line_with_did_you_mean(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.replace("[inference]\n", '[inference]\nbackend = "vlm"\n'), encoding="utf-8")
    result = CliRunner().invoke(cli, ["estimate", str(path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "did you mean 'vllm'?" in lines[0]


@pytest.mark.parametrize("backend", [
    "hf", "vllm", "tgi", "llama.cpp",
    # vllm 0.10.2 and llama.cpp (llama-cpp-python 0.3.16's vendored copy) were read from their sdists, TGI 2.2.0
    # from its tagged repository; TensorRT-LLM's wheel cannot be downloaded or installed here and only its
    # KvCacheConfig defaults were read (versioned API reference): logits, attention, max_num_tokens and its CUDA
    # graph default are not verified yet. strict: citing them fully makes this XPASS and fail, so it gets removed
    pytest.param("trtllm", marks=pytest.mark.xfail(strict=True, reason="TensorRT-LLM sources not all verified")),
])
def test_every_engine_default_cites_package_version_path_symbol(backend):
    from llmspec.spec.stacks import engine
    from tests.stacks.test_presets import SOURCE

    for knob, default in engine(backend).items():
        assert SOURCE.match(default.source), (backend, knob, default.source)
