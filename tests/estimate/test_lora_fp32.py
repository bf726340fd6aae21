"""LoRA under fp32 precision and checkpointed full fine-tuning against the real class (the cause of the blind held-out misses of the
lora-all-fp32 set-up, benchmarks/memory_accuracy.md). The old code doubled the whole 16-bit LoRA coefficient, so a
block's activations came out 12-24 x d_model bytes per token too high; the d_model part does not double
(activations.lora_h_coefficient). Per block = the 3-block run minus the 2-block run, so the non-block terms cancel."""

from __future__ import annotations

import json

import pytest

from llmspec.estimate import training_memory
from tests.estimate.test_measure_families import reduced_spec

TARGETS = [["q_proj", "v_proj"], ["o_proj"], ["down_proj"], ["q_proj", "k_proj", "v_proj", "o_proj"], ["all-linear"]]


def per_block(load, preset: str, targets: list[str], h: int, ffn: int | None = None,
              batch: int = 1) -> tuple[float, float]:
    from llmspec.estimate.measure import measure_training

    est, meas = [], []
    for layers in (2, 3):
        text = reduced_spec(preset, h=h, context=256).replace("n_layers = 2\n", f"n_layers = {layers}\n")
        if ffn is not None:
            text = text.replace(f"ffn_dim = {2 * h}\n", f"ffn_dim = {ffn}\n")
        spec = load(text, "training.method=lora", "training.precision=fp32", "training.seq_len=256",
                    f"training.micro_batch_size={batch}",
                    f"training.lora.targets={json.dumps(targets)}")
        est.append(training_memory(spec).phases["backward"])
        meas.append(measure_training(spec).phases["backward"])
    tokens = 256 * batch
    return (est[1] - est[0]) / tokens, (meas[1] - meas[0]) / tokens


@pytest.mark.eval
@pytest.mark.parametrize("targets", TARGETS, ids=["+".join(t) for t in TARGETS])
@pytest.mark.parametrize("preset", ["Llama-2-7B", "Mistral-7B"])
def test_fp32_lora_block_bytes_match_the_real_class(load, preset, targets):
    h = 256
    est, meas = per_block(load, preset, targets, h)
    assert abs(est - meas) <= 0.25 * h, (est, meas, (est - meas) / h)  # the old code: 12-24 x h over


# the families whose real class saves other tensors: the registry's "lora-fp32" residuals (fitted on
# benchmarks/fit_families.py's calibration shapes, not these), and Gemma 2's soft-capped eager scores under fp32
FAMILY_PRESETS = ["GPT-2", "Pythia-1.4B", "OPT-1.3B", "Falcon-7B", "Gemma-7B", "Gemma-2-9B", "Phi-3-mini-4k"]


@pytest.mark.eval
@pytest.mark.parametrize("preset", FAMILY_PRESETS)
def test_fp32_lora_block_bytes_of_other_families(load, preset):
    # MLP 4 x d_model (the two-matrix checkpoints' ratio) and 4 sequences, as the calibration shapes; at batch 1
    # Falcon-7B's peak moment in backward differs by a weight-sized transient (+5.9 x d_model per token here)
    h = 256
    est, meas = per_block(load, preset, ["all-linear"], h, ffn=4 * h, batch=4)
    assert abs(est - meas) <= 0.25 * h, (est, meas, (est - meas) / h)


# --- full fine-tuning with activation checkpointing: the head's autocast copy (the blind set's Gemma misses) ----


@pytest.mark.eval
@pytest.mark.parametrize("preset", ["Gemma-7B", "Llama-2-7B"])
@pytest.mark.parametrize("accumulation", [1, 4])
def test_checkpointing_keeps_the_heads_autocast_copy(load, preset, accumulation):
    """The blocks' autocast copies are recomputed, the head's is live until the loss backward (the old code dropped
    every copy: -4.9% Gemma-7B, -3.8% Llama-2-7B at this shape, where the head dominates)."""
    from llmspec.estimate.measure import measure_training

    text = reduced_spec(preset, h=128, context=256).replace("vocab_size = 256\n", "vocab_size = 16384\n")
    spec = load(text, "training.method=full", "training.precision=bf16-mixed", "training.seq_len=128",
                "training.micro_batch_size=2", "training.activation_checkpointing=true",
                f"training.gradient_accumulation={accumulation}")
    est, meas = training_memory(spec), measure_training(spec)
    assert est.breakdown["autocast_copies"] == 16384 * 128 * 2
    assert est.per_gpu_bytes == pytest.approx(meas.peak_bytes, rel=0.005)


@pytest.mark.eval
@pytest.mark.parametrize("accumulation, extra", [(1, 1), (4, 2)])
def test_tied_gradient_sum_with_accumulation(load, accumulation, extra):
    """At the end of backward a tied matrix's gradients are summed (in place under autocast: the head's comes from the
    weight cast's backward); with accumulation the accumulated gradient is one more vocab x d_model copy (the old
    code: 2 for both; blind case gemma-full-ckpt-accum -6.1%. Then 2 and 3, fitted to the tracker that counted every
    sum out of place: moments.ends.tied_grad_sum_bytes)."""
    from llmspec.estimate.measure import measure_training

    text = reduced_spec("Gemma-7B", h=128, context=256).replace("vocab_size = 256\n", "vocab_size = 8192\n")
    spec = load(text, "training.method=full", "training.precision=bf16-mixed", "training.seq_len=8",
                f"training.gradient_accumulation={accumulation}")
    est, meas = training_memory(spec), measure_training(spec)
    assert est.breakdown["tied_gradient_sum"] == extra * 8192 * 128 * 4
    assert est.per_gpu_bytes == pytest.approx(meas.peak_bytes, rel=0.005)


# --- pure bf16 with fp32 adapters (issue 9, gap a): peft casts each adapted module's input to fp32 ----------------

PURE_FP32_ADAPTERS = ("training.method=lora", "training.precision=bf16", "training.lora.dtype=fp32",
                      "training.lora.rank=8")


def _lora_spec(load, preset: str, layers: int, *overrides: str, vocab: int = 2048):
    text = reduced_spec(preset, h=256, context=256).replace("n_layers = 2\n", f"n_layers = {layers}\n")
    text = text.replace("ffn_dim = 512\n", "ffn_dim = 1024\n").replace("vocab_size = 256\n", f"vocab_size = {vocab}\n")
    return load(text, "training.seq_len=128", "training.micro_batch_size=2", *overrides)


# GPT-2 with c_attn alone is left out: under bf16-mixed too the estimate is 4% under there (the registry's gpt2 "lora"
# fit was measured with all linears adapted), so it does not isolate the adapter dtype
PURE_CASES = [("Llama-2-7B", ["all-linear"]), ("Llama-2-7B", ["q_proj", "k_proj", "v_proj", "o_proj"]),
              ("Qwen2.5-7B", ["all-linear"]), ("Qwen2.5-7B", ["q_proj", "v_proj"]), ("GPT-2", ["all-linear"])]


@pytest.mark.eval
@pytest.mark.parametrize("preset, targets", PURE_CASES, ids=[f"{p}-{'+'.join(t)}" for p, t in PURE_CASES])
def test_pure_bf16_with_fp32_adapters_matches_the_real_class(load, preset, targets):
    """Pure bf16 weights, fp32 adapters (PEFT's autocast_adapter_dtype, the hf-trainer stack's lora.dtype): each
    adapted module's fp32 copy of its input (saved by lora_A) and fp32 lora_A output (saved by lora_B) were missing:
    the old code read 5.1% (Llama), 5.2% (Qwen2) and 4.0% (GPT-2) under at 3 blocks x 2 x 128 tokens, d_model 512 and
    vocab 16,384 with all linears adapted, and 14% under per block at d_model 256."""
    from llmspec.estimate.measure import measure_training

    spec = _lora_spec(load, preset, 3, *PURE_FP32_ADAPTERS, f"training.lora.targets={json.dumps(targets)}")
    est, meas = training_memory(spec), measure_training(spec)
    assert est.per_gpu_bytes == pytest.approx(meas.peak_bytes, rel=0.01)


@pytest.mark.eval
@pytest.mark.parametrize("dropout", [0.0, 0.05])
@pytest.mark.parametrize("preset", ["Llama-2-7B", "GPT-2"])
def test_fp32_adapters_add_the_same_bytes_per_block_as_measured(load, preset, dropout):
    """Pure bf16 with fp32 adapters against bf16-mixed (the set-up the LoRA coefficients were fitted on), per block
    (3 blocks minus 2): the estimate's difference is the measured one, with and without lora_dropout (whose output
    is the fp32 tensor lora_A saves). The old code's difference was the adapters' weights, gradients and states only:
    21 x d_model per token and block under the measured one for all linears."""
    from llmspec.estimate.measure import measure_training

    def block(*setup: str) -> tuple[float, float]:
        est, meas = [], []
        for layers in (2, 3):
            spec = _lora_spec(load, preset, layers, *setup, 'training.lora.targets=["all-linear"]',
                              f"training.lora.dropout={dropout}", vocab=1000)
            est.append(training_memory(spec).phases["backward"])
            meas.append(measure_training(spec).phases["backward"])
        return (est[1] - est[0]) / 256, (meas[1] - meas[0]) / 256

    pure_est, pure_meas = block(*PURE_FP32_ADAPTERS)
    amp_est, amp_meas = block("training.method=lora", "training.precision=bf16-mixed", "training.lora.rank=8")
    assert (pure_est - amp_est) == pytest.approx(pure_meas - amp_meas, abs=0.25 * 256)


@pytest.mark.eval
@pytest.mark.parametrize("preset", ["Llama-2-7B", "Qwen2.5-7B", "GPT-2", "Falcon-7B"])
def test_bf16_adapters_save_each_shared_input_once(load, preset):
    """Pure bf16 with bf16 adapters (torchtune, LitGPT, or lora.dtype = "bf16"): no cast, so q, k and v (gate and up)
    save one input between them and o_proj's input is the attention kernel's saved output. Per block against
    bf16-mixed: the old code's difference was the adapter weights' only, 8 x d_model per token and block above the
    measured one on Llama and Qwen2 (+6% on the whole model), 2 x d_model on GPT-2 and Falcon."""
    from llmspec.estimate.measure import measure_training

    def block(*setup: str) -> tuple[float, float]:
        est, meas = [], []
        for layers in (2, 3):
            spec = _lora_spec(load, preset, layers, *setup, 'training.lora.targets=["all-linear"]', vocab=1000)
            est.append(training_memory(spec).phases["backward"])
            meas.append(measure_training(spec).phases["backward"])
        return (est[1] - est[0]) / 256, (meas[1] - meas[0]) / 256

    bf16_est, bf16_meas = block("training.method=lora", "training.precision=bf16", "training.lora.dtype=bf16",
                                "training.lora.rank=8")
    amp_est, amp_meas = block("training.method=lora", "training.precision=bf16-mixed", "training.lora.rank=8")
    assert (bf16_est - amp_est) == pytest.approx(bf16_meas - amp_meas, abs=0.25 * 256)


# --- the same with activation checkpointing (issue 9, gap a): the recomputed block's fp32 LoRA outputs --------------

CKPT_CASES = [("Llama-2-7B", ["all-linear"], 0.0), ("Llama-2-7B", ["all-linear"], 0.05),
              ("Llama-2-7B", ["gate_proj", "up_proj"], 0.0), ("Llama-2-7B", ["q_proj", "k_proj", "v_proj", "o_proj"], 0.05),
              ("Qwen2.5-7B", ["all-linear"], 0.0)]


@pytest.mark.eval
@pytest.mark.parametrize("preset, targets, dropout", CKPT_CASES,
                         ids=[f"{p}-{'+'.join(t)}-{d}" for p, t, d in CKPT_CASES])
def test_pure_bf16_with_fp32_adapters_under_checkpointing(load, preset, targets, dropout):
    """Pure bf16, fp32 adapters, activation checkpointing, a vocabulary small enough that the recomputed block's
    moment is the peak (recompute._LORA_FP32_ADAPTERS). The old code used the bf16 table: 8.4% under with all linears
    adapted, 14.5% with lora_dropout, 7.2% on gate/up, 3.1% on attention with dropout, 8.7% on Qwen2."""
    from llmspec.estimate.measure import measure_training

    spec = _lora_spec(load, preset, 3, *PURE_FP32_ADAPTERS, f"training.lora.targets={json.dumps(targets)}",
                      f"training.lora.dropout={dropout}", "training.activation_checkpointing=true", vocab=256)
    est, meas = training_memory(spec), measure_training(spec)
    assert est.per_gpu_bytes == pytest.approx(meas.peak_bytes, rel=0.01)
