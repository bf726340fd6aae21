"""Blind held-out cases for every registry family (issue 9, second round): shapes and set-ups none of the earlier
rounds used, frozen in ``memory_accuracy_blind_cases.json`` and committed before they were run once.

    python benchmarks/family_blind.py --freeze     # write the case list (no model is built)
    python benchmarks/family_blind.py --run        # run every case once, write memory_accuracy_blind.json + md table
    python benchmarks/family_blind.py --rerun      # the same cases on today's code: memory_accuracy_blind_rerun.json
                                                   # and its own md table (the blind figure stays the first run's)

The rule, fixed before any case ran (nothing below is chosen per family by looking at a result):

* checkpoint: the family's **last** preset in registry order (``llmspec/spec/families.py`` PRESETS), so llama is
  Llama-3-8B, qwen2 is Qwen2.5-7B and falcon is Falcon-40B (new decoder architecture, 8 K/V heads, 2 norms); the
  other families have one preset. Its real widths, heads, vocabulary and biases, with **3** blocks (the earlier
  rounds used 2 and 4); an MoE family with dense blocks keeps 1 of them.
* four set-ups per family (the earlier rounds had full / LoRA r=16 all-linear / prefill, batch 1):
  1. ``full-ckpt-accum``: full fine-tuning, activation checkpointing, micro-batch 2 x 768 tokens, gradient
     accumulation 4, bf16-mixed;
  2. ``lora-attn-bf16``: LoRA r=64 with dropout 0.05 on the family's attention projections (the registry's
     module names whose roles are q, k, v, qkv or o), micro-batch 3 x 512 tokens, pure bf16 (bf16 adapters);
  3. ``lora-all-fp32``: LoRA r=4 on all linear layers, hidden-state dropout 0.1 (``training.dropout``),
     micro-batch 1 x 1536 tokens, fp32;
  4. ``infer-b4``: generation prefill of 4 sequences x 1536 tokens.
  MoE families take pure bf16 where a set-up says bf16-mixed or fp32 (transformers' grouped expert kernel refuses
  fp32 operands on CPU, docs/estimate.md): the only per-family exception, and it is a rule, not a choice.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from llmspec.spec.families import FAMILIES, PRESETS
from llmspec.spec.hf_import import architecture_from_hf
from llmspec.spec.scaffold import toml_value

HERE = Path(__file__).resolve().parent
FROZEN = HERE / "memory_accuracy_blind_cases.json"
RESULTS = HERE / "memory_accuracy_blind.json"
RERUN = HERE / "memory_accuracy_blind_rerun.json"
TOLERANCE = 0.05
ATTENTION_ROLES = {"q", "k", "v", "qkv", "o"}


def last_preset(model_type: str) -> str:
    return [p.name for p in PRESETS.values() if p.config()["model_type"] == model_type][-1]


def _is_moe(preset: str) -> bool:
    return "moe" in architecture_from_hf(PRESETS[preset].config())[1]


def setups(model_type: str, moe: bool) -> dict[str, dict]:
    fam = FAMILIES[model_type]
    attn = [name for name, roles in fam.modules.items() if set(roles) & ATTENTION_ROLES]
    mixed = "bf16" if moe else "bf16-mixed"
    return {
        "full-ckpt-accum": {"mode": "training", "batch": 2, "seq": 768, "overrides": [
            "training.method=full", f"training.precision={mixed}", "training.activation_checkpointing=true",
            "training.gradient_accumulation=4"]},
        "lora-attn-bf16": {"mode": "training", "batch": 3, "seq": 512, "overrides": [
            "training.method=lora", "training.precision=bf16", "training.lora.rank=64", "training.lora.dropout=0.05",
            f"training.lora.targets={json.dumps(attn)}"]},
        "lora-all-fp32": {"mode": "training", "batch": 1, "seq": 1536, "overrides": [
            "training.method=lora", f"training.precision={'bf16' if moe else 'fp32'}", "training.lora.rank=4",
            'training.lora.targets=["all-linear"]', "training.dropout=0.1"]},
        "infer-b4": {"mode": "inference", "batch": 4, "seq": 1536, "overrides": []},
    }


def cases() -> list[dict]:
    out = []
    for model_type, fam in FAMILIES.items():
        preset = last_preset(model_type)
        for name, s in setups(model_type, _is_moe(preset)).items():
            out.append({"id": f"{model_type}-{name}", "family": model_type, "class": fam.hf_class, "preset": preset,
                        "size": "blind", **s})
    return out


def spec_text(case: dict) -> str:
    family, a = architecture_from_hf(PRESETS[case["preset"]].config())
    a["n_layers"] = 3
    moe = a.pop("moe", None)
    if moe and moe.get("dense_layers"):
        moe["dense_layers"] = 1
    lines = ["[model]", f'name = "{case["preset"]}"', f'family = "{family}"', "", "[model.architecture]",
             *(f"{k} = {toml_value(v)}" for k, v in a.items())]
    if moe:
        lines += ["", "[model.architecture.moe]", *(f"{k} = {toml_value(v)}" for k, v in moe.items())]
    train = case["mode"] == "training"
    lines += ["", "[training]", f"micro_batch_size = {case['batch'] if train else 1}",
              f"seq_len = {case['seq'] if train else 1024}"]
    if not train:
        lines += ["", "[inference]", f"batch_size = {case['batch']}", f"seq_len = {case['seq']}"]
    lines += ["", "[hardware]", 'accelerator = "H100-SXM"', ""]
    return "\n".join(lines)


def run(case: dict, workdir: Path) -> dict:
    from llmspec.estimate import inference_memory, training_memory
    from llmspec.estimate.measure import measure_inference, measure_training
    from llmspec.spec.loader import load_spec

    path = workdir / f"{case['id']}.toml"
    path.write_text(spec_text(case), encoding="utf-8")
    spec = load_spec(path, case["overrides"])
    training = case["mode"] == "training"
    est = training_memory(spec) if training else inference_memory(spec)
    start = time.perf_counter()
    meas = measure_training(spec) if training else measure_inference(spec)
    return {**case, "model_class": meas.model_class, "estimate_bytes": est.per_gpu_bytes,
            "measured_bytes": meas.peak_bytes, "error": est.per_gpu_bytes / meas.peak_bytes - 1,
            "estimate_phase": est.peak_phase, "measured_phase": meas.peak_phase,
            "seconds": round(time.perf_counter() - start, 1)}


def table(rows: list[dict]) -> str:
    mib = 2**20
    out = ["| case | checkpoint (3 blocks) | real class | set-up | estimate MiB | measured MiB | error | peak (est / meas) |",
           "|---|---|---|---|---:|---:|---:|---|"]
    for r in rows:
        setup = f"batch {r['batch']} x {r['seq']} " + " ".join(o.split(".", 1)[1] for o in r["overrides"])
        out.append(f"| {r['id']} | {r['preset']} | {r['model_class']} | {setup} | {r['estimate_bytes'] / mib:.1f} | "
                   f"{r['measured_bytes'] / mib:.1f} | {100 * r['error']:+.1f}% | "
                   f"{r['estimate_phase']} / {r['measured_phase']} |")
    errs = [abs(r["error"]) for r in rows]
    bad = [f"{r['id']} ({100 * r['error']:+.1f}%)" for r in rows if abs(r["error"]) > TOLERANCE]
    worst = max(rows, key=lambda r: abs(r["error"]))
    out += ["", f"**{len(errs)} cases, within 5%: {len(errs) - len(bad)}/{len(errs)}, median "
                f"|error| {100 * statistics.median(errs):.1f}%, mean {100 * sum(errs) / len(errs):.1f}%, worst "
                f"{100 * worst['error']:+.1f}% ({worst['id']})" + (f"; outside 5%: {', '.join(bad)}" if bad else "")]
    return "\n".join(out)


def run_all(results: Path = RESULTS, marker: str = "blind") -> int:
    frozen = json.loads(FROZEN.read_text())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in frozen:
            try:
                row = run(case, Path(tmp))
            except Exception as exc:  # a case that cannot run is reported, never dropped
                print(f"{case['id']:28s} FAILED: {type(exc).__name__}: {exc}", flush=True)
                rows.append({**case, "failed": f"{type(exc).__name__}: {exc}"})
                continue
            rows.append(row)
            gc.collect()
            print(f"{row['id']:28s} {row['model_class']:22s} est {row['estimate_bytes'] / 2**30:8.3f} GiB  meas "
                  f"{row['measured_bytes'] / 2**30:8.3f} GiB  {100 * row['error']:+6.1f}%  ({row['seconds']} s)",
                  flush=True)
    results.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    ok = [r for r in rows if "failed" not in r]
    failed = [f"{r['id']}: {r['failed']}" for r in rows if "failed" in r]
    md = HERE / "memory_accuracy.md"
    text = md.read_text(encoding="utf-8")
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    body = table(ok) + ("\n\nCases that could not run: " + "; ".join(failed) if failed else "")
    if begin in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        md.write_text(f"{head}{begin}\n{body}\n{end}{tail}", encoding="utf-8")
    print(table(ok) if ok else "no case ran")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--freeze"]:
        FROZEN.write_text(json.dumps(cases(), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {FROZEN}")
    elif sys.argv[1:] == ["--run"]:
        sys.exit(run_all())
    elif sys.argv[1:] == ["--rerun"]:
        sys.exit(run_all(RERUN, "blind-rerun"))
    else:
        sys.exit(__doc__)
