"""Invariants of the estimators over many generated specs (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llmspec.estimate import estimate
from llmspec.spec.models import Spec

archs = st.builds(
    lambda L, heads, kv_div, hd, f, V, tie, bias: dict(
        n_layers=L, d_model=heads * hd, n_heads=heads, n_kv_heads=max(1, heads // kv_div), ffn_dim=f,
        vocab_size=V, context_length=4096, tie_embeddings=tie, qkv_bias=bias),
    st.integers(1, 48), st.sampled_from([4, 8, 16, 32]), st.sampled_from([1, 2, 4]), st.sampled_from([64, 128]),
    st.integers(256, 30000), st.integers(1000, 160000), st.booleans(), st.booleans(),
)
trainings = st.fixed_dictionaries({
    "method": st.sampled_from(["full", "lora", "qlora", "pretrain"]),
    "precision": st.sampled_from(["fp32", "bf16-mixed", "fp16-mixed", "bf16", "fp8-mixed"]),
    "optimizer": st.sampled_from(["adamw", "adam", "adamw_8bit", "sgd", "adafactor", "lion"]),
    "micro_batch_size": st.integers(1, 16),
    "gradient_accumulation": st.integers(1, 8),
    "seq_len": st.sampled_from([128, 1024, 4096]),
    "activation_checkpointing": st.booleans(),
    "attention": st.sampled_from(["flash", "eager"]),
})
hardware = st.fixed_dictionaries({
    "count": st.sampled_from([1, 2, 8]),
    "sharding": st.sampled_from(["none", "zero1", "zero2", "zero3", "fsdp"]),
    "offload": st.sampled_from(["none", "optimizer"]),
    "tensor_parallel": st.sampled_from([1, 2]),
})


@settings(max_examples=150, deadline=None)
@given(archs, trainings, hardware)
def test_invariants(arch, training, hw):
    spec = Spec.model_validate({"model": {"name": "x", "architecture": arch}, "training": training,
                                "hardware": hw, "inference": {"seq_len": 2048}})
    result = estimate(spec)
    for mem in (result.training, result.inference):
        assert mem.per_gpu_bytes == max(mem.phases.values())
        assert sum(mem.breakdown.values()) == mem.per_gpu_bytes
        assert all(v >= 0 for v in mem.breakdown.values())
        assert mem.overhead_bytes > 0
    assert result.compute.flops_per_token >= result.compute.model_flops_per_token > 0
    for fix in result.fits:
        assert fix.total_bytes <= fix.capacity_bytes
    data = result.to_dict()
    assert data["memory"]["training"]["total_bytes"] == result.training.total_bytes
