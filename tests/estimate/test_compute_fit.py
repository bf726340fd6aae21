"""Compute, what-would-fit, the JSON contract and the import boundary."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmspec.estimate import compute, estimate, training_memory, what_would_fit
from llmspec.estimate.fit import with_overrides
from tests.estimate.conftest import LLAMA2_7B


def test_training_flops_6nd_plus_attention(load):
    c = compute(load())
    n = 6_738_415_616 - 32000 * 4096  # matmul parameters: the embedding lookup is not a matmul
    attn = 6 * 32 * 4096 * 4096
    assert c.flops_per_token == 6 * n + attn == c.model_flops_per_token
    assert c.tokens == 100_000_000 and c.tokens_per_step == 4096 and c.steps == 24415
    seconds = c.total_flops / (312e12 * 0.4)
    assert c.wall_hours == pytest.approx(seconds / 3600)
    assert c.cost == pytest.approx(c.gpu_hours * 2.0)


def test_lora_and_checkpointing_flops(load):
    n = 6_738_415_616 - 32000 * 4096
    attn_fwd = 2 * 32 * 4096 * 4096
    lora = compute(load(LLAMA2_7B, "training.method=lora"))
    assert lora.flops_per_token == 4 * n + 3 * attn_fwd
    ckpt = compute(load(LLAMA2_7B, "training.activation_checkpointing=true"))
    assert ckpt.flops_per_token == 8 * n + 4 * attn_fwd
    assert ckpt.model_flops_per_token == 6 * n + 3 * attn_fwd


def test_moe_uses_active_parameters(load):
    moe = LLAMA2_7B.replace("context_length = 4096", "context_length = 4096\n\n"
                            "[model.architecture.moe]\nn_experts = 8\nexperts_per_token = 2")
    c = compute(load(moe))
    expert = 3 * 4096 * 11008
    dense = compute(load())
    assert c.flops_per_token - dense.flops_per_token == 6 * (32 * expert + 32 * 4096 * 8)


def test_inference_throughput_bounds(load):
    c = compute(load())
    weights = 2 * 6_738_415_616
    kv = 2 * 32 * 4096 * 4096 * 2
    assert c.decode_tokens_per_s == pytest.approx(2039e9 / (weights + kv))
    assert c.prefill_tokens_per_s > c.decode_tokens_per_s


def test_inference_throughput_uses_the_lengths_of_the_memory_estimate(load):
    """Decode reads the KV cache the generation holds (prompt + max_new_tokens within seq_len, as the memory
    estimate's inference.lengths), and prefill's attention FLOPs follow the prompt, not the whole seq_len."""
    c = compute(load(LLAMA2_7B, "inference.seq_len=4096", "inference.prompt_tokens=512", "sampling.max_new_tokens=256"))
    weights = 2 * 6_738_415_616
    kv = 2 * 32 * 4096 * 768 * 2  # K and V x layers x d_model x (512 + 256) tokens x bf16
    assert c.decode_tokens_per_s == pytest.approx(2039e9 / (weights + kv))
    n = 6_738_415_616 - 32000 * 4096
    assert c.prefill_tokens_per_s == pytest.approx(312e12 * 0.4 / (2 * n + 2 * 32 * 512 * 4096))


def test_what_would_fit_returns_fixes_that_fit_when_re_estimated(load):
    spec = load()
    assert training_memory(spec).fits is False
    fixes = what_would_fit(spec)
    assert fixes
    costs = [f.cost for f in fixes]
    assert costs == sorted(costs)
    for fix in fixes:
        again = training_memory(with_overrides(spec, fix.overrides))
        assert again.fits, fix
        assert again.total_bytes == fix.total_bytes


def test_fix_set_args_load_through_the_real_loader(load):
    fix = what_would_fit(load())[0]
    respec = load(LLAMA2_7B, *fix.set_args)
    assert training_memory(respec).fits


def test_pairs_are_offered_when_no_single_change_fits(load):
    spec = load(LLAMA2_7B, 'hardware.memory="16GiB"', "hardware.count=1", "training.seq_len=2048")
    fixes = what_would_fit(spec)
    assert fixes
    assert any("+" in f.group for f in fixes)
    for fix in fixes:
        assert training_memory(with_overrides(spec, fix.overrides)).fits


def test_nothing_to_fix_when_it_fits(load):
    assert what_would_fit(load(LLAMA2_7B, "training.method=qlora")) == []


def test_inference_fixes(load):
    spec = load(LLAMA2_7B, 'hardware.memory="12GiB"', "inference.batch_size=1")
    fixes = [f for f in what_would_fit(spec) if "inference" in f.modes]  # training fails too: joined fixes
    assert fixes and fixes[0].overrides
    assert all(f.totals["inference"] <= 12 * 2**30 for f in fixes)


def test_json_contract_keys(load):
    data = estimate(load()).to_dict()
    json.dumps(data)  # serialisable as is
    assert data["schema_version"] == 1
    for key in ("total", "active", "trainable", "breakdown"):
        assert key in data["params"]
    for mode in ("training", "inference"):
        mem = data["memory"][mode]
        for key in ("per_gpu_bytes", "overhead_bytes", "total_bytes", "capacity_bytes", "breakdown", "peak_phase"):
            assert key in mem
        assert all(isinstance(v, int) for v in mem["breakdown"].values())
    for key in ("flops_per_token", "tokens", "steps", "wall_hours", "gpu_hours", "cost"):
        assert key in data["compute"]
    assert data["fits"] and {"description", "overrides", "set", "per_gpu_bytes"} <= set(data["fits"][0])


def test_estimate_never_imports_torch(write_spec):
    path = write_spec(LLAMA2_7B)
    code = (
        "import sys, llmspec.estimate\n"
        "from llmspec.spec.loader import load_spec\n"
        f"e = llmspec.estimate.estimate(load_spec({str(path)!r}))\n"
        "assert e.training.per_gpu_bytes > 0\n"
        "bad = sorted(m for m in ('torch', 'transformers', 'lm_eval', 'peft') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
