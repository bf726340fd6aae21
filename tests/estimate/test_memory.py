"""Analytic properties of the memory estimators (pure Python, fast)."""

from __future__ import annotations

import pytest

from llmspec.estimate import inference_memory, training_memory
from llmspec.estimate.precision import NF4_BYTES
from tests.estimate.conftest import LLAMA2_7B

N_LLAMA2 = 6_738_415_616  # published parameter count of Llama-2-7B


def test_peak_is_the_max_over_phases_not_their_sum(load):
    est = training_memory(load())
    assert set(est.phases) == {"forward", "backward", "optimizer"}
    assert est.per_gpu_bytes == max(est.phases.values())
    assert est.per_gpu_bytes < sum(est.phases.values())
    assert est.peak_phase == max(est.phases, key=est.phases.get)
    assert sum(est.breakdown.values()) == est.per_gpu_bytes
    assert est.total_bytes == est.per_gpu_bytes + est.overhead_bytes


def test_amp_adamw_full_finetune_is_20_bytes_per_param_at_the_optimizer_step(load):
    # fp32 weights 4 + fp32 grads 4 + two fp32 Adam states 8 + foreach sqrt buffer 4 (torch _multi_tensor_adam)
    est = training_memory(load(LLAMA2_7B, "training.optimizer_impl=foreach"))
    assert est.peak_phase == "optimizer"
    assert est.breakdown["weights"] == 4 * N_LLAMA2
    assert est.breakdown["gradients"] == 4 * N_LLAMA2
    assert est.breakdown["optimizer_states"] == 8 * N_LLAMA2
    assert est.per_gpu_bytes == 20 * N_LLAMA2
    assert est.fits is False and est.capacity_bytes == 80 * 2**30


def test_checkpointing_lowers_activations(load):
    base = training_memory(load(LLAMA2_7B, "hardware.sharding=fsdp", "hardware.count=8"))
    ckpt = training_memory(load(LLAMA2_7B, "hardware.sharding=fsdp", "hardware.count=8",
                                "training.activation_checkpointing=true"))
    assert base.peak_phase in ("forward", "backward")
    assert ckpt.breakdown.get("activations", 0) < base.breakdown["activations"] / 10
    assert ckpt.per_gpu_bytes < base.per_gpu_bytes


def test_zero3_divides_weights_by_the_data_parallel_degree(load):
    one = training_memory(load(LLAMA2_7B, "hardware.count=8"))
    z3 = training_memory(load(LLAMA2_7B, "hardware.count=8", "hardware.sharding=zero3"))
    assert z3.breakdown["weights"] == pytest.approx(one.breakdown["weights"] / 8, abs=1)
    assert z3.breakdown["optimizer_states"] == pytest.approx(one.breakdown["optimizer_states"] / 8, abs=1)
    assert "gathered_layers" in z3.breakdown
    z1 = training_memory(load(LLAMA2_7B, "hardware.count=8", "hardware.sharding=zero1"))
    assert z1.breakdown["weights"] == one.breakdown["weights"]
    assert z1.breakdown["optimizer_states"] == pytest.approx(one.breakdown["optimizer_states"] / 8, abs=1)


def test_gradient_accumulation_keeps_gradients_live_in_forward(load):
    ga1 = training_memory(load(LLAMA2_7B, "training.method=lora"))
    ga4 = training_memory(load(LLAMA2_7B, "training.method=lora", "training.gradient_accumulation=4"))
    assert ga4.phases["forward"] - ga1.phases["forward"] == ga4.breakdown.get("gradients", 0) > 0
    full1 = training_memory(load())
    full4 = training_memory(load(LLAMA2_7B, "training.gradient_accumulation=4"))
    assert full4.phases["forward"] == full1.phases["forward"] + 4 * N_LLAMA2


def test_lora_freezes_a_16bit_base_and_qlora_stores_nf4(load):
    lora = training_memory(load(LLAMA2_7B, "training.method=lora"))
    qlora = training_memory(load(LLAMA2_7B, "training.method=qlora"))
    adapters = 2 * 4 * 32 * 16 * (4096 + 4096)  # PEFT's default q, v (targets unset) x 32 layers x r(d_in+d_out), fp32
    assert lora.breakdown["weights"] == 2 * N_LLAMA2 + adapters
    block = N_LLAMA2 - 2 * 32000 * 4096 - 266240
    assert qlora.breakdown["weights"] == pytest.approx(block * NF4_BYTES + (N_LLAMA2 - block) * 2 + adapters, abs=2)
    assert NF4_BYTES * 8 == pytest.approx(4.127, abs=1e-3)
    assert qlora.per_gpu_bytes < lora.per_gpu_bytes < training_memory(load()).per_gpu_bytes


@pytest.mark.parametrize("optimizer, per_param", [("adamw", 8), ("lion", 4), ("sgd", 0)])
def test_optimizer_state_bytes(load, optimizer, per_param):
    est = training_memory(load(LLAMA2_7B, f"training.optimizer={optimizer}"))
    assert est.breakdown.get("optimizer_states", 0) == per_param * N_LLAMA2


def test_8bit_and_adafactor_states_are_far_smaller(load):
    adam = training_memory(load()).breakdown["optimizer_states"]
    eight = training_memory(load(LLAMA2_7B, "training.optimizer=adamw_8bit")).breakdown["optimizer_states"]
    ada = training_memory(load(LLAMA2_7B, "training.optimizer=adafactor")).breakdown["optimizer_states"]
    assert eight == pytest.approx(adam / 4, rel=0.01)
    assert ada < adam / 100


def test_eager_attention_adds_the_score_matrix(load):
    lora = (LLAMA2_7B, "training.method=lora")
    flash = training_memory(load(*lora))
    eager = training_memory(load(*lora, "training.attention=eager"))
    # the saved activations at the end of forward (the backward peak is then the last block's score backward,
    # llmspec.estimate.attn_backward: two more fp32 score-sized tensors, 8 B x heads x s x s)
    extra = eager.phases["forward"] - flash.phases["forward"]
    assert extra == 32 * 6 * 32 * 4096 * 4096  # layers x 6 B x heads x s x s (one sequence)
    assert eager.breakdown["backward_temporaries"] == 8 * 32 * 4096 * 4096


@pytest.mark.parametrize("dotted, plain", [
    ('["self_attn.q_proj", "self_attn.v_proj"]', '["q_proj", "v_proj"]'),
    ('["mlp.q_proj", "model.layers.0.mlp.down_proj", "mlp.down_proj"]', None),  # mlp.q_proj: no module
    ('["q_proj", "layers.0.self_attn.q_proj", "mlp.gate_proj", "model.layers.5.mlp.up_proj"]', None),
])
def test_dotted_lora_targets_estimate_like_peft_matches_them(load, dotted, plain):
    """PEFT matches a target against module paths, exact or ending in "." + target
    (peft==0.21.2:peft/tuners/tuners_utils.py:check_target_module_exists): self_attn.q_proj is q_proj, and a block
    index adapts one block. lora_shapes used to count no adapter for a dotted target, so its parameters, gradients,
    optimizer states and adapter activations were missing from the estimate."""
    method = (LLAMA2_7B, "training.method=lora", "training.lora.rank=16")
    est = training_memory(load(*method, f"training.lora.targets={dotted}"))
    if plain is not None:
        assert est.breakdown == training_memory(load(*method, f"training.lora.targets={plain}")).breakdown
    elif "up_proj" in dotted:  # q_proj everywhere, gate_proj everywhere, up_proj in block 5 only
        full = training_memory(load(*method, 'training.lora.targets=["q_proj", "gate_proj"]'))
        d, f = 4096, 11008
        one_up = 16 * (d + f)  # one block's up_proj adapter
        assert est.breakdown["optimizer_states"] - full.breakdown["optimizer_states"] == one_up * 8  # AdamW, fp32
    else:  # only mlp.down_proj adapts, in every block (block 0's counted once)
        down = training_memory(load(*method, 'training.lora.targets=["down_proj"]'))
        assert est.breakdown == down.breakdown


def test_hardware_memory_overrides_the_catalog(load):
    est = training_memory(load(LLAMA2_7B, 'hardware.memory="24GiB"'))
    assert est.capacity_bytes == 24 * 2**30


def test_inference_kv_cache_formula(load):
    est = inference_memory(load(LLAMA2_7B, "inference.seq_len=4096", "inference.batch_size=2"))
    assert est.breakdown["kv_cache"] == 2 * 32 * 32 * 128 * 4096 * 2 * 2
    assert est.breakdown["weights"] == 2 * N_LLAMA2
    int4 = inference_memory(load(LLAMA2_7B, "inference.precision=int4"))
    assert int4.breakdown["weights"] < est.breakdown["weights"] / 3
    assert int4.breakdown["quant_scales"] > 0
    tp2 = inference_memory(load(LLAMA2_7B, "inference.tensor_parallel=2"))
    assert tp2.breakdown["weights"] == N_LLAMA2


def test_unknown_accelerator_gives_unknown_capacity(load):
    # the loader rejects unknown names; a spec built in Python (or a user catalog entry) can still carry one
    from llmspec.estimate.fit import with_overrides

    est = training_memory(with_overrides(load(), {"hardware.accelerator": "Z999"}))
    assert est.capacity_bytes is None and est.fits is None
    assert any("not in the catalog" in a for a in est.assumptions)
