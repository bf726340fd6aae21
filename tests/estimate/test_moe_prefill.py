"""MoE prefill peak: the larger of the experts' up and down stages, measured on the real classes under FakeTensorMode.

Many small experts (Qwen3-MoE: 8 of 128 per token, width 768 at d_model 2048) peak in the down stage, where the
gathered input, the down output, its product with the routing weights and that product in token order are all live
(transformers==5.24.0:src/transformers/integrations/moe.py:grouped_mm_experts_forward): 8 x k x d_model per token.
The estimate knew only the up stage and was 5.1% under a 4 x 1536 Qwen3-MoE prefill.
"""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

SPEC = """
[model]
name = "tiny-{family}"
family = "{family}"

[model.architecture]
n_layers = 2
d_model = 256
n_heads = 4
n_kv_heads = 2
head_dim = 64
ffn_dim = 512
activation = "swiglu"
vocab_size = 2048
context_length = 4096
norm = "rmsnorm"
position = "rope"
{extra}

[model.architecture.moe]
n_experts = 16
experts_per_token = {k}
expert_ffn_dim = {width}

[inference]
batch_size = 2
seq_len = 768

[hardware]
accelerator = "H100-SXM"
"""


@pytest.mark.parametrize("family, extra, k, width, stage", [
    ("qwen3_moe", "qk_norm = true", 8, 64, "down"),  # many small experts: the down stage is larger
    ("qwen3_moe", "qk_norm = true", 2, 512, "up"),  # few wide experts: the up stage is larger
    ("mixtral", "", 2, 512, "up"),
])
def test_moe_prefill_peak_matches_the_real_class(tmp_path, family, extra, k, width, stage):
    from llmspec.estimate import inference_memory
    from llmspec.estimate.activations import ffn_width
    from llmspec.estimate.measure import measure_inference
    from llmspec.spec.loader import load_spec

    path = tmp_path / "spec.toml"
    path.write_text(SPEC.format(family=family, extra=extra, k=k, width=width), encoding="utf-8")
    spec = load_spec(path)
    h = spec.arch.d_model
    assert (8 * k * h > 8 * ffn_width(spec.arch) + 2 * k * h) == (stage == "down")  # the case tests its stage
    estimate = inference_memory(spec).per_gpu_bytes
    measured = measure_inference(spec).peak_bytes
    assert estimate / measured - 1 == pytest.approx(0, abs=0.02), (estimate, measured)


# Qwen2-MoE (issue 9): the shared expert's output is live through the routed experts, whose width excludes the shared
# expert's, and Qwen2MoeModel builds an unused sliding-window bool mask (registry window_mask_built). The old code put
# the shared width into the routed stage: +3.3% (1 x 512) and +4.3% (round 2's qwen2_moe-infer-b4, after scoring,
# not blind); at these shapes +3.9%, +9.9% and +8.2% before. What is left at 1 x 512 (-1.0%): the rotary cos and sin (2 x head_dim per position, one batch row) and the
# routing indices (sort, topk: int64 per routed token), against 0.5 x d_model the residual constant counts over.
QWEN2_MOE_SHAPES = [(256, 1, 512), (256, 3, 512), (512, 2, 1024)]


@pytest.mark.parametrize("h, batch, prompt", QWEN2_MOE_SHAPES, ids=[f"h{h}-{b}x{s}" for h, b, s in QWEN2_MOE_SHAPES])
def test_shared_expert_prefill_matches_the_real_class(load, h, batch, prompt):
    from llmspec.estimate import inference_memory
    from llmspec.estimate.measure import measure_inference
    from tests.estimate.test_measure_families import reduced_spec

    spec = load(reduced_spec("Qwen1.5-MoE-A2.7B", h=h, context=2048), f"inference.seq_len={prompt}",
                f"inference.batch_size={batch}")
    estimate, measured = inference_memory(spec).per_gpu_bytes, measure_inference(spec).peak_bytes
    assert estimate == pytest.approx(measured, rel=0.012), (estimate, measured)


def test_only_qwen2_moe_builds_the_unused_window_mask(load):
    from llmspec.estimate.inference import window_mask_bytes
    from tests.estimate.test_measure_families import reduced_spec

    qwen2_moe = load(reduced_spec("Qwen1.5-MoE-A2.7B", h=256, context=1024))
    assert window_mask_bytes(qwen2_moe, 512, 0.0) == 512 * 512
    assert window_mask_bytes(qwen2_moe, 512, 1.0) == 0  # a dense mask already counted (padding)
    flash = load(reduced_spec("Qwen1.5-MoE-A2.7B", h=256, context=1024), 'inference.attention="flash"')
    assert window_mask_bytes(flash, 512, 0.0) == 0
    assert window_mask_bytes(load(reduced_spec("Mixtral-8x7B", h=256, context=1024)), 512, 0.0) == 0
