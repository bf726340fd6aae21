"""LitGPT estimate gaps (issue 12 follow-up, stackfit), each through the real `llmspec estimate` on a TOML file, with
LitGPT's own source (litgpt 0.5.13, installed here) read to check the claim where it is installed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmspec.cli import cli

# Llama-3.2-1B ties its head in HF; LitGPT builds its own lm_head (training.tie_embeddings = false by its preset)
LLAMA_32_1B = """
[model]
name = "Llama-3.2-1B"
family = "llama"
architecture = { n_layers = 16, d_model = 2048, n_heads = 32, n_kv_heads = 8, head_dim = 64, ffn_dim = 8192, vocab_size = 128256, context_length = 131072, tie_embeddings = true }
"""
LLAMA_31_8B = """
[model]
name = "Llama-3.1-8B"
family = "llama"
architecture = { n_layers = 32, d_model = 4096, n_heads = 32, n_kv_heads = 8, ffn_dim = 14336, vocab_size = 128256, context_length = 131072 }
"""


def estimate(tmp_path: Path, text: str) -> dict:
    path = tmp_path / "spec.toml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["estimate", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def litgpt_source(relative: str) -> str:
    spec = importlib.util.find_spec("litgpt")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("litgpt is not installed")
    return (Path(next(iter(spec.submodule_search_locations))) / relative).read_text(encoding="utf-8")


def test_params_count_the_untied_head_that_the_memory_counts(tmp_path):
    """Before: params.total 1,235,814,400 (the tied checkpoint) beside weights of 1,498,482,688 x 2 bytes."""
    d = estimate(tmp_path, LLAMA_32_1B + '[training]\nmethod = "lora"\nstack = "litgpt"\nprecision = "bf16"\n')
    p = d["params"]
    assert p["breakdown"]["head"] == 128256 * 2048
    assert p["total"] == 1_235_814_400 + 128256 * 2048 == 1_498_482_688
    assert d["memory"]["training"]["breakdown"]["weights"] == 2 * (p["total"] + p["lora"])  # bf16 base and adapters
    # the HF Trainer ties it: the checkpoint's count
    hf = estimate(tmp_path, LLAMA_32_1B + '[training]\nmethod = "lora"\nprecision = "bf16"\n')["params"]
    assert hf["total"] == 1_235_814_400 and hf["breakdown"]["head"] == 0
    # served by LitGPT without a [training] table: its generate scripts' untied head too
    served = estimate(tmp_path, LLAMA_32_1B + '[inference]\nbackend = "litgpt"\n')["params"]
    assert served["total"] == 1_498_482_688


def test_litgpt_qlora_without_a_precision_says_litgpt_cannot_start_it(tmp_path):
    """LitGPT's finetune/lora.py takes get_default_supported_precision(training=True) ('bf16-mixed') when --precision
    is not given, and then raises with --quantize bnb.*: there is no default it runs QLoRA with. MEM004 flags it; the
    estimate (before: silently bf16-mixed) now says the same."""
    lora = litgpt_source("finetune/lora.py")
    assert "precision = precision or get_default_supported_precision(training=True)" in lora
    assert 'if "mixed" in precision:\n            raise ValueError("Quantization and mixed precision is not supported.")' \
        in lora
    text = LLAMA_31_8B + '[training]\nmethod = "qlora"\nstack = "litgpt"\nseq_len = 512\n'
    notes = estimate(tmp_path, text)["memory"]["training"]["assumptions"]
    said = [n for n in notes if "cannot start" in n]
    assert len(said) == 1 and "'bf16-mixed'" in said[0] and "litgpt==0.5.13:litgpt/finetune/lora.py:setup" in said[0]
    assert "set precision = 'bf16'" in said[0]
    stated = estimate(tmp_path, text.replace('seq_len = 512', 'seq_len = 512\nprecision = "bf16"'))
    assert not any("cannot start" in n for n in stated["memory"]["training"]["assumptions"])


def test_litgpt_serving_counts_its_mask_and_rope_caches(tmp_path):
    """generate/base.py sets model.max_seq_length = prompt + max_new_tokens and calls set_kv_cache, which builds a
    (1, 1, L, L) bool mask cache; the prefill selects the prompt's rows of it (a copy). Before: none counted (1 GiB
    of mask at 32k tokens)."""
    model = litgpt_source("model.py")
    assert "ones = torch.ones((max_seq_length, max_seq_length), device=device, dtype=torch.bool)" in model
    assert "self.mask_cache = build_mask_cache(max_seq_length, device)" in model
    assert "mask = batched_index_select(self.mask_cache, 2, input_pos)" in model
    base = litgpt_source("generate/base.py")
    assert "model.max_seq_length = max_returned_tokens\n        # enable the kv cache\n        model.set_kv_cache(batch_size=1)" \
        in base

    text = LLAMA_31_8B + '[inference]\nbackend = "litgpt"\nseq_len = 32768\nprompt_tokens = 32000\n'
    mem = estimate(tmp_path, text)["memory"]["inference"]
    assert mem["breakdown"]["mask_cache"] == 32768 * 32768  # 1 GiB
    assert mem["breakdown"]["rope_cache"] == 2 * 32768 * 128 * 2  # cos and sin, bf16 after fabric.setup_module
    hf = estimate(tmp_path, text.replace('backend = "litgpt"', 'backend = "hf"'))["memory"]["inference"]
    assert "mask_cache" not in hf["breakdown"]
    # the prefill keeps the prompt's mask rows: 32000 x 32768 bytes beside what another static engine holds
    static = estimate(tmp_path, text.replace('backend = "litgpt"', 'backend = "hf"\nkv_allocation = "static"\n'
                                             'tie_embeddings = false\nlogits = "all"'))["memory"]["inference"]
    assert mem["breakdown"]["prefill_activations"] - static["breakdown"]["prefill_activations"] == 32000 * 32768
