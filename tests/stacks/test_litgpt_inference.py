"""LitGPT's generate scripts as a serving engine (inference.backend = "litgpt"): the facts read from the installed
litgpt 0.5.13 (as text), and what the inference estimate does with them. Diagnosed on blind set 3's LitGPT rows
after they were scored (not blind): the engine's untied head and its whole embedding and head under tp.py /
sequentially.py were missing, -11.2% median."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from llmspec.estimate import inference_memory
from llmspec.spec import stacks

FALCON_7B = """
[model]
name = "falcon-7b"
family = "falcon"

[model.architecture]
n_layers = 32
d_model = 4544
n_heads = 71
n_kv_heads = 1
ffn_dim = 18176
activation = "gelu"
vocab_size = 65024
context_length = 2048
tie_embeddings = true
norm = "layernorm"
norms_per_layer = 1
position = "rope"
parallel_attention = true

[inference]
precision = "{precision}"
batch_size = 1
seq_len = 261
prompt_tokens = 5
backend = "{backend}"

[hardware]
accelerator = "A100-40GB"
"""

LLAMA2_70B = """
[model]
name = "llama-2-70b"
family = "llama"
architecture = { n_layers = 80, d_model = 8192, n_heads = 64, n_kv_heads = 8, ffn_dim = 28672, vocab_size = 32000, context_length = 4096 }

[inference]
precision = "{precision}"
batch_size = 1
seq_len = 265
prompt_tokens = 9
backend = "{backend}"
tensor_parallel = 4

[hardware]
accelerator = "A100-40GB"
count = 4
"""
NF4_HEAD = 'quant_format = "nf4"\ndouble_quant = true\nquantize_head = true\n'


def _source(relative: str) -> str:
    spec = importlib.util.find_spec("litgpt")
    if spec is None or spec.origin is None:
        pytest.skip("litgpt is not installed here; the engine preset cites its source instead")
    return (Path(spec.origin).parent / relative).read_text(encoding="utf-8")


def _load(load_text, template: str, backend: str, precision: str = "bf16", extra: str = ""):
    text = template.replace("{backend}", backend).replace("{precision}", precision)
    return load_text(text.replace("[hardware]", extra + "\n[hardware]"))


def test_litgpt_engine_facts_are_its_generate_scripts():
    base = _source("generate/base.py")
    assert "model.max_seq_length = max_returned_tokens" in base and "model.set_kv_cache(batch_size=1)" in base
    model = _source("model.py")
    assert "return clamp_head(self.lm_head(x))  # (B, T, padded_vocab_size)" in model  # every prefill position
    assert "self.lm_head = nn.Linear(config.n_embd, config.padded_vocab_size" in model
    tp = _source("generate/tp.py")
    body = tp.split("def tensor_parallel(", 1)[1].split("\n\n\n", 1)[0]
    assert "tensor_parallel_mlp" in body and "tensor_parallel_attn" in body
    assert "wte" not in body and "lm_head" not in body  # the embedding and head stay whole on every rank
    seq = _source("generate/sequentially.py")
    assert "chunk_on=Block" in seq and 'replace_device(model, replace=torch.device("cpu"), by=root)' in seq
    preset = stacks.engine("litgpt")
    assert preset["kv_allocation"].value == "static" and preset["logits"].value == "all"
    assert preset["tie_embeddings"].value is False and preset["shard_embeddings"].value is False


@pytest.mark.parametrize(("precision", "nbytes"), [("bf16", 2), ("fp32", 4)])
def test_litgpt_serves_the_untied_head_of_a_tied_checkpoint(load_text, precision, nbytes):
    # Falcon-7B ties its head in HF; LitGPT's GPT holds a separate lm_head (65024 x 4544) beside the embedding
    hf = inference_memory(_load(load_text, FALCON_7B, "hf", precision))
    lit = inference_memory(_load(load_text, FALCON_7B, "litgpt", precision))
    assert lit.breakdown["weights"] - hf.breakdown["weights"] == pytest.approx(65024 * 4544 * nbytes, abs=8)
    assert any("untied" in a for a in lit.assumptions)
    told = inference_memory(_load(load_text, FALCON_7B, "litgpt", precision, "tie_embeddings = true\n"))
    assert told.breakdown["weights"] == hf.breakdown["weights"]


def test_litgpt_quantises_its_own_head_not_the_embedding(load_text):
    # bnb nf4 with the head 4-bit (Lightning's BitsandbytesPrecision): the untied head is 4-bit, the embedding stays
    # 16-bit; before, the head's 16-bit bytes were taken off a tied model's embedding
    lit = inference_memory(_load(load_text, FALCON_7B, "litgpt", "int4", NF4_HEAD)).breakdown
    emb = 65024 * 4544
    blocks = 32 * (4544 * (4544 + 2 * 64) + 4544 * 4544 + 2 * 4544 * 18176)
    norms = 32 * 2 * 4544 + 2 * 4544
    assert lit["weights"] == pytest.approx(blocks * 0.5 + emb * 2 + emb * 0.5 + norms * 2, abs=8)


@pytest.mark.parametrize(("precision", "extra"), [("bf16", ""), ("int4", NF4_HEAD)])
def test_litgpt_keeps_embedding_and_head_whole_under_tensor_parallel(load_text, precision, extra):
    # tp.py splits the blocks' linears 4 ways and replicates wte and lm_head (2 x 32000 x 8192) on every rank
    hf = inference_memory(_load(load_text, LLAMA2_70B, "hf", precision, extra)).breakdown
    lit = inference_memory(_load(load_text, LLAMA2_70B, "litgpt", precision, extra)).breakdown
    emb = 32000 * 8192
    head_bytes = 0.5 if extra else 2
    assert lit["weights"] - hf["weights"] == pytest.approx((2 * emb + head_bytes * emb) * 3 / 4, abs=8)
    if extra:  # the head's absmax scales and its dequantised copy (fp16 + the cast: 4 bytes) are whole too
        assert lit["quant_scales"] - hf["quant_scales"] == pytest.approx(
            emb * (1 / 64 + 4 / (64 * 256)) * 3 / 4, abs=8)
        assert lit["dequant_buffer"] == pytest.approx(emb * 4, abs=8)
        assert hf["dequant_buffer"] == pytest.approx(emb * 4 / 4, abs=8)


def test_litgpt_prefill_keeps_every_prompt_positions_logits(load_text):
    spec = _load(load_text, LLAMA2_70B.replace("tensor_parallel = 4", "tensor_parallel = 1")
                 .replace("prompt_tokens = 9", "prompt_tokens = 4096").replace("seq_len = 265", "seq_len = 4096"),
                 "litgpt")
    est = inference_memory(spec)
    assert est.breakdown["prefill_activations"] >= 2 * 32000 * 4096
    assert "logits for every prompt position" in " ".join(est.assumptions)


def test_published_runs_of_the_litgpt_stack_run_on_its_engine():
    # benchmarks/published_memory.build_spec: a run whose stack has an engine preset is estimated on it (the rows say
    # backend = "hf", the only value the schema had for them when they were written)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import published_memory as pm

    run = {"stack": "litgpt", "spec": {"model": "m", "inference": {"precision": "bf16", "backend": "hf"}}}
    other = {"stack": "hf-generate", "spec": {"model": "m", "inference": {"precision": "bf16", "backend": "hf"}}}
    models = {"m": {"name": "m", "family": "llama", "architecture": {
        "n_layers": 2, "d_model": 64, "n_heads": 4, "ffn_dim": 128, "vocab_size": 100, "context_length": 64}}}
    assert pm.build_spec(run, models).inference.backend == "litgpt"
    assert pm.build_spec(other, models).inference.backend == "hf"


def test_litgpt_windowed_blocks_keep_a_ring_buffer_of_the_window(load_text):
    # litgpt 0.5.13 CausalSelfAttention.build_kv_cache: effective_cache_size = min(max_seq_length, sliding_window_size)
    assert "effective_cache_size = min(max_seq_length, self.config.sliding_window_size)" in _source("model.py")
    mistral = LLAMA2_70B.replace("tensor_parallel = 4", "tensor_parallel = 1").replace(
        "context_length = 4096 }", "context_length = 32768, sliding_window = 4096 }").replace(
        "seq_len = 265", "seq_len = 16384")
    lit = inference_memory(_load(load_text, mistral, "litgpt")).breakdown["kv_cache"]
    full = inference_memory(_load(load_text, mistral.replace(", sliding_window = 4096", ""), "litgpt")).breakdown
    assert lit == pytest.approx(full["kv_cache"] * 4096 / 16384, rel=1e-9)


def test_litgpt_pipeline_allocates_its_kv_cache_in_fp32_first(load_text):
    # sequentially.py builds each block's KVCache with no dtype outside fabric.init_tensor (fp32); KVCache.forward
    # converts it to the activation dtype at the block's first forward
    seq = _source("generate/sequentially.py")
    assert "submodule.attn.kv_cache = submodule.attn.build_kv_cache(\n                1, max_seq_length, model.rope_cache_length(), target_device\n            )" in seq
    assert "self.k = self.k.to(k.dtype)" in _source("model.py")
    pipe = LLAMA2_70B.replace("tensor_parallel = 4\n", "").replace("count = 4", "count = 4\npipeline_parallel = 4")
    hf = inference_memory(_load(load_text, pipe, "hf")).breakdown["kv_cache"]
    lit = inference_memory(_load(load_text, pipe, "litgpt")).breakdown["kv_cache"]
    assert hf == pytest.approx(265 * 2 * 80 * 8 * 128 * 2 / 4, abs=1)  # 20 blocks' bf16 cache on each GPU
    assert lit == pytest.approx(2 * hf + hf / 20, abs=1)
    tp = inference_memory(_load(load_text, LLAMA2_70B, "litgpt")).breakdown["kv_cache"]
    assert tp == pytest.approx(hf, abs=1)  # tp.py sets the cache up under fabric.init_tensor: 16-bit
