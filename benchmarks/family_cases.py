"""Accuracy cases for every family of the registry (issue 9): estimate vs --measure on the family's real class.

Each family is taken from its first preset (a real config.json, llmspec/data/presets/) in two sizes:

* ``reduced``: d_model 256, 2 layers, 4 heads, vocabulary 2048, 256 tokens: what CI runs
  (tests/estimate/test_family_accuracy.py);
* ``held-out``: the checkpoint's real widths, heads, vocabulary and biases with 4 layers, 1024 tokens (fake
  tensors cost no memory; the run time grows with the number of layers, not their width).

Set-ups: full fine-tuning under bf16-mixed (MoE families: pure bf16, see docs/estimate.md), LoRA r=16 on all linear
layers (bf16 base, fp32 adapters), and a generation prefill. The case list is frozen in
``memory_accuracy_cases.json`` (``python benchmarks/family_cases.py --freeze``), committed before the held-out cases
were run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from llmspec.spec.families import FAMILIES, PRESETS
from llmspec.spec.hf_import import architecture_from_hf
from llmspec.spec.scaffold import toml_value

HERE = Path(__file__).resolve().parent
FROZEN = HERE / "memory_accuracy_cases.json"
SETUPS = {
    "full": ["training.method=full", "training.precision=bf16-mixed"],
    "lora": ["training.method=lora", "training.precision=bf16-mixed", "training.lora.rank=16",
             'training.lora.targets=["all-linear"]'],
    "infer": [],
}


def first_preset(model_type: str) -> str:
    return next(p.name for p in PRESETS.values() if p.config()["model_type"] == model_type)


def real_shape(preset: str, blocks: int) -> tuple[str, dict]:
    """The checkpoint's real widths, heads, vocabulary and biases with ``blocks`` blocks; an MoE family with dense
    blocks keeps 1 of them. The shape rule of the held-out cases here and of every blind round (family_blind.py)."""
    family, a = architecture_from_hf(PRESETS[preset].config())
    a["n_layers"] = blocks
    if a.get("moe", {}).get("dense_layers"):
        a["moe"]["dense_layers"] = 1
    return family, a


def architecture(preset: str, size: str) -> tuple[str, dict]:
    if size == "held-out":
        return real_shape(preset, 4)
    family, a = architecture_from_hf(PRESETS[preset].config())
    h, heads = 256, 4
    kv = 1 if a["n_kv_heads"] == 1 else (heads if a["n_kv_heads"] == a["n_heads"] else 2)
    gated_width = 688 if family in ("llama", "mistral", "olmo") else 4 * h
    a.update(n_layers=2, d_model=h, n_heads=heads, n_kv_heads=kv, ffn_dim=gated_width, vocab_size=2048,
             context_length=1024)
    if "head_dim" in a:
        a["head_dim"] = 2 * h // heads
    if "learned_positions" in a:
        a["learned_positions"] = 1024 + (2 if family == "opt" else 0)
    if "moe" in a:
        a["moe"].update(n_experts=4, experts_per_token=2)
        for key in ("expert_ffn_dim", "shared_expert_ffn_dim"):
            if key in a["moe"]:
                a["moe"][key] = h
        if a["moe"].get("dense_layers"):
            a["moe"]["dense_layers"] = 1
    return family, a


def spec_toml(preset: str, family: str, arch: dict, training: tuple[int, int],
              inference: dict[str, int] | None) -> str:
    """A case's spec: the architecture, [training] micro-batch x tokens, [inference] keys when given, an H100."""
    a = dict(arch)
    moe = a.pop("moe", None)
    lines = ["[model]", f'name = "{preset}"', f'family = "{family}"', "", "[model.architecture]",
             *(f"{k} = {toml_value(v)}" for k, v in a.items())]
    if moe:
        lines += ["", "[model.architecture.moe]", *(f"{k} = {toml_value(v)}" for k, v in moe.items())]
    lines += ["", "[training]", f"micro_batch_size = {training[0]}", f"seq_len = {training[1]}"]
    if inference is not None:
        lines += ["", "[inference]", *(f"{k} = {v}" for k, v in inference.items())]
    lines += ["", "[hardware]", 'accelerator = "H100-SXM"', ""]
    return "\n".join(lines)


def spec_text(preset: str, size: str) -> str:
    family, a = architecture(preset, size)
    seq = 256 if size == "reduced" else 1024
    return spec_toml(preset, family, a, (1, seq), {"seq_len": 2 * seq})


def cases(size: str) -> list[dict]:
    out = []
    for model_type, fam in FAMILIES.items():
        preset = first_preset(model_type)
        for setup, overrides in SETUPS.items():
            over = list(overrides)
            if setup == "full" and any(k in PRESETS[preset].config() for k in ("num_local_experts", "num_experts")):
                over = ["training.method=full", "training.precision=bf16"]  # MoE: 16-bit weights (docs/estimate.md)
            out.append({"id": f"{model_type}-{setup}-{size}", "family": model_type, "class": fam.hf_class,
                        "preset": preset, "size": size, "mode": "inference" if setup == "infer" else "training",
                        "overrides": over})
    return out


def run(case: dict, workdir: Path) -> dict:
    return measure_case(case, spec_text(case["preset"], case["size"]), workdir)


def measure_case(case: dict, text: str, workdir: Path) -> dict:
    """Load ``text`` with the case's overrides; the analytic estimate and --measure on the real class, one row."""
    import time

    from llmspec.estimate import inference_memory, training_memory
    from llmspec.estimate.measure import measure_inference, measure_training
    from llmspec.spec.loader import load_spec

    path = workdir / f"{case['id']}.toml"
    path.write_text(text, encoding="utf-8")
    spec = load_spec(path, case["overrides"])
    training = case["mode"] == "training"
    est = training_memory(spec) if training else inference_memory(spec)
    start = time.perf_counter()
    meas = measure_training(spec) if training else measure_inference(spec)
    return {**case, "model_class": meas.model_class, "estimate_bytes": est.per_gpu_bytes,
            "measured_bytes": meas.peak_bytes, "error": est.per_gpu_bytes / meas.peak_bytes - 1,
            "estimate_phase": est.peak_phase, "measured_phase": meas.peak_phase,
            "seconds": round(time.perf_counter() - start, 1)}


if __name__ == "__main__" and sys.argv[1:] == ["--freeze"]:
    FROZEN.write_text(json.dumps(cases("reduced") + cases("held-out"), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {FROZEN}")
