"""Analytic memory estimate vs measurement (real transformers models under FakeTensorMode).

    python benchmarks/memory_accuracy.py                 # every case, rewrites the table in memory_accuracy.md
    python benchmarks/memory_accuracy.py --split calibration
    python benchmarks/memory_accuracy.py --only llama2-7b-lora --no-write
    python benchmarks/memory_accuracy.py --families held-out    # every registry family (family_cases.py)

Needs the eval extra (torch, transformers, peft); no GPU, no weights, no network: every model is built
from its published config under FakeTensorMode (llmspec.estimate.measure). Each case is a real spec file
loaded by the real loader. The split is fixed here: the analytic constants were fitted and frozen on the
"calibration" cases (and synthetic small shapes) before the "held-out" cases were run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# Architectures from the models' published config.json files (Hugging Face model cards).
MODELS = {
    "Llama-2-7B": dict(family="llama", n_layers=32, d_model=4096, n_heads=32, n_kv_heads=32, ffn_dim=11008,
                       vocab_size=32000, context_length=4096),
    "Llama-3-8B": dict(family="llama", n_layers=32, d_model=4096, n_heads=32, n_kv_heads=8, ffn_dim=14336,
                       vocab_size=128256, context_length=8192),
    "Mistral-7B": dict(family="mistral", n_layers=32, d_model=4096, n_heads=32, n_kv_heads=8, ffn_dim=14336,
                       vocab_size=32000, context_length=32768, sliding_window=4096),  # config.json sliding_window
    "Qwen2.5-0.5B": dict(family="qwen2", n_layers=24, d_model=896, n_heads=14, n_kv_heads=2, ffn_dim=4864,
                         vocab_size=151936, context_length=32768, tie_embeddings=True, qkv_bias=True),
    "Qwen2.5-7B": dict(family="qwen2", n_layers=28, d_model=3584, n_heads=28, n_kv_heads=4, ffn_dim=18944,
                       vocab_size=152064, context_length=32768, qkv_bias=True),
    "TinyLlama-1.1B": dict(family="llama", n_layers=22, d_model=2048, n_heads=32, n_kv_heads=4, ffn_dim=5632,
                           vocab_size=32000, context_length=2048),
}

FULL = ["training.method=full"]
CKPT = ["training.activation_checkpointing=true"]
LORA = ["training.method=lora", "training.lora.rank=16", 'training.lora.targets=["all-linear"]']
QLORA = ["training.method=qlora", "training.lora.rank=16", 'training.lora.targets=["all-linear"]']
FSDP8 = ["hardware.count=8", "hardware.sharding=fsdp"]
B1S4K = ["training.micro_batch_size=1", "training.seq_len=4096"]

# (case id, model, mode, overrides, split)
CASES = [
    ("tinyllama-full", "TinyLlama-1.1B", "training", FULL + ["training.micro_batch_size=1", "training.seq_len=2048"], "calibration"),
    ("tinyllama-full-ckpt", "TinyLlama-1.1B", "training", FULL + CKPT + ["training.micro_batch_size=4", "training.seq_len=2048"], "calibration"),
    ("tinyllama-lora", "TinyLlama-1.1B", "training", LORA + ["training.micro_batch_size=4", "training.seq_len=2048"], "calibration"),
    ("tinyllama-qlora", "TinyLlama-1.1B", "training", QLORA + ["training.micro_batch_size=4", "training.seq_len=2048"], "calibration"),
    ("tinyllama-infer", "TinyLlama-1.1B", "inference", ["inference.seq_len=2048"], "calibration"),
    ("qwen0.5b-full", "Qwen2.5-0.5B", "training", FULL + ["training.micro_batch_size=2", "training.seq_len=2048"], "calibration"),
    ("qwen0.5b-infer", "Qwen2.5-0.5B", "inference", ["inference.seq_len=4096"], "calibration"),
    ("llama2-7b-infer", "Llama-2-7B", "inference", ["inference.seq_len=4096"], "held-out"),
    ("llama2-7b-full", "Llama-2-7B", "training", FULL + B1S4K, "held-out"),
    ("llama2-7b-full-ckpt", "Llama-2-7B", "training", FULL + CKPT + B1S4K, "held-out"),
    ("llama2-7b-lora", "Llama-2-7B", "training", LORA + B1S4K, "held-out"),
    ("llama2-7b-qlora", "Llama-2-7B", "training", QLORA + B1S4K, "held-out"),
    ("llama2-7b-fsdp8-ckpt", "Llama-2-7B", "training", FULL + CKPT + FSDP8 + B1S4K, "held-out"),
    ("llama3-8b-infer", "Llama-3-8B", "inference", ["inference.seq_len=4096"], "held-out"),
    ("llama3-8b-lora", "Llama-3-8B", "training", LORA + B1S4K, "held-out"),
    ("llama3-8b-qlora-ckpt", "Llama-3-8B", "training", QLORA + CKPT + B1S4K, "held-out"),
    ("llama3-8b-fsdp8", "Llama-3-8B", "training", FULL + FSDP8 + B1S4K, "held-out"),
    ("mistral-7b-infer", "Mistral-7B", "inference", ["inference.seq_len=4096"], "held-out"),
    ("mistral-7b-qlora", "Mistral-7B", "training", QLORA + B1S4K, "held-out"),
    ("qwen2.5-7b-infer", "Qwen2.5-7B", "inference", ["inference.seq_len=4096"], "held-out"),
    ("qwen2.5-7b-lora", "Qwen2.5-7B", "training", LORA + B1S4K, "held-out"),
    ("qwen2.5-7b-fsdp8-ckpt", "Qwen2.5-7B", "training", FULL + CKPT + FSDP8 + B1S4K, "held-out"),
]


def spec_text(model: str) -> str:
    arch = dict(MODELS[model])
    family = arch.pop("family")
    lines = ["[model]", f'name = "{model}"', f'family = "{family}"', "", "[model.architecture]"]
    for key, value in arch.items():
        lines.append(f"{key} = {json.dumps(value)}")
    lines += ["", "[training]", "", "[inference]", "", "[hardware]", 'accelerator = "A100-80GB"', ""]
    return "\n".join(lines)


def run_case(case, workdir: Path) -> dict:
    from llmspec.estimate import inference_memory, training_memory
    from llmspec.estimate.measure import measure_inference, measure_training
    from llmspec.spec.loader import load_spec

    cid, model, mode, overrides, split = case
    path = workdir / f"{cid}.toml"
    path.write_text(spec_text(model), encoding="utf-8")
    spec = load_spec(path, overrides)
    est = training_memory(spec) if mode == "training" else inference_memory(spec)
    start = time.perf_counter()
    meas = measure_training(spec) if mode == "training" else measure_inference(spec)
    seconds = time.perf_counter() - start
    gc.collect()
    return {
        "id": cid, "model": model, "mode": mode, "overrides": overrides, "split": split,
        "estimate_bytes": est.per_gpu_bytes, "estimate_phase": est.peak_phase,
        "measured_bytes": meas.peak_bytes, "measured_phase": meas.peak_phase,
        "error": (est.per_gpu_bytes - meas.peak_bytes) / meas.peak_bytes,
        "estimate_breakdown": est.breakdown, "measured_breakdown": meas.breakdown,
        "emulated": meas.emulated, "measure_seconds": round(seconds, 1),
    }


def table(rows: list[dict]) -> str:
    gib = 2**30
    out = ["| case | split | model | setup | frozen estimate GiB (error) | estimate GiB | measured GiB | error "
           "| peak (est / meas) | measure s |",
           "|---|---|---|---|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        setup = " ".join(o.split(".", 1)[1] for o in r["overrides"])
        frozen = r.get("estimate_frozen_bytes")
        frozen_txt = (f"{frozen / gib:.2f} ({100 * (frozen / r['measured_bytes'] - 1):+.1f}%)"
                      if frozen is not None else "n/a")
        out.append(f"| {r['id']} | {r['split']} | {r['model']} | {setup} | {frozen_txt} | "
                   f"{r['estimate_bytes'] / gib:.2f} | {r['measured_bytes'] / gib:.2f} | {100 * r['error']:+.1f}% | "
                   f"{r['estimate_phase']} / {r['measured_phase']} | {r['measure_seconds']} |")
    for split in ("calibration", "held-out"):
        errs = [abs(r["error"]) for r in rows if r["split"] == split]
        if errs:
            out.append("")
            out.append(f"**{split}**: {len(errs)} cases, mean |error| {100 * sum(errs) / len(errs):.1f}%, "
                       f"max |error| {100 * max(errs):.1f}%, within 10%: {sum(e <= 0.10 for e in errs)}/{len(errs)}")
            frozen = [abs(r["estimate_frozen_bytes"] / r["measured_bytes"] - 1) for r in rows
                      if r["split"] == split and r.get("estimate_frozen_bytes") is not None]
            if frozen:
                out.append(f"(frozen estimate: mean |error| {100 * sum(frozen) / len(frozen):.1f}%, max |error| "
                           f"{100 * max(frozen):.1f}%, within 10%: {sum(e <= 0.10 for e in frozen)}/{len(frozen)})")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["calibration", "held-out", "all"], default="all")
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--table-only", action="store_true", help="rewrite the md table from the JSON, run nothing")
    parser.add_argument("--families", choices=["reduced", "held-out", "all"],
                        help="run the frozen per-family cases (every registry family, its real class) instead")
    args = parser.parse_args(argv)
    if args.families:
        from family_runs import run_families

        return run_families(args.families, write=not args.no_write, table_only=args.table_only)
    cases = [c for c in CASES if (args.split == "all" or c[4] == args.split) and (not args.only or c[0] in args.only)]
    if args.table_only:
        cases = []
    results_path = HERE / "memory_accuracy.json"
    previous = {r["id"]: r for r in json.loads(results_path.read_text())} if results_path.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            row = run_case(case, Path(tmp))
            old = previous.get(row["id"], {})
            # the estimate as frozen before the QLoRA dequantisation term (added after the published comparison)
            row["estimate_frozen_bytes"] = old.get("estimate_frozen_bytes", old.get("estimate_bytes"))
            previous[row["id"]] = row
            print(f"{row['id']:24s} est {row['estimate_bytes'] / 2**30:8.2f} GiB  meas "
                  f"{row['measured_bytes'] / 2**30:8.2f} GiB  {100 * row['error']:+6.1f}%  "
                  f"({row['measure_seconds']} s)", flush=True)
    rows = [previous[c[0]] for c in CASES if c[0] in previous]
    if not args.no_write:
        results_path.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
        md = HERE / "memory_accuracy.md"
        text = md.read_text(encoding="utf-8")
        begin, end = "<!-- results:begin -->", "<!-- results:end -->"
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        md.write_text(f"{head}{begin}\n{table(rows)}\n{end}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
