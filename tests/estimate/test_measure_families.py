"""--measure builds the real transformers class of every registry family, from that family's own config fields,
and measures what the spec says: adapter dtype, tensor parallelism (emulated, and said so), accumulation."""

from __future__ import annotations

import pytest

from llmspec.estimate.params import count_params
from llmspec.spec.families import FAMILIES, PRESETS
from llmspec.spec.hf_import import architecture_from_hf
from llmspec.spec.scaffold import toml_value
from tests.estimate.conftest import TINY

pytestmark = [pytest.mark.eval, pytest.mark.slow]


def reduced_spec(preset: str, h: int = 64, extra: str = "", context: int = 128) -> str:
    """The preset's architecture at a small shape (2 layers, d_model h, 4 heads), everything else kept: biases,
    norms, positions, kv-head sharing, qk_norm, MoE routing and dense blocks."""
    family, a = architecture_from_hf(PRESETS[preset].config())
    heads = 4
    kv = 1 if a["n_kv_heads"] == 1 else (heads if a["n_kv_heads"] == a["n_heads"] else 2)
    a.update(n_layers=2, d_model=h, n_heads=heads, n_kv_heads=kv, ffn_dim=2 * h, vocab_size=256, context_length=context)
    if "head_dim" in a:
        a["head_dim"] = 2 * h // heads
    if "learned_positions" in a:
        a["learned_positions"] = context + (2 if family == "opt" else 0)
    moe = a.pop("moe", None)
    lines = ["[model]", f'name = "{preset}"', f'family = "{family}"', "", "[model.architecture]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in a.items()]
    if moe:
        moe.update(n_experts=4, experts_per_token=2)
        for key in ("expert_ffn_dim", "shared_expert_ffn_dim"):
            if key in moe:
                moe[key] = h
        if "dense_layers" in moe:
            moe["dense_layers"] = 1
        lines += ["", "[model.architecture.moe]", *(f"{k} = {toml_value(v)}" for k, v in moe.items())]
    lines += ["", "[training]", "micro_batch_size = 1", "seq_len = 32", 'precision = "bf16"', "", "[inference]",
              "seq_len = 64", "", "[hardware]", 'accelerator = "A100-80GB"', extra]
    return "\n".join(lines) + "\n"


def first_preset(model_type: str) -> str:
    return next(p.name for p in PRESETS.values() if p.config()["model_type"] == model_type)


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_measure_builds_the_real_class_of_every_family(load, model_type):
    """Never a stand-in: OPT is OPTForCausalLM (it used to be measured as a GPT-2), Falcon FalconForCausalLM, ...;
    and the model it built has exactly the spec's parameters."""
    from llmspec.estimate.measure import measure_inference, measure_training

    spec = load(reduced_spec(first_preset(model_type)))
    training, inference = measure_training(spec), measure_inference(spec)
    assert training.model_class == inference.model_class == FAMILIES[model_type].hf_class
    assert count_params(spec.arch).total * 2 <= training.breakdown["weights"]  # bf16 weights (+ buffers, rounding)


def test_real_class_cannot_build_what_its_family_lacks(load):
    """A spec whose family cannot express its architecture is refused with what differs, not built as a stand-in."""
    from llmspec.estimate.hfmap import UnsupportedArchitecture, config_for

    spec = load(reduced_spec("OPT-1.3B").replace('position = "learned"', 'position = "rope"'))
    with pytest.raises(UnsupportedArchitecture, match="OPTForCausalLM cannot build this architecture: position"):
        config_for(spec)


def test_adapters_take_the_resolved_adapter_dtype(load):
    """The adapters take the dtype the estimate uses (adapters.adapter_dtype): under pure bf16 the spec's lora.dtype,
    else its stack's (HF Trainer + PEFT: fp32, torchtune: bf16); under bf16-mixed fp32. The measurement used to give
    pure bf16 bf16 adapters whatever lora.dtype said."""
    from llmspec.estimate.measure import measure_training

    lora = ("training.method=lora", 'training.lora.targets=["all-linear"]', "training.lora.rank=8")
    spec_bf16 = load(reduced_spec("Llama-2-7B"), *lora, "training.lora.dtype=bf16")
    bf16 = measure_training(spec_bf16).breakdown["weights"]
    adapters = count_params(spec_bf16.arch, spec_bf16.training, family="llama").trainable
    for fp32 in ((), ("training.lora.dtype=fp32",), ("training.precision=bf16-mixed",)):  # () is HF Trainer's fp32
        assert measure_training(load(reduced_spec("Llama-2-7B"), *lora, *fp32)).breakdown["weights"] - bf16 \
            == 2 * adapters, fp32
    assert measure_training(load(reduced_spec("Llama-2-7B"), *lora, "training.stack=torchtune")).breakdown[
        "weights"] == bf16


def test_accumulation_stops_at_the_micro_batch_that_sets_the_peak(load):
    from llmspec.estimate.measure import measure_training

    two = measure_training(load(TINY, "training.gradient_accumulation=2"))
    many = measure_training(load(TINY, "training.gradient_accumulation=64"))
    assert many.micro_batches == 2 and many.peak_bytes == two.peak_bytes and many.phases == two.phases
    assert any("gradient accumulation 64: 2 micro-batches" in note for note in many.emulated)


def test_inference_tensor_parallel_is_applied_and_said(load):
    from llmspec.estimate import inference_memory
    from llmspec.estimate.measure import measure_inference

    one = measure_inference(load(TINY))
    spec = load(TINY, "inference.tensor_parallel=2")
    two = measure_inference(spec)
    assert two.breakdown["weights"] == one.breakdown["weights"] // 2
    assert two.breakdown["kv_cache"] == one.breakdown["kv_cache"] // 2  # 2 KV heads split 2 ways
    assert any("tensor parallel 2" in note for note in two.emulated)
    assert inference_memory(spec).per_gpu_bytes == pytest.approx(two.peak_bytes, rel=0.05)


def test_training_tensor_parallel_is_applied_and_said(load):
    """The training measurement used to ignore tensor parallelism without a word (a TP=2 spec measured one whole
    replica, and the table showed the estimate 50% below it)."""
    from llmspec.estimate import training_memory
    from llmspec.estimate.measure import measure_training

    one = measure_training(load(TINY, "hardware.count=2"))
    spec = load(TINY, "hardware.count=2", "hardware.tensor_parallel=2")
    two = measure_training(spec)
    assert two.breakdown["weights"] == one.breakdown["weights"] // 2
    assert two.breakdown["optimizer_states"] == one.breakdown["optimizer_states"] // 2
    assert any("tensor parallel 2 x pipeline 1" in note for note in two.emulated)
    assert training_memory(spec).per_gpu_bytes == pytest.approx(two.peak_bytes, rel=0.05)
