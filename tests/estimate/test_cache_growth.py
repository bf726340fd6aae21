"""A dynamic cache grown by torch.cat (issue 12, inference.kv_cache_growth): the last decode step's copy.

Each test failed on the code before: the estimate had no decode moment (its peak was the prefill's, with the cache
counted whole) and no knob for the legacy tuple cache."""

from __future__ import annotations

import pytest

from llmspec.estimate import inference_memory
from llmspec.estimate.inference import cache_growth, kv_bytes_per_token
from llmspec.spec.models import Spec

SMALL = {"name": "small-llama", "family": "llama",
         "architecture": {"n_layers": 2, "d_model": 256, "n_heads": 4, "n_kv_heads": 4, "ffn_dim": 512,
                          "vocab_size": 512, "context_length": 2048}}


def spec(batch: int, prompt: int, new: int, **inference) -> Spec:
    return Spec.model_validate({"model": SMALL, "inference": {"precision": "fp16", "batch_size": batch,
                                                              "seq_len": prompt + new, "prompt_tokens": prompt,
                                                              **inference}})


def test_hf_engine_defaults_to_the_per_layer_copy():
    s = spec(4, 64, 64)
    assert s.inference is not None and s.inference.kv_cache_growth == "layer"
    assert s.inference.engine_sources()["kv_cache_growth"].startswith(
        "transformers==5.24.0:src/transformers/cache_utils.py:DynamicLayer.update")


def test_legacy_tuple_cache_holds_the_old_cache_of_every_layer():
    """transformers==4.35.0 LlamaAttention.forward returns torch.cat([past, new]) while greedy_search still holds the
    previous tuple: at the last step (cache kv_len - 2 -> kv_len - 1 tokens) the old cache is live whole."""
    b, p, n, layers = 16, 512, 512, 40
    big = {**SMALL, "architecture": {**SMALL["architecture"], "n_layers": layers, "d_model": 5120, "n_heads": 40,
                                     "n_kv_heads": 40, "ffn_dim": 13824, "vocab_size": 32000, "context_length": 4096}}
    s = Spec.model_validate({"model": big, "inference": {"precision": "fp16", "batch_size": b, "seq_len": p + n,
                                                         "prompt_tokens": p, "kv_cache_growth": "whole"}})
    kv = 2 * layers * 5120 * 2 * (p + n) * b  # K and V, every layer, fp16, per token, batch
    assert kv_bytes_per_token(s) * (p + n) * b == kv
    est = inference_memory(s)
    assert est.breakdown["kv_growth_copy"] == round(kv * (p + n - 2) / (p + n))
    assert est.peak_phase == "decode"
    # one new token: generate runs no decode forward
    one = Spec.model_validate({"model": big, "inference": {"precision": "fp16", "batch_size": b, "seq_len": p + 1,
                                                           "prompt_tokens": p, "kv_cache_growth": "whole"}})
    assert "kv_growth_copy" not in inference_memory(one).breakdown


def test_static_and_paged_caches_have_no_growth_copy():
    for alloc in ("static", "paged"):
        s = spec(4, 64, 64, kv_allocation=alloc)
        assert cache_growth(s, 1e6, 64, 128) == (0.0, [])
        told = spec(4, 64, 64, kv_allocation=alloc, kv_cache_growth="whole")
        assert cache_growth(told, 1e6, 64, 128)[1] == [
            f"inference.kv_cache_growth does not apply to a {alloc} KV cache (ignored)"]


@pytest.mark.parametrize("batch,prompt,new", [(4, 64, 16), (2, 32, 40)])
def test_per_layer_copy_matches_decode_steps_of_the_real_class(batch, prompt, new):
    """Prefill + new - 1 decode forwards of LlamaForCausalLM with one DynamicCache (what generate's _sample does),
    under FakeTensorMode: the last step's peak above the weights and the final cache is one layer's old K (or V)
    plus the step's own one-token activations, which the estimate leaves out (a few KB here)."""
    torch = pytest.importorskip("torch")
    from torch._subclasses.fake_tensor import FakeTensorMode
    from transformers import DynamicCache

    from llmspec.estimate._measure_support import build, fake_friendly_transformers
    from llmspec.estimate._tracker import StorageTracker

    s = spec(batch, prompt, new, attention="sdpa")
    tracker = StorageTracker()
    with fake_friendly_transformers(), FakeTensorMode():
        model = build(s, torch.float16, "sdpa").eval()
        for t in list(model.parameters()) + list(model.buffers()):
            tracker.register(t, "weights")
        with tracker, torch.no_grad():
            cache = DynamicCache(config=model.config)
            tracker.phase = "prefill"
            out = model(input_ids=torch.randint(0, 512, (batch, prompt)), past_key_values=cache, use_cache=True,
                        logits_to_keep=1)
            del out
            for step in range(new - 1):
                tracker.phase = "last" if step == new - 2 else "decode"
                out = model(input_ids=torch.randint(0, 512, (batch, 1)), past_key_values=cache, use_cache=True,
                            logits_to_keep=1)
                del out
            final = sum(t.untyped_storage().nbytes() for layer in cache.layers for t in (layer.keys, layer.values))
    assert final == kv_bytes_per_token(s) * (prompt + new - 1) * batch  # generate never feeds the last token back
    measured = tracker.peaks["last"][0] - tracker.sums["weights"] - final
    kv_estimated = kv_bytes_per_token(s) * (prompt + new) * batch  # the estimate's cache: prompt + new tokens
    copy, _ = cache_growth(s, kv_estimated, prompt, prompt + new)
    assert copy > 0
    assert copy <= measured <= copy + 64 * 1024
