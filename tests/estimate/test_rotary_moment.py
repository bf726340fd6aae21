"""Issue 9: a prefill's rotary moment in a Llama-style attention (llmspec.estimate.split_heads.rotary_moment_bytes):
q, k, v, the rotated query and the key's rotary temporaries, before the block's K/V join the cache. It sets the peak
where the heads are wide against the MLP: Gemma-7B's layout (head_dim = 2 x d_model / n_heads here, K/V heads =
heads) read -4.2% (sdpa, 2 x 256), -10.0% (sdpa, 3 x 512) and -2.9% (eager, 2 x 256) before, each within 0.5% now.
Where the MLP is wider (Llama, Gemma 2) the moment stays below it and the estimate does not move."""

from __future__ import annotations

import pytest

from llmspec.estimate import inference_memory
from llmspec.estimate.split_heads import rotary_moment_bytes
from tests.estimate.test_measure_families import reduced_spec

CASES = [("sdpa", 1024, 2, 256), ("sdpa", 512, 3, 512), ("eager", 1024, 2, 256)]


def spec_for(load, preset: str, attention: str, h: int, batch: int, prompt: int):
    return load(reduced_spec(preset, h=h, context=4096), f"inference.seq_len={prompt}",
                f"inference.batch_size={batch}", f'inference.attention="{attention}"')


@pytest.mark.eval
@pytest.mark.parametrize("attention, h, batch, prompt", CASES, ids=[f"{a}-h{h}-{b}x{s}" for a, h, b, s in CASES])
def test_gemma_prefill_rotary_moment_matches_the_real_class(load, attention, h, batch, prompt):
    from llmspec.estimate.measure import measure_inference

    spec = spec_for(load, "Gemma-7B", attention, h, batch, prompt)
    estimate, measured = inference_memory(spec).per_gpu_bytes, measure_inference(spec).peak_bytes
    assert estimate == pytest.approx(measured, rel=0.005), (estimate, measured)


def test_no_rotary_moment_for_fused_qkv_qk_norm_or_learned_positions(load):
    for preset in ("Pythia-1.4B", "Phi-3-mini-4k", "Qwen3-8B", "GPT-2", "OPT-1.3B"):
        assert rotary_moment_bytes(spec_for(load, preset, "sdpa", 512, 2, 256), 2, 256, 2, 1, 0.0) == 0
    assert rotary_moment_bytes(spec_for(load, "Llama-2-7B", "sdpa", 512, 2, 256), 2, 256, 2, 1, 0.0) > 0


def test_other_engines_and_static_caches(load):
    hf = spec_for(load, "Gemma-7B", "sdpa", 1024, 2, 256)
    assert rotary_moment_bytes(load(reduced_spec("Gemma-7B", h=1024, context=4096), 'inference.backend="vllm"'),
                               2, 256, 2, 1, 0.0) == 0
    static = load(reduced_spec("Gemma-7B", h=1024, context=4096), "inference.seq_len=256", "inference.batch_size=2",
                  'inference.kv_allocation="static"')
    # a static cache holds every block's slots from the start: no block's share is subtracted
    assert rotary_moment_bytes(static, 2, 256, 2, 1, 8.0) - rotary_moment_bytes(hf, 2, 256, 2, 1, 8.0) == 8.0 / 2
