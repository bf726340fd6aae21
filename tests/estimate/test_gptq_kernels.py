"""AutoGPTQ's kernels (issue 12, inference.quant_kernel): each size against a hand count of auto-gptq==0.5.0's source
(llmspec.estimate.gptq cites each symbol). Each test failed on the code before: no knob, no g_idx, no scratch."""

from __future__ import annotations

import math

import pytest

from llmspec.estimate import inference_memory
from llmspec.estimate.inference import weight_bytes
from llmspec.spec.models import Spec

# Llama-2-13B: 40 layers, d 5120, ffn 13824 (TheBloke/Llama-2-13B-chat-GPTQ, act_order False, g128)
L, D, F = 40, 5120, 13824
LLAMA13 = {"name": "llama-2-13b", "family": "llama",
           "architecture": {"n_layers": L, "d_model": D, "n_heads": 40, "n_kv_heads": 40, "ffn_dim": F,
                            "vocab_size": 32000, "context_length": 4096}}
# (in_features, out_features) of one block's quantised linears: q, k, v, o, gate, up, down
LINEARS = [(D, D)] * 4 + [(D, F)] * 2 + [(F, D)]


def spec(kernel: str = "none", batch: int = 1, prompt: int = 512, new: int = 1, group: int = 128, **extra) -> Spec:
    return Spec.model_validate({"model": LLAMA13, "inference": {
        "precision": "int4", "weight_group_size": group, "batch_size": batch, "seq_len": prompt + new,
        "prompt_tokens": prompt, "quant_kernel": kernel, **extra}})


def quantlinear_buffers(i: int, o: int, g: int) -> dict[str, int]:
    """qlinear_*.py:QuantLinear.__init__ at bits = 4: qweight int32 (i // 32 * 4, o), qzeros int32 (ceil(i / g),
    o // 32 * 4), scales fp16 (ceil(i / g), o), g_idx int32 (i,)."""
    return {"qweight": 4 * (i // 32 * 4) * o, "qzeros": 4 * math.ceil(i / g) * (o // 32 * 4),
            "scales": 2 * math.ceil(i / g) * o, "g_idx": 4 * i}


@pytest.mark.parametrize("group", [128, 64, 32])
def test_packed_weights_scales_and_zeros_match_quantlinear(group):
    est = inference_memory(spec(group=group))
    hand = [quantlinear_buffers(i, o, group) for i, o in LINEARS]
    packed = L * sum(h["qweight"] for h in hand)
    scales_zeros = L * sum(h["qzeros"] + h["scales"] for h in hand)
    block = L * sum(i * o for i, o in LINEARS)
    assert packed == block // 2  # qweight: the estimate's 0.5 B per block-linear weight
    fp16 = Spec.model_validate({"model": LLAMA13, "inference": {"precision": "fp16"}})
    assert weight_bytes(fp16)[0] - weight_bytes(spec(group=group))[0] == 2 * block - packed
    assert est.breakdown["quant_scales"] == pytest.approx(scales_zeros, abs=1)


def test_g_idx_is_four_bytes_per_input_feature_for_every_kernel():
    g_idx = L * sum(quantlinear_buffers(i, o, 128)["g_idx"] for i, o in LINEARS)
    assert g_idx == L * 4 * (6 * D + F)
    for kernel in ("exllama", "exllamav2", "cuda-old", "triton"):
        assert inference_memory(spec(kernel)).breakdown["gptq_g_idx"] == g_idx
    assert "gptq_g_idx" not in inference_memory(spec()).breakdown


def test_exllama_temp_dq_and_temp_state():
    """autogptq_post_init: temp_dq fp16 (1, max(qweight.numel() * 8)); temp_state fp16 (1, 1) without act-order,
    (2048, max(in, out)) with it."""
    largest_qweight = max((i // 32 * 4) * o for i, o in LINEARS)
    temp_dq = 2 * largest_qweight * 8
    assert temp_dq == 2 * D * F
    assert inference_memory(spec("exllama")).breakdown["gptq_kernel_buffers"] == temp_dq + 2 * 1 * 1
    act = inference_memory(spec("exllama", act_order=True)).breakdown["gptq_kernel_buffers"]
    assert act == temp_dq + 2 * 2048 * F


def test_exllamav2_scratch_is_the_largest_scratch_space_fixed():
    """scratch_space_fixed() = temp_dq_size + temp_fwd_size(2048, 8); ExLlamaV2DeviceTensors holds the largest."""
    def fixed(i, o):
        return (i * o * 2 + 128) + (o * 2048 * 8 * 4 + 128)

    scratch = max(fixed(i, o) for i, o in LINEARS)
    assert scratch == fixed(D, F)  # gate / up: the widest output
    assert inference_memory(spec("exllamav2")).breakdown["gptq_kernel_buffers"] == scratch
    # act-order: q_perm and q_invperm, int16 of qweight.shape[0] * 8 = in_features each, per linear
    g_idx = L * 4 * (6 * D + F)
    act = inference_memory(spec("exllamav2", act_order=True)).breakdown["gptq_g_idx"]
    assert act == g_idx + L * sum(2 * 2 * i for i, _ in LINEARS)


def test_cuda_old_dequantises_in_a_prefill_of_128_rows_only():
    """QuantLinear.forward (cuda-old): x.shape[0] >= kernel_switch_threshold (128) takes the dequantising path; the
    int32 shift of the expanded qweight (4 B per weight) beside its int8 cast (1 B): 5 B per weight of the largest."""
    big = inference_memory(spec("cuda-old", batch=1, prompt=128)).breakdown["prefill_activations"]
    base = inference_memory(spec("triton", batch=1, prompt=128)).breakdown["prefill_activations"]
    assert big - base == 5 * D * F
    small = inference_memory(spec("cuda-old", batch=1, prompt=127)).breakdown["prefill_activations"]
    assert small == inference_memory(spec("triton", batch=1, prompt=127)).breakdown["prefill_activations"]


def test_kernel_on_other_formats_is_ignored_with_a_note():
    s = Spec.model_validate({"model": LLAMA13, "inference": {"precision": "fp16", "quant_kernel": "exllama"}})
    est = inference_memory(s)
    assert "gptq_kernel_buffers" not in est.breakdown
    assert any("quant_kernel = exllama applies to int4-groups" in a for a in est.assumptions)
