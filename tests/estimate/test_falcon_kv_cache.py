"""Issue 9: Falcon's new decoder architecture expands K/V to every query head before the HF cache update
(transformers==5.24.0:src/transformers/models/falcon/modeling_falcon.py:FalconAttention._split_heads,
``broadcast_to`` + ``flatten``), so HF's KV cache holds n_heads / n_kv_heads times the K/V of a grouped cache: 16x
for Falcon-40B (128 heads, 8 K/V heads), 2x at the reduced shape below (4 heads, 2 K/V heads). The estimate counted
n_kv_heads: the KV-cache part was half the measured one at the reduced shape (d_model 512, 4 heads, 2 K/V heads,
3 x 1024 tokens)."""

from __future__ import annotations

import pytest

from llmspec.estimate import inference_memory
from llmspec.estimate.hfversion import kv_cache_heads
from llmspec.spec.families import preset_spec
from llmspec.spec.models import Architecture
from tests.estimate.test_measure_families import reduced_spec


def falcon(name: str) -> Architecture:
    return Architecture(**preset_spec(name)["model"]["architecture"])


def spec_for(load, *overrides: str):
    return load(reduced_spec("Falcon-40B", h=512, context=1024), "inference.seq_len=1024",
                "inference.batch_size=3", *overrides)


@pytest.mark.parametrize("version, heads", [("5.24.0", 128), ("4.45.2", 128), ("5.25.0", 8), ("6.0", 8)])
def test_falcon_40b_hf_cache_holds_every_query_head_on_the_verified_releases(version, heads):
    # 5.25.0 rewrote FalconAttention and was not read: from there on the grouped cache is assumed (and said)
    assert kv_cache_heads(falcon("Falcon-40B"), "falcon", "hf", transformers=version) == heads


def test_other_engines_and_the_multi_query_path_keep_the_grouped_cache():
    assert kv_cache_heads(falcon("Falcon-40B"), "falcon", "vllm", transformers="5.24.0") == 8
    assert kv_cache_heads(falcon("Falcon-40B"), "falcon", "tgi", transformers="5.24.0") == 8
    assert kv_cache_heads(falcon("Falcon-7B"), "falcon", "hf", transformers="5.24.0") == 1  # views of fused_qkv
    assert kv_cache_heads(falcon("Falcon-40B"), "gpt_neox", "hf", transformers="5.24.0") == 8


def test_the_estimate_doubles_the_reduced_cache_under_hf_only(load):
    hf, vllm = spec_for(load), spec_for(load, 'inference.backend="vllm"')
    assert inference_memory(hf).breakdown["kv_cache"] == 2 * inference_memory(vllm).breakdown["kv_cache"]
    assert any("K/V expanded to all 4 query heads" in n for n in inference_memory(hf).assumptions)


@pytest.mark.eval
def test_prefill_agrees_with_the_real_class(load):
    """FalconForCausalLM (transformers 5.24.0) under FakeTensorMode, d_model 512 with Falcon's ffn = 4 x d_model,
    3 x 1024 tokens (not a fit shape): the cache part is exact (it was half) and the prefill -1.2% (it was +3.5%:
    the half cache hid the SwiGLU-sized MLP moment, now the registry's "prefill" fit). At ffn = 2 x d_model the
    peak moves to Falcon's own split heads and rotary embedding (llmspec.estimate.split_heads,
    tests/estimate/test_falcon_split_heads.py)."""
    from llmspec.estimate.measure import measure_inference

    spec = spec_for(load, "model.architecture.ffn_dim=2048")
    est, meas = inference_memory(spec), measure_inference(spec)
    assert est.breakdown["kv_cache"] == pytest.approx(meas.breakdown["kv_cache"], rel=0.001)
    assert est.per_gpu_bytes == pytest.approx(meas.peak_bytes, rel=0.02)
