"""checkpoint_policy = "every-n" with LoRA on an MoE family's experts: the blocks that are not checkpointed keep
their experts' LoRA activations. The estimate used to drop them (it added them only without checkpointing), so
every-n read like full checkpointing: -20.0% (Mixtral) and -20.3% (Qwen3-MoE) in the fifth blind round
(benchmarks/memory_accuracy.md; diagnosed after scoring). Measured on the real MixtralForCausalLM under fake tensors
(no GPU exists here). Also: the blocks above the last checkpointed one have run their backward (and freed their
activations) when it is recomputed."""

from __future__ import annotations

import pytest

from llmspec.estimate import training_memory

pytestmark = [pytest.mark.eval, pytest.mark.slow]

MIXTRAL = """
[model]
name = "tiny-mixtral"
family = "mixtral"

[model.architecture]
n_layers = 4
d_model = 256
n_heads = 4
n_kv_heads = 2
ffn_dim = 1024
activation = "swiglu"
vocab_size = 2048
context_length = 1024
tie_embeddings = false
position = "rope"

[model.architecture.moe]
n_experts = 4
experts_per_token = 2

[training]
method = "lora"
precision = "bf16-mixed"
stack = "pytorch"
micro_batch_size = 1
seq_len = 256
activation_checkpointing = true

[training.lora]
rank = 32
dropout = 0
targets = ["all-linear"]

[hardware]
accelerator = "H100-SXM"
"""
EVERY2 = ("training.checkpoint_policy=every-n", "training.checkpoint_every=2")


def test_every_n_keeps_the_unchecked_blocks_expert_activations(load_text):
    full = training_memory(load_text(MIXTRAL)).per_gpu_bytes
    none = training_memory(load_text(MIXTRAL, "training.activation_checkpointing=false")).per_gpu_bytes
    every2 = training_memory(load_text(MIXTRAL, *EVERY2)).per_gpu_bytes
    assert full < every2 < none


@pytest.mark.parametrize("layers", [4, 3, 5])
def test_every_n_moe_lora_matches_the_real_class(load_text, layers):
    """At 3 and 5 blocks the last block is not checkpointed: its backward frees its saved activations before the
    last checkpointed block is recomputed (the estimate used to count them there too: +17.7% at 3 blocks)."""
    pytest.importorskip("torch")
    from llmspec.estimate.measure import measure_training

    spec = load_text(MIXTRAL, *EVERY2, f"model.architecture.n_layers={layers}")
    est, meas = training_memory(spec).per_gpu_bytes, measure_training(spec).peak_bytes
    assert abs(est / meas - 1) < 0.02, (est, meas)


GPT2_FUSED = """
[model]
name = "tiny-gpt2"
family = "gpt2"

[model.architecture]
n_layers = 2
d_model = 256
n_heads = 4
n_kv_heads = 4
ffn_dim = 1024
activation = "gelu_new"
vocab_size = 8192
context_length = 1024
tie_embeddings = true
norm = "layernorm"
qkv_bias = true
attn_out_bias = true
mlp_bias = true
position = "learned"
learned_positions = 1024

[training]
method = "full"
precision = "bf16"
loss = "fused-linear"
optimizer_impl = "fused"
micro_batch_size = 1
seq_len = 512

[hardware]
accelerator = "H100-SXM"
"""


def test_fused_linear_loss_with_a_tied_head_matches_the_real_class(load_text):
    """loss = "fused-linear" with a trained, tied head in pure bf16: Liger's forward fills the head's grad_weight
    and keeps it to the end of backward, where the embedding's gradient is summed into that fresh buffer in place
    (one extra head-sized gradient, not mm's view's two). Blind round 5's gpt2-full-bf16-fusedce-foreach was -5.2%
    (after scoring); at this shape the estimate was +11.3% (the end of backward counted an out-of-place sum) and is
    now -2.1%: a start-of-backward residual (-3.3% at 7 blocks x 1024 tokens) is not traced yet, hence 3%."""
    pytest.importorskip("torch")
    from llmspec.estimate.measure import measure_training

    spec = load_text(GPT2_FUSED)
    est, meas = training_memory(spec).per_gpu_bytes, measure_training(spec).peak_bytes
    assert abs(est / meas - 1) < 0.03, (est, meas)
