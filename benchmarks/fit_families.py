"""Fit each family's activation residual against the Llama-fitted coefficients (the registry's ``activation_fit``).

    python benchmarks/fit_families.py gpt_neox opt     # prints the fitted (x h, x ffn) terms per set-up

The activation coefficients in llmspec/estimate/activations.py were fitted on Llama-style blocks (RMSNorm, SwiGLU,
no biases). Other real classes save other tensors for backward (LayerNorm's mean and rstd, GELU inputs, biases,
a parallel attention branch) and hold other buffers at the peak of a prefill. For one family this script builds
its real class (via llmspec.estimate.measure) at three small shapes (d_model, ffn) = (256, 1024), (512, 1024),
(256, 2048) with 4 heads, 256 x 4 tokens, and fits bytes per token = a x d_model + b x ffn to what the estimate
misses: per block for training (the difference between 3 and 2 blocks, so only the block terms count), at the
peak for a prefill (which does not add up over blocks). The fitted integers go into the registry by hand, and the
held-out cases of memory_accuracy.py (the real widths) check them.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SHAPES = [(256, 1024), (512, 1024), (256, 2048)]
SETUPS = {"full": ["training.method=full", "training.precision=bf16-mixed"],
          "lora": ["training.method=lora", "training.precision=bf16-mixed", 'training.lora.targets=["all-linear"]'],
          "lora-fp32": ["training.method=lora", "training.precision=fp32", 'training.lora.targets=["all-linear"]'],
          "prefill": []}


def spec(model_type: str, h: int, f: int, layers: int, setup: str, tmp: Path):
    from family_cases import architecture, first_preset

    from llmspec.spec.loader import load_spec
    from llmspec.spec.scaffold import toml_value

    family, a = architecture(first_preset(model_type), "reduced")
    a.pop("moe", None)
    a.update(d_model=h, ffn_dim=f, n_layers=layers)
    if "head_dim" in a:
        a["head_dim"] = 2 * h // a["n_heads"]
    lines = ["[model]", 'name = "fit"', f'family = "{family}"', "[model.architecture]",
             *(f"{k} = {toml_value(v)}" for k, v in a.items()),
             "[training]", "micro_batch_size = 4", "seq_len = 256", "[inference]", "batch_size = 4", "seq_len = 256"]
    path = tmp / "fit.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_spec(path, SETUPS[setup] if setup != "prefill" else [])


def residual(model_type: str, setup: str, h: int, f: int, tmp: Path) -> float:
    from llmspec.estimate import inference_memory, training_memory
    from llmspec.estimate.measure import measure_inference, measure_training

    tokens = 4 * 256
    if setup == "prefill":
        s = spec(model_type, h, f, 2, setup, tmp)
        return (measure_inference(s).peak_bytes - inference_memory(s).per_gpu_bytes) / tokens
    out = []
    for layers in (2, 3):
        s = spec(model_type, h, f, layers, setup, tmp)
        out.append((measure_training(s).phases["backward"], training_memory(s).phases["backward"]))
    return ((out[1][0] - out[0][0]) - (out[1][1] - out[0][1])) / tokens


def fit(model_type: str, setup: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        rows = [(h, f, residual(model_type, setup, h, f, Path(tmp))) for h, f in SHAPES]
    x = np.array([[h, f] for h, f, _ in rows], dtype=float)
    y = np.array([r for _, _, r in rows])
    (a, b), *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(a), float(b)


if __name__ == "__main__":
    for mt in sys.argv[1:]:
        for setup in SETUPS:
            a, b = fit(mt, setup)
            print(f"{mt:10s} {setup:8s} a (x h) {a:+7.2f}   b (x ffn) {b:+7.2f}", flush=True)
