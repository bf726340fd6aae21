"""The dense attention mask (issue 12) and sliding windows (issue 9): padded batches and windows at seq >= window
make transformers' sdpa path build a (batch, 1, seq, seq) mask; the estimate (llmspec.estimate.mask) and --measure
on the real class both see it. Each test failed on the code before: --measure passed no padding mask, the estimate
had no mask term, and the importer dropped Phi-3's sliding_window."""

from __future__ import annotations

import pytest

from llmspec.estimate import inference_memory, training_memory
from llmspec.spec.families import PRESETS
from llmspec.spec.hf_import import HFConfigError, architecture_from_hf
from llmspec.spec.scaffold import toml_value

# a small Llama at a long sequence, where the mask is a tenth of the peak: d_model 256, 2 blocks, 4 x 1024 tokens
PADDED = """
[model]
name = "small-llama"
family = "llama"

[model.architecture]
n_layers = 2
d_model = 256
n_heads = 4
n_kv_heads = 2
ffn_dim = 512
vocab_size = 1024
context_length = 4096

[training]
micro_batch_size = 4
seq_len = 1024
packing = false

[inference]
batch_size = 4
seq_len = 1024
padded = true

[hardware]
accelerator = "A100-80GB"
"""


def phi3_small(seq: int, window: bool = True) -> str:
    """Phi-3-mini-4k's own config.json (its sliding_window 2047 through the importer) at a small width."""
    family, a = architecture_from_hf(PRESETS["Phi-3-mini-4k"].config())
    a.update(n_layers=2, d_model=128, n_heads=4, n_kv_heads=4, ffn_dim=256, vocab_size=512)
    if not window:
        a.pop("sliding_window")
    body = "\n".join(f"{k} = {toml_value(v)}" for k, v in a.items())
    return (f'[model]\nname = "phi3-small"\nfamily = "{family}"\n\n[model.architecture]\n{body}\n\n'
            f"[training]\nmicro_batch_size = 1\nseq_len = {seq}\n\n[inference]\nseq_len = {seq}\n\n"
            '[hardware]\naccelerator = "A100-80GB"\n')


# --- the importer keeps the window ----------------------------------------------------------------------------


@pytest.mark.parametrize(("preset", "window", "layers"), [
    ("Phi-3-mini-4k", 2047, None), ("Mistral-7B", 4096, None), ("Gemma-2-9B", 4096, 21),
    ("Qwen2.5-7B", None, None)])  # Qwen2.5: use_sliding_window = false
def test_importer_keeps_sliding_window(preset, window, layers):
    _, a = architecture_from_hf(PRESETS[preset].config())
    assert a.get("sliding_window") == window
    assert a.get("sliding_window_layers") == layers


def test_qwen2_window_covers_the_blocks_from_max_window_layers():
    config = {**PRESETS["Qwen2.5-7B"].config(), "use_sliding_window": True, "sliding_window": 4096,
              "max_window_layers": 20}
    _, a = architecture_from_hf(config)
    assert (a["sliding_window"], a["sliding_window_layers"]) == (4096, 8)  # blocks 20..27 of 28


def test_a_window_the_spec_cannot_place_is_refused_in_one_line():
    config = {**PRESETS["Qwen1.5-MoE-A2.7B"].config(), "use_sliding_window": True}
    with pytest.raises(HFConfigError, match="use_sliding_window = true") as err:
        architecture_from_hf(config)
    assert "\n" not in str(err.value)


@pytest.mark.eval
def test_measure_writes_the_window_into_the_real_config(load):
    from llmspec.estimate.hfmap import hf_config

    assert hf_config(load(phi3_small(2100))).sliding_window == 2047
    assert hf_config(load(phi3_small(2100, window=False))).sliding_window is None


# --- the analytic term -----------------------------------------------------------------------------------------


def test_padded_batches_add_the_dense_mask_under_sdpa(load):
    packed, padded = (training_memory(load(PADDED, f"training.packing={v}")) for v in ("true", "false"))
    # no checkpointing: each block's additive bf16 mask is saved for backward, 2 blocks x 4 x 1024^2 x 2 bytes
    assert padded.per_gpu_bytes - packed.per_gpu_bytes == 2 * 4 * 1024**2 * 2
    assert any("dense (batch, 1, seq, seq) mask" in n for n in padded.assumptions)
    flash = training_memory(load(PADDED, 'training.attention="flash"'))
    assert flash.per_gpu_bytes == packed.per_gpu_bytes  # FlashAttention-2 unpads: no dense mask


def test_stacks_with_their_own_model_code_build_no_mask(load):
    packed, padded = (training_memory(load(PADDED, 'training.stack="torchtune"', f"training.packing={v}"))
                      for v in ("true", "false"))
    assert padded.per_gpu_bytes == packed.per_gpu_bytes
    assert any("passes no padding mask" in n for n in padded.assumptions)


def test_padded_does_not_apply_to_a_paged_engine(load):
    spec = load(PADDED, 'inference.backend="vllm"')
    assert any("inference.padded does not apply to vllm" in n for n in inference_memory(spec).assumptions)


def test_window_mask_only_from_seq_len_window_on(load):
    below, above = training_memory(load(phi3_small(2000))), training_memory(load(phi3_small(2100)))
    nowin = training_memory(load(phi3_small(2100, window=False)))
    assert not any("sliding_window" in n for n in below.assumptions)
    assert any("seq_len 2,100 >= sliding_window 2,047" in n for n in above.assumptions)
    assert above.per_gpu_bytes - nowin.per_gpu_bytes == 2 * 2100**2 * 2  # 2 windowed blocks' bf16 additive masks


# --- estimate vs --measure on the real class -------------------------------------------------------------------


@pytest.mark.eval
@pytest.mark.slow
@pytest.mark.parametrize("ckpt", ["false", "true"])  # with checkpointing the peak is the mid-backward moment
def test_padded_training_estimate_matches_measure(load, ckpt):
    from llmspec.estimate.measure import measure_training

    padded = load(PADDED, f"training.activation_checkpointing={ckpt}")
    packed = load(PADDED, f"training.activation_checkpointing={ckpt}", "training.packing=true")
    measured, unpadded = measure_training(padded), measure_training(packed)
    # the measured run took the padded path: at least the bool mask of 4 x 1024^2 more than the packed run
    assert measured.peak_bytes - unpadded.peak_bytes >= 4 * 1024**2
    assert training_memory(padded).per_gpu_bytes == pytest.approx(measured.peak_bytes, rel=0.05)


@pytest.mark.eval
@pytest.mark.slow
def test_padded_prefill_estimate_matches_measure(load):
    from llmspec.estimate.measure import measure_inference

    spec = load(PADDED, "inference.batch_size=2", "inference.seq_len=2048")
    measured = measure_inference(spec)
    unpadded = measure_inference(load(PADDED, "inference.batch_size=2", "inference.seq_len=2048",
                                      "inference.padded=false"))
    assert measured.peak_bytes - unpadded.peak_bytes >= 2 * 2048**2  # the bool mask at least
    assert inference_memory(spec).per_gpu_bytes == pytest.approx(measured.peak_bytes, rel=0.05)


@pytest.mark.eval
@pytest.mark.slow
def test_phi3_above_its_window_estimate_matches_measure(load):
    from llmspec.estimate.measure import measure_inference, measure_training

    spec = load(phi3_small(2100))
    measured = measure_training(spec)
    without = measure_training(load(phi3_small(2100, window=False)))
    assert measured.peak_bytes - without.peak_bytes >= 2 * 2100**2 * 2  # the windowed blocks' masks are real
    assert training_memory(spec).per_gpu_bytes == pytest.approx(measured.peak_bytes, rel=0.05)
    assert inference_memory(spec).per_gpu_bytes == pytest.approx(measure_inference(spec).peak_bytes, rel=0.05)


@pytest.mark.eval
@pytest.mark.slow
def test_flash_measures_no_dense_mask(load):
    from llmspec.estimate.measure import measure_training

    flash = measure_training(load(PADDED, 'training.attention="flash"', "training.seq_len=512"))
    packed = measure_training(load(PADDED, "training.packing=true", "training.seq_len=512"))
    assert flash.peak_bytes == packed.peak_bytes
