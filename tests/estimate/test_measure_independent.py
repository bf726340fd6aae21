"""An independent check of --measure: the model built straight from transformers equals llmspec's measurement.

For three families whose real class was once replaced by a stand-in (OPT was measured as a GPT-2), the test takes
the checkpoint's real config.json values, shrinks them by editing its own keys, and builds the model with
``AutoConfig.for_model`` -> ``AutoModelForCausalLM.from_config`` under the same fake-tensor tracker, not through
llmspec's model-building code (``hfmap``, ``_measure_support.build``). It runs the same steady-state step that
``measure_training`` documents (two optimizer steps, the second tracked; the spec's AdamW implementation;
autocast; grad clipping)
and a generation prefill, and compares the peaks with llmspec's measurement of a spec written from that config.
"""

from __future__ import annotations

import pytest

from llmspec.spec.families import PRESETS
from llmspec.spec.hf_import import architecture_from_hf
from llmspec.spec.scaffold import toml_value

pytestmark = [pytest.mark.eval, pytest.mark.slow]

SHRINK = {  # preset -> its own config.json keys, set to a small shape
    "OPT-1.3B": dict(hidden_size=128, ffn_dim=256, num_hidden_layers=2, num_attention_heads=4, vocab_size=512,
                     max_position_embeddings=128, word_embed_proj_dim=128),
    "Falcon-7B": dict(hidden_size=128, num_attention_heads=4, num_hidden_layers=2, vocab_size=512),
    "Pythia-1.4B": dict(hidden_size=128, intermediate_size=512, num_attention_heads=4, num_hidden_layers=2,
                        vocab_size=512, max_position_embeddings=128),
}
DROPOUT = {"OPT-1.3B": "dropout", "Falcon-7B": "hidden_dropout", "Pythia-1.4B": "hidden_dropout"}


def real_config(preset: str) -> dict:
    return {**PRESETS[preset].config(), **SHRINK[preset]}


def spec_from(tmp_path, preset: str, config: dict):
    from llmspec.spec.loader import load_spec

    family, arch = architecture_from_hf(config)
    moe = arch.pop("moe", None)
    assert moe is None
    dropout = config.get(DROPOUT[preset], 0.0)
    lines = ["[model]", f'name = "{preset}"', f'family = "{family}"', "", "[model.architecture]",
             *(f"{k} = {toml_value(v)}" for k, v in arch.items()), "", "[training]", "micro_batch_size = 2",
             "seq_len = 64", f"dropout = {dropout}", "", "[inference]", "seq_len = 64", "", "[hardware]",
             'accelerator = "A100-80GB"', ""]
    path = tmp_path / "spec.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return load_spec(path)


def straight_from_transformers(config: dict, dtype):
    from transformers import AutoConfig, AutoModelForCausalLM

    raw = dict(config)
    model_type = raw.pop("model_type")
    raw.pop("architectures", None)
    raw["use_cache"] = False
    cfg = AutoConfig.for_model(model_type, **raw)
    return AutoModelForCausalLM.from_config(cfg, dtype=dtype, attn_implementation="sdpa")


def independent_training_peak(config: dict, spec) -> tuple[str, int]:
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    from llmspec.estimate._measure_support import fake_friendly_transformers
    from llmspec.estimate._tracker import StorageTracker

    tr = spec.training
    tracker = StorageTracker(vocab_size=config["vocab_size"])
    with fake_friendly_transformers(), FakeTensorMode():
        torch.manual_seed(0)
        model = straight_from_transformers(config, torch.float32)  # bf16-mixed: fp32 weights, bf16 autocast
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        for p in model.parameters():
            tracker.register(p, "weights")
            tracker.params.add(id(p.untyped_storage()))
        for b in model.buffers():
            tracker.register(b, "weights")
        impl = tr.optimizer_impl or "foreach"  # the spec's stack default (HF Trainer: fused)
        opt = torch.optim.AdamW(params, lr=tr.learning_rate, weight_decay=tr.weight_decay, foreach=impl == "foreach",
                                fused=impl == "fused")
        ids = torch.randint(0, config["vocab_size"], (tr.micro_batch_size, tr.seq_len))

        def step():
            tracker.phase = "forward"
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = model(input_ids=ids, labels=ids)
            loss = out.loss
            del out
            tracker.phase = "backward"
            loss.backward()
            del loss
            tracker.phase = "optimizer"
            if tr.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(params, tr.max_grad_norm, foreach=True)
            opt.step()
            opt.zero_grad(set_to_none=True)

        with tracker:
            step()
            for state in opt.state.values():
                for t in state.values():
                    if isinstance(t, torch.Tensor) and t.dim() > 0:
                        tracker.recategorize(t, "optimizer_states")
            tracker.reset_peaks()
            step()
    name = type(model).__name__
    return name, max(total for total, _ in tracker.peaks.values())


def independent_prefill_peak(config: dict, batch: int, prompt: int) -> int:
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from transformers import DynamicCache

    from llmspec.estimate._measure_support import fake_friendly_transformers
    from llmspec.estimate._tracker import StorageTracker

    tracker = StorageTracker(vocab_size=config["vocab_size"])
    with fake_friendly_transformers(), FakeTensorMode():
        model = straight_from_transformers(config, torch.bfloat16)
        model.eval()
        for p in model.parameters():
            tracker.register(p, "weights")
        for b in model.buffers():
            tracker.register(b, "weights")
        ids = torch.randint(0, config["vocab_size"], (batch, prompt))
        with tracker, torch.no_grad():
            tracker.phase = "forward"
            cache = DynamicCache(config=model.config)
            out = model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
            del out, cache
    return tracker.peaks["forward"][0]


@pytest.mark.parametrize("preset", sorted(SHRINK))
def test_measure_equals_the_model_built_straight_from_transformers(tmp_path, preset):
    from llmspec.estimate.measure import measure_inference, measure_training

    config = real_config(preset)
    spec = spec_from(tmp_path, preset, config)
    name, peak = independent_training_peak(config, spec)
    ours = measure_training(spec)
    assert ours.model_class == name == config["architectures"][0]
    assert ours.peak_bytes == peak
    assert measure_inference(spec).peak_bytes == independent_prefill_peak(config, 1, 64)
