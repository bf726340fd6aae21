"""The analytic memory estimate beside published, measured GPU runs (benchmarks/published/runs.toml).

    python benchmarks/published_memory.py             # writes benchmarks/published_memory.md (+ the LitGPT
                                                      # config-hub table in memory_accuracy.md)
    python benchmarks/published_memory.py --no-write  # print only
    python benchmarks/published_memory.py --validate FILE  # build and check every row's spec, no estimate
    python benchmarks/published_memory.py --runs FILE --fold-name NAME  # score FILE once: its own section
                                                      # appended to published_memory.md, plus FILE's .json

Pure Python (no torch). The run list, its exclusion rules (E1-E6) and the leave-one-source-out split are in
benchmarks/published/runs.toml, committed before any estimator change was tuned against them. One rule is computed
here for every run file, not written into rows: E-floor (state_floor) excludes a full fine-tune whose published
figure is below what its stated setup must hold whatever the estimator does (weights + gradients + optimizer
states of every parameter at the stated precision, optimizer and sharding): the run cannot have been what its row
states. Per scored run the
report gives what the run's counter would show by the estimate against the published figure; then median |error|,
the share within 10%, the largest |error| and MEM001's false "does not fit" count (a run that ran, judged on its own
GPU), for all scored runs, per held-out source, and for the runs whose memory-relevant settings the spec can express
fully (`needs` empty).

The counter rule (llmspec.estimate.counters.counter_bytes, its docstring gives the sources; written before any
figure was compared with it). Each row names the counter its figure comes from, and the figure is compared with:
- allocated, active (and unstated): the estimate's allocated peak, MemoryEstimate.per_gpu_bytes (no CUDA context);
- reserved: the caching allocator's reserved peak = the allocated peak rounded up to whole 2 MiB segments (derived
  from torch==2.13.0:c10/cuda/CUDACachingAllocator.cpp:round_size / get_allocation_size: kMinBlockSize 512 B,
  kSmallBuffer 2 MiB, kLargeBuffer 20 MiB below kMinLargeAlloc 10 MiB, kRoundLarge 2 MiB) + the estimate's own
  fragmentation term (overhead_bytes' allocator part, result.FRAGMENTATION; assumed, not derived: the order of
  frees is not modelled);
- nvidia-smi: reserved + the CUDA context and workspaces (+ NCCL when distributed): the rest of overhead_bytes, so
  the figure is compared with what MEM001 judges (total_bytes, up to the 2 MiB rounding).
A row whose `needs` say what its figure really is takes that counter instead (NEEDS_COUNTER): optimum's GPTQ benchmark
rows (`nvml_external_memory`) print the allocated peak + nvidia-smi's peak - the reserved peak, i.e. the allocated
peak + the CUDA context and workspaces with no fragmentation ("allocated+external").
Before that rule every figure was compared with the allocated peak (`error_allocated` in each row keeps it). Excluded runs and runs from stacks without a preset (llmspec/data/stacks*.toml) are listed apart.

The config-hub table in memory_accuracy.md (six LitGPT runs) gives a last column with the bitsandbytes those
configs pinned (LitGPT 41dece20 pyproject.toml: bitsandbytes==0.42.0, which kept each 4-bit matmul's input for
backward): the same spec with ``training.lora.quant_saves_input = true`` (llmspec.estimate.stack._lightning_bnb
for the formula and its source). LitGPT's 4-bit output head and its fp16 dequantisation are the litgpt stack's
``lora.quantize = "every-linear"`` default.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

RUNS = HERE / "published" / "runs.toml"
MODELS = HERE / "published" / "models.toml"
# Further architectures for later run files (a key may appear in one file only)
EXTRA_MODELS = [HERE / "published" / "models_blind2.toml", HERE / "published" / "models_blind3.toml",
                HERE / "published" / "models_blind4.toml"]
UNIT = {"GB": 1e9, "GiB": 2**30}
# Blind folds: source -> the commit that added its runs (and its exclusion rules) before they were first scored; the
# estimator was not changed after that commit for them
BLIND = {"torchao": "9010082"}
# What was found about a blind fold after it was scored (the fold stays scored and reported as blind)
BLIND_FINDINGS = {"torchao": (
    "Scored blind at 9010082 against the allocated peak: median |error| 13.4%, 38% within 10%, max 20.5%. The "
    "table above compares with the reserved counter (llmspec.estimate.counters, issue 12's counter rule, written "
    "after this fold was scored: not blind). After scoring: the six quantised runs are 1.4-20.5% below their figures because these are `max_memory_reserved()` "
    "of a process that loaded the whole bf16 model on the GPU, quantised it in place and then captured CUDA graphs "
    "(torch.cuda.graph's `__enter__` calls `empty_cache()`, which returns only segments with no live block). The "
    "quantised weights sit in the freed bf16 weights' segments and keep them reserved: "
    "`python benchmarks/published/torchao_quantise_replay.py` replays this through the caching allocator's rules and "
    "gets 1.34 GB reserved above allocated for Llama-2-7B int8, 0.41 GB for int4, 0.34 GB and 0.10 GB for Llama-3-8B. "
    "That accounts for most of the int8dq misses; the weight-only rows keep another 0.5-1.4 GB that the replay does "
    "not explain (a guess, not checked: the compiled decode's CUDA-graph pool holding a dequantised weight, the head "
    "the largest). The estimator is unchanged: reserved-pool fragmentation from load-time quantisation is not "
    "modelled.")}
# Blind set 2 re-read with the rules and defaults of today (diagnosis, not blind; --no-write keeps its scored section)
BLIND2_NOW = ("34 runs, median |error| 7.4%, 59% within 10%, 2 over 25%, MEM001 false 0 (with E-floor alone: 9.3%, "
              "50%; then the litgpt preset's untied head, training.tie_embeddings = false, moved the tied "
              "checkpoints' rows, Llama-3.2 and Gemma, from -16.5..-3.2% to -6.8..+5.8%, Falcon-7B from +8.5/+10.0% "
              "to +12.0/+16.3%)")
# What the per-source table is, told in the report (an auditor found the folds were not held out in practice)
SOURCE_NOTE = (
    "The estimator was changed while every source's errors were visible (commits 5f6ae21, 76ce88b, 739d06f) and "
    "46283e8 edited a row after it was scored, so these per-source figures are in-sample: the runs informed the "
    "estimator. Only the torchao fold (frozen in 9010082 before it was scored) was blind. A second blind set, "
    "`benchmarks/published/runs_blind2.toml` (frozen in 9c42e16 and 69a9036), was scored once at the end of the "
    "session that froze it (section \"Blind set 2\" below): 37 runs, median |error| 10.1%, 46% within 10%, 5 over "
    "25%, MEM001 false on 2 runs that ran. Issue 12's targets are not met on blind runs. Diagnosed after that "
    "scoring (so not blind): LitGPT's Llama-3.2-1B, Llama-3.2-3B and Phi-3 full.yaml rows (+76%, +113%, +137%, two "
    "of them MEM001 false) publish less than the weights, gradients and AdamW states of their stated setup (1 device, "
    "bf16-true, torch.optim.AdamW): rule E-floor (state_floor) now excludes them from every run file. "
    "`python benchmarks/published_memory.py --runs benchmarks/published/runs_blind2.toml --fold-name \"Blind set 2\" "
    "--no-write` then gives " + BLIND2_NOW + ".")
# `needs` entries that a spec knob expresses since issue 12 (the run sets them through its `knobs`)
KNOBBED = {"compile", "chunked_ce", "fused_linear_ce", "optimizer_fused", "optimizer_in_backward", "paged_optimizer",
           "activation_offload", "adapter_fp32", "lora_on_head", "dora", "qlora_adapted_only", "fsdp_no_sync",
           "bnb_saved_inputs", "quant_format", "quantised_head",
           # inference.shard_embeddings (the litgpt engine: false): tp.py's replicated embedding and head,
           # sequentially.py's root stage holding them
           "pipeline_root_stage", "tp_replicated_embeddings", "selective_ac_op",
           # inference.mask_buffer (torchao-generate: dense), inference.kv_cache_tokens (autoawq: its cache length)
           "static_causal_mask", "awq_window_cache",
           # inference.quant_kernel (+ act_order): AutoGPTQ's g_idx and kernel scratch (llmspec.estimate.gptq)
           "gptq_kernel_buffers", "gptq_g_idx",
           # inference.attention = "eager" (the autoawq rows set it): AutoAWQ 0.1.6's fused prefill attention
           # (casper-hansen/AutoAWQ@5c7e368:awq/modules/fused/attn.py:QuantAttentionFused.forward, ``F.softmax(
           # scores.float(), dim=-1).type_as(xq)`` beside the 16-bit scores) holds c + 4 + 4 B per score as the
           # registry's "fp32" eager softmax (llmspec.estimate.inference.eager_score_bytes); AutoAWQ 0.2.9, the
           # engine preset's release, has no such path (flash_attn_func / flash_attn_with_kvcache only)
           "fp32_attention_softmax"}
# `needs` entries whose knob the script sets itself (the frozen rows predate the knob and are not edited): the knobs
# every row with that entry takes before its own `knobs`. selective_ac_op = torchtitan's activation_checkpoint.mode =
# "selective", selective_ac_option = "op" (training.checkpoint_policy, added after blind set 3 was scored; the
# rows say activation_checkpointing = false because no knob could express the policy then).
NEEDS_KNOBS: dict[str, dict[str, Any]] = {
    "selective_ac_op": {"training.activation_checkpointing": True, "training.checkpoint_policy": "selective-op"},
    # torchao generate.py's square (cache x cache) bool mask: inference.mask_buffer (the torchao-generate engine's
    # default, added after blind set 3 was scored)
    "static_causal_mask": {"inference.mask_buffer": "dense"},
}
# `needs` entries that say which counter a row's figure really is (the frozen rows predate the counter): optimum's GPTQ
# benchmark prints the allocated peak + (nvidia-smi peak - reserved peak), i.e. no cached free blocks
# (llmspec.estimate.counters, "allocated+external")
NEEDS_COUNTER = {"nvml_external_memory": "allocated+external"}
# Run stacks that are a serving engine under another name: HF generate (the HF docs' and optimum-benchmark's runs) is
# the hf engine; optimum-benchmark's PyTorch backend adds no memory default of its own
# (huggingface/optimum-benchmark@b263af46:optimum_benchmark/backends/pytorch/config.py:PyTorchConfig: torch_dtype,
# attn_implementation and cache_implementation default to None, i.e. transformers' own; torch_compile False).
STACK_ENGINE = {"hf-generate": "hf"}
# The AutoGPTQ kernel a row's cited table row names -> inference.quant_kernel
GPTQ_KERNELS = {"exllamav2": "exllamav2", "exllama": "exllama", "autogptq-cuda-old": "cuda-old"}


def engine_knobs(run: dict) -> dict[str, Any]:
    """Knobs of a frozen row that the engine presets added after it was written would otherwise set wrongly: a
    torchao-generate row without `static_causal_mask` ran with --linear_causal_mask (the blind set 3 KV-cache table's
    linmask columns) or at a cache so short that the square mask does not count (in-sample rows: 216 tokens, 46 KB):
    mask_buffer = "none"; an AutoAWQ row with `awq_window_cache` passed its cache length (examples/benchmark.py at
    5c7e368: from_quantized(max_new_tokens=n), the rows' seq_len), not the context length that from_quantized uses
    when none is passed (the autoawq engine's kv_cache_tokens default). An hf-generate row with `gptq_kernel_buffers`
    names its AutoGPTQ kernel in its cited table row: inference.quant_kernel; one whose setup states transformers'
    legacy tuple cache (optimum's rows: transformers 4.32-4.35): inference.kv_cache_growth = "whole". A torchtitan
    row (blind set 3, written before the torchtitan preset) that checkpoints without `selective_ac_op` ran
    activation_checkpoint.mode = "full" (its setup: "full activation checkpointing"; train_configs/llama3_70b.toml and
    llama3_405b.toml): checkpoint_policy = "full", not the preset's JobConfig default (selective, every 2nd block)."""
    inf = run["spec"].get("inference", {})
    tr = run["spec"].get("training", {})
    if run["stack"] == "torchtitan" and tr.get("activation_checkpointing") and "selective_ac_op" not in run.get("needs", []):
        return {"training.checkpoint_policy": "full"}
    if run["stack"] == "hf-generate":
        knobs: dict[str, Any] = {}
        # optimum's GPTQ benchmark rows name their AutoGPTQ kernel in the cited table row ("row gptq / exllamav2")
        # and state act_order False (TheBloke/Llama-2-13B-chat-GPTQ main)
        kernel = next((k for tag, k in GPTQ_KERNELS.items() if f"row gptq / {tag}," in run.get("cite", "")), None)
        if kernel and "gptq_kernel_buffers" in run.get("needs", []):
            knobs["inference.quant_kernel"] = kernel
        # rows whose setup states transformers' legacy tuple cache (optimum's rows: transformers 4.32-4.35, before
        # the Cache classes of 4.36): inference.kv_cache_growth = "whole" (llmspec.estimate.inference.cache_growth)
        if "legacy tuple cache" in run.get("setup", ""):
            knobs["inference.kv_cache_growth"] = "whole"
        return knobs
    if run["stack"] == "torchao-generate" and "static_causal_mask" not in run.get("needs", []):
        return {"inference.mask_buffer": "none"}
    if run["stack"] == "autoawq" and "awq_window_cache" in run.get("needs", []) and inf.get("seq_len"):
        return {"inference.kv_cache_tokens": inf["seq_len"]}
    return {}


def preset_stacks() -> set[str]:
    """Stacks that have a preset in llmspec's data: training stacks (llmspec/data/stacks*.toml), serving engines
    (llmspec/data/engines.toml) and the run stacks that are an engine under another name (STACK_ENGINE)."""
    from llmspec.spec.stacks import engine_names

    names: set[str] = set(engine_names()) | set(STACK_ENGINE)
    for path in sorted((ROOT / "llmspec" / "data").glob("stacks*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        names.update(data.get("stack", data).keys())
    return names


def build_spec(run: dict, models: dict):
    """The run's spec: its model and tables, training.stack = the run's stack (when llmspec has that preset),
    inference.backend = the run's stack when llmspec has an engine preset of that name (LitGPT's generate scripts;
    the rows were written with backend = "hf", the schema's only value for them before the litgpt engine existed,
    so a stack with its own engine replaces "hf" there as training.stack fills an unset stack), the knobs its
    `needs` imply (NEEDS_KNOBS) and the run's `knobs` (dotted spec keys)."""
    from llmspec.spec.models import Spec
    from llmspec.spec.stacks import engine_names, names

    spec = dict(run["spec"])
    if "spec_file" in spec:
        spec = tomllib.loads((HERE / "published" / spec["spec_file"]).read_text(encoding="utf-8"))
    else:
        spec["model"] = models[spec["model"]]
    spec = {k: (dict(v) if isinstance(v, dict) else v) for k, v in spec.items()}
    if "training" in spec and run["stack"] in names():
        spec["training"].setdefault("stack", run["stack"])
    engine = STACK_ENGINE.get(run["stack"], run["stack"])
    if "inference" in spec and engine in engine_names() and spec["inference"].get("backend", "hf") == "hf":
        spec["inference"]["backend"] = engine
    knobs = {k: v for need in run.get("needs", []) for k, v in NEEDS_KNOBS.get(need, {}).items()}
    if ("inference" in spec and spec["inference"].get("backend") in engine_names()) or run["stack"] == "torchtitan":
        knobs.update(engine_knobs(run))
    for key, value in {**knobs, **run.get("knobs", {})}.items():
        *path, last = key.split(".")
        table = spec
        for part in path:
            table[part] = dict(table.get(part, {}))
            table = table[part]
        table[last] = value
    return Spec.model_validate(spec)


def state_floor(spec) -> float | None:
    """E-floor's bound, in bytes per GPU: the weights, gradients and optimizer states of every parameter of a full
    fine-tune (or pretraining) at the spec's precision and optimizer, which a run holds together at its optimizer
    step whatever the estimator's other terms do. A lower bound by construction: the parameter count is the
    architecture's distinct parameters (a tied head counted once, even where the stack unties it); gradients are
    left out under optimizer_in_backward, states under a paged optimizer (outside torch's counters) and for
    adafactor / adamw_8bit; with any sharding or model parallelism everything is divided by the world size
    (ZeRO-1/2 shard less). None where no bound is claimed: LoRA / QLoRA, inference, CPU or NVMe offload.

    Bytes per parameter: llmspec.estimate.precision (trainable_weight_bytes, master_bytes, grad_bytes,
    state_bytes; AdamW keeps exp_avg and exp_avg_sq in the parameter dtype under torch.optim,
    torch==2.13.0:torch/optim/adamw.py:AdamW._init_group)."""
    from llmspec.estimate.params import count_params
    from llmspec.estimate.precision import grad_bytes, master_bytes, state_bytes, trainable_weight_bytes

    tr, hw = spec.training, spec.hardware
    if tr is None or tr.method not in ("full", "pretrain") or (hw is not None and hw.offload != "none"):
        return None
    n = count_params(spec.arch).total
    weights = trainable_weight_bytes(tr.precision) + master_bytes(tr.precision, tr.master_weights_fp32)
    grads = 0 if tr.optimizer_in_backward else grad_bytes(tr.precision)
    n_states = {"adam": 2, "adamw": 2, "lion": 1, "sgd": 1 if tr.momentum > 0 else 0}.get(tr.optimizer, 0)
    states = 0 if tr.paged_optimizer else n_states * state_bytes(tr.precision, tr.master_weights_fp32)
    sharded = hw is not None and (hw.sharding != "none" or hw.tensor_parallel > 1 or hw.pipeline_parallel > 1)
    return n * (weights + grads + states) / (hw.count * hw.nodes if sharded else 1)


def evaluate(run: dict, models: dict) -> dict:
    from llmspec.estimate import inference_memory, training_memory
    from llmspec.estimate.counters import counter_bytes

    row: dict[str, Any] = {k: run.get(k) for k in ("id", "source", "stack", "unit", "counter", "gpu", "cite", "exclude")}
    row["mode"] = run.get("mode", "training")
    row["needs"] = list(run.get("needs", []))
    row["missing"] = [n for n in row["needs"] if n not in KNOBBED]
    row["measured"] = run["measured"]
    if run.get("exclude"):
        return row
    spec = build_spec(run, models)
    measured = run["measured"] * UNIT[run["unit"]]
    floor = state_floor(spec) if row["mode"] == "training" else None
    if floor is not None and measured < floor:
        unit = UNIT[run["unit"]]
        row["exclude"] = (f"E-floor: {run['measured']:.2f} {run['unit']} is below the weights, gradients and "
                          f"optimizer states alone of the stated setup ({floor / unit:.2f} {run['unit']}: "
                          f"{count_params_of(spec):,} parameters, {spec.training.precision}, {spec.training.optimizer}"
                          f", {run.get('gpu')}); the run cannot have been what its row states")
        row["floor"] = floor
        return row
    est = inference_memory(spec) if row["mode"] == "inference" else training_memory(spec)
    counter = next((NEEDS_COUNTER[n] for n in row["needs"] if n in NEEDS_COUNTER), run["counter"])
    shown = counter_bytes(est, counter)
    row.update(method=(spec.training.method if row["mode"] == "training" else "serve"),
               estimate=shown, allocated=est.per_gpu_bytes, measured_bytes=measured, error=shown / measured - 1,
               error_allocated=est.per_gpu_bytes / measured - 1,
               mem001_false=(row["mode"] == "training" and est.fits is False),
               unfit=(est.fits is False), phase=est.peak_phase)
    return row


def count_params_of(spec) -> int:
    from llmspec.estimate.params import count_params

    return count_params(spec.arch).total


def load_models() -> dict:
    models = tomllib.loads(MODELS.read_text(encoding="utf-8"))
    for path in EXTRA_MODELS:
        extra = tomllib.loads(path.read_text(encoding="utf-8"))
        clash = sorted(set(extra) & set(models))
        if clash:
            raise SystemExit(f"{path}: model(s) {', '.join(clash)} already in {MODELS.name}; give them new keys")
        models.update(extra)
    return models


def run_all(runs_file: Path = RUNS) -> list[dict]:
    models = load_models()
    runs = tomllib.loads(runs_file.read_text(encoding="utf-8"))["run"]
    return [evaluate(r, models) for r in runs]


def validate(runs_file: Path) -> list[str]:
    """Every row of runs_file built into its spec and validated; no estimate is computed. Returns the problems,
    one line each (`file: run <id>: what is wrong`)."""
    from pydantic import ValidationError

    models = load_models()
    try:
        runs = tomllib.loads(runs_file.read_text(encoding="utf-8"))["run"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        return [f"{runs_file}: cannot read the run list: {exc}"]
    problems = []
    seen: set[str] = set()
    for run in runs:
        rid = run.get("id", "?")
        if rid in seen:
            problems.append(f"{runs_file}: run {rid}: duplicate id")
        seen.add(rid)
        if run.get("unit") not in UNIT:
            problems.append(f"{runs_file}: run {rid}: unit {run.get('unit')!r} is not GB or GiB")
        if run.get("exclude"):
            continue
        if not isinstance(run.get("measured"), float):
            problems.append(f"{runs_file}: run {rid}: a scored run needs a float `measured`")
        if run.get("spec", {}).get("model") not in models and "spec_file" not in run.get("spec", {}):
            problems.append(f"{runs_file}: run {rid}: model {run.get('spec', {}).get('model')!r} is in no models file")
            continue
        try:
            build_spec(run, models)
        except ValidationError as exc:
            err = exc.errors()[0]
            problems.append(f"{runs_file}: run {rid}: {'.'.join(map(str, err['loc']))}: {err['msg']}")
    return problems


def fold_section(rows: list[dict], name: str, runs_file: Path) -> str:
    """The md section of a run file scored once on its own (`--runs FILE --fold-name NAME`)."""
    scored = [r for r in rows if "error" in r]
    stacks = preset_stacks()
    rel = runs_file.resolve().relative_to(ROOT) if runs_file.resolve().is_relative_to(ROOT) else runs_file
    out = [f"## {name}", "",
           f"Scored once by `python benchmarks/published_memory.py --runs {rel} --fold-name \"{name}\"`; the rows "
           "were committed before any of them was scored.", "",
           "| runs | n | median \\|error\\| | within 10% | max \\|error\\| | over 25% | MEM001 false |",
           "|---|---:|---:|---:|---:|---:|---:|",
           stats_line("all scored", stats(scored)),
           stats_line("stack has a preset", stats([r for r in scored if r["stack"] in stacks])),
           stats_line("stack has a preset, spec expresses every memory setting",
                      stats([r for r in scored if r["stack"] in stacks and not r["missing"]]))]
    for mode in sorted({r["mode"] for r in scored}):
        out.append(stats_line(f"mode {mode}" + (" (MEM001 is judged on these)" if mode == "training" else ""),
                              stats([r for r in scored if r["mode"] == mode])))
    for src in sorted({r["source"] for r in scored}):
        out.append(stats_line(f"source {src}", stats([r for r in scored if r["source"] == src])))
    for counter in sorted({r["counter"] for r in scored}):
        out.append(stats_line(f"counter {counter}", stats([r for r in scored if r["counter"] == counter])))
    missing = sorted({r["stack"] for r in scored if r["stack"] not in stacks})
    out += ["", "Runs from stacks without a preset: " + ("; ".join(
        f"{st} ({sum(r['stack'] == st for r in scored)} runs)" for st in missing) if missing else "none") + "."]
    out += ["", "| run | source | stack | mode | counter | published | estimate | error | MEM001 | settings without a knob |",
            "|---|---|---|---|---|---:|---:|---:|---|---|"]
    for r in scored:
        unit = UNIT[r["unit"]]
        out.append(f"| `{r['id']}` | {r['source']} | {r['stack']} | {r['mode']} | {r['counter']} | "
                   f"{r['measured']:.2f} {r['unit']} | {r['estimate'] / unit:.2f} {r['unit']} | {100 * r['error']:+.1f}% | "
                   f"{'does not fit' if r['unfit'] else 'fits'} | {', '.join(r['missing']) or '-'} |")
    out += ["", f"Excluded: {sum(1 for r in rows if r.get('exclude'))} rows (rules in {rel}; E-floor computed by "
            "benchmarks/published_memory.py:state_floor)."]
    out += [f"- `{r['id']}`: {r['exclude']}" for r in rows if str(r.get("exclude", "")).startswith("E-floor")]
    return "\n".join(out) + "\n"


def stats(rows: list[dict]) -> dict:
    errs = [abs(r["error"]) for r in rows]
    if not errs:
        return {"n": 0}
    return {"n": len(errs), "median": statistics.median(errs), "within10": sum(e <= 0.10 for e in errs) / len(errs),
            "max": max(errs), "over25": sum(e > 0.25 for e in errs),
            "mem001_false": sum(r["mem001_false"] for r in rows)}


def stats_line(label: str, s: dict) -> str:
    if not s["n"]:
        return f"| {label} | 0 | - | - | - | - | - |"
    return (f"| {label} | {s['n']} | {100 * s['median']:.1f}% | {100 * s['within10']:.0f}% | {100 * s['max']:.1f}% | "
            f"{s['over25']} | {s['mem001_false']} |")


def report(rows: list[dict]) -> str:
    scored = [r for r in rows if "error" in r]
    stacks = preset_stacks()
    out = ["# Published GPU runs beside the memory estimate", "",
           "Generated by `python benchmarks/published_memory.py` from `benchmarks/published/runs.toml` (run list, "
           "exclusion rules E1-E6, leave-one-source-out split; rule E-floor is computed by the script for every run "
           "file: `state_floor`) and `benchmarks/published/models.toml`. Error = "
           "estimate / published figure - 1, where the estimate is what the run's counter would show "
           "(llmspec.estimate.counters.counter_bytes): the allocated peak (no CUDA context) for an `allocated`, "
           "`active` or `unstated` figure; for `reserved`, the allocated peak rounded up to whole 2 MiB segments "
           "(the caching allocator's kRoundLarge / kSmallBuffer / kLargeBuffer rules) plus the estimate's own "
           "fragmentation term (8% of it, assumed: the order of frees is not modelled); for `nvidia-smi`, that plus "
           "the CUDA context and workspaces (+ NCCL when distributed), i.e. the total MEM001 judges. MEM001 false = the lint rule says \"does not fit\" "
           "on the GPU the run really ran on.", "",
           "## Summary", "",
           "| runs | n | median \\|error\\| | within 10% | max \\|error\\| | over 25% | MEM001 false |",
           "|---|---:|---:|---:|---:|---:|---:|",
           stats_line("all scored", stats(scored)),
           stats_line("needed none of issue 12's settings (`needs` empty)", stats([r for r in scored if not r["needs"]])),
           stats_line("spec expresses every memory setting (nothing in `needs` lacks a knob)",
                      stats([r for r in scored if not r["missing"]])),
           stats_line("stack has a preset", stats([r for r in scored if r["stack"] in stacks]))]
    held = stats(scored)
    out += ["", "## Against issue 12's target (every scored run; in-sample: these runs informed the estimator)", "",
            "| criterion | target | result | met |", "|---|---|---|---|",
            f"| median \\|error\\| | <= 5% | {100 * held['median']:.1f}% | {'yes' if held['median'] <= 0.05 else 'no'} |",
            f"| within 10% | >= 80% | {100 * held['within10']:.0f}% | {'yes' if held['within10'] >= 0.8 else 'no'} |",
            f"| over 25% | none | {held['over25']} | {'yes' if held['over25'] == 0 else 'no'} |",
            f"| MEM001 on a run that ran | never | {held['mem001_false']} | {'yes' if held['mem001_false'] == 0 else 'no'} |",
            "", "Not held out for one setting: the torch.compile factor (0.85, ASSUMED) comes from torchtune's README, "
            "so the torchtune fold's compile runs are scored on a number taken from their own source. Every other "
            "stack default cites its package's code or config, not these figures.",
            "", "The largest error, torchtune's QLoRA tutorial row (a reserved figure), was -40% until its quantiser was "
            "modelled: torchtune at 0914d5cfb pinned torchao 0.1, whose to_nf4 quantises each weight in one piece (68 "
            "bytes per element of the largest weight beside the weights, 3 GB on Llama-2-7B) at model build and again "
            "for each checkpoint tensor (`lora.quant_chunk = 0`: a load phase). Its training figure is "
            "max_memory_reserved() after a peak reset at the end of init and the recipe never empties the cache, so it "
            "cannot fall below the init figure in the same table (9.13 GB). What remained (-25% against the allocated "
            "peak; -18.9% against the counter rule's reserved figure, which adds the estimate's 8% fragmentation "
            "term) is the allocator's reserve over allocated bytes: replaying that init through "
            "the caching allocator's rules (`benchmarks/published/torchtune_qlora_init_replay.py`, torchao 0.1's own "
            "to_nf4) gives 9.20 GB reserved, 7.41 GB peak allocated; and torchao 0.1's NF4 storage "
            "(0.547 bytes per weight, not 0.516: its quantization_factor is a view into a bf16 tensor materialised per "
            "64-block, made contiguous in torchao 0.3 by #298; about +0.2 GB here), which no knob models."]
    out += ["", "## By source (in-sample, not held out)", "", SOURCE_NOTE, "",
            "| source | n | median \\|error\\| | within 10% | max \\|error\\| | over 25% | MEM001 false |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for src in sorted({r["source"] for r in scored}):
        out.append(stats_line(src, stats([r for r in scored if r["source"] == src])))
    for src, commit in BLIND.items():
        blind = [r for r in scored if r["source"] == src]
        out += ["", f"## Blind fold: {src}", "",
                f"The `{src}` runs were added in commit {commit}, which committed the run list and its exclusion rules "
                "before any of them was scored; they were then scored once, without changing the estimator."
                + (" Their stack has no preset (" + ", ".join(sorted({r['stack'] for r in blind if r['stack'] not in stacks}))
                   + "): they are also listed under the runs from stacks without a preset." if any(
                       r["stack"] not in stacks for r in blind) else ""), "",
                "| fold | n | median \\|error\\| | within 10% | max \\|error\\| | over 25% | MEM001 false |",
                "|---|---:|---:|---:|---:|---:|---:|",
                stats_line(f"{src} (blind)", stats(blind)),
                stats_line("every other source", stats([r for r in scored if r["source"] not in BLIND]))]
        if src in BLIND_FINDINGS:
            out += ["", BLIND_FINDINGS[src]]
    needs: dict[str, list[float]] = {}
    for r in scored:
        for n in r["needs"]:
            needs.setdefault(n, []).append(r["error"])
    out += ["", "## Memory settings of issue 12's list, by the runs they affect", "",
            "| setting | runs | median error | a spec knob expresses it |", "|---|---:|---:|---|"]
    for n, errs in sorted(needs.items(), key=lambda kv: -len(kv[1])):
        out.append(f"| `{n}` | {len(errs)} | {100 * statistics.median(errs):+.1f}% | {'yes' if n in KNOBBED else 'no'} |")
    out += ["", "## Scored runs", "",
            "| run | source | stack | mode | counter | published | estimate | error | MEM001 | needs (no knob yet) |",
            "|---|---|---|---|---|---:|---:|---:|---|---|"]
    for r in scored:
        unit = UNIT[r["unit"]]
        out.append(f"| `{r['id']}` | {r['source']} | {r['stack']} | {r['mode']} | {r['counter']} | "
                   f"{r['measured']:.2f} {r['unit']} | {r['estimate'] / unit:.2f} {r['unit']} | "
                   f"{100 * r['error']:+.1f}% | {'does not fit' if r['unfit'] else 'fits'} | "
                   f"{', '.join(n if n in r['missing'] else n + ' (knob)' for n in r['needs']) or '-'} |")
    out += ["", "## Excluded runs", "", "| run | source | published | rule |", "|---|---|---|---|"]
    for r in rows:
        if r.get("exclude"):
            out.append(f"| `{r['id']}` | {r['source']} | {r['measured']} | {r['exclude']} |")
    out += ["", "## Runs from stacks without a preset", ""]
    missing = sorted({r["stack"] for r in scored if r["stack"] not in stacks})
    for st in missing:
        ids = [r["id"] for r in scored if r["stack"] == st]
        out.append(f"- **{st}** ({len(ids)} runs): " + ", ".join(f"`{i}`" for i in ids))
    if not missing:
        out.append("None: every scored run's stack has a preset.")
    out += ["", "## Citations", ""]
    out += [f"- `{r['id']}`: {r['cite']}" for r in rows]
    return "\n".join(out) + "\n"


# --- the LitGPT config-hub table of memory_accuracy.md --------------------------------------------------------
HUB = [
    ("llama-2-7b-lora.toml", "llama-2-7b/lora.yaml", 19.77),
    ("llama-3-8b-lora.toml", "llama-3-8b/lora.yaml", 19.73),
    ("mistral-7b-lora.toml", "mistral-7b/lora.yaml", 20.66),
    ("llama-2-7b-qlora.toml", "llama-2-7b/qlora.yaml", 13.68),
    ("mistral-7b-qlora.toml", "mistral-7b/qlora.yaml", 14.29),
    ("tiny-llama-full.toml", "tiny-llama/full.yaml", 14.10),
]
EARLIER = {"llama-2-7b-lora.toml": 19.63, "llama-3-8b-lora.toml": 19.89, "mistral-7b-lora.toml": 20.87,
           "llama-2-7b-qlora.toml": 10.02, "mistral-7b-qlora.toml": 10.51, "tiny-llama-full.toml": 11.36}


def hub_table() -> str:
    from llmspec.estimate import training_memory
    from llmspec.spec.loader import load_spec

    def pct(x: float, ref: float) -> str:
        return f"{100 * (x / ref - 1):+.1f}%"

    out = ["| LitGPT config | spec | published | earlier comparison | llmspec estimate | difference | "
           "+ bitsandbytes 0.42.0 saved inputs | difference |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for fname, config, published in HUB:
        spec = load_spec(HERE / "published" / fname)
        gb = training_memory(spec).per_gpu_bytes / 1e9
        assert spec.training is not None
        earlier = f"{EARLIER[fname]:.2f} GB ({pct(EARLIER[fname], published)})"
        if spec.training.method == "qlora":
            old_bnb = load_spec(HERE / "published" / fname, ["training.lora.quant_saves_input=true"])
            lit_gb = training_memory(old_bnb).per_gpu_bytes / 1e9
            lit = f"{lit_gb:.2f} GB | {pct(lit_gb, published)}"
        else:
            lit = "n/a | n/a"
        out.append(f"| `{config}` | `published/{fname}` | {published:.2f} GB | {earlier} | "
                   f"{gb:.2f} GB | {pct(gb, published)} | {lit} |")
    return "\n".join(out)


def write_hub_table(text: str) -> None:
    md = HERE / "memory_accuracy.md"
    doc = md.read_text(encoding="utf-8")
    begin, end = "<!-- published:begin -->", "<!-- published:end -->"
    head, _, rest = doc.partition(begin)
    _, _, tail = rest.partition(end)
    md.write_text(f"{head}{begin}\n{text}\n{end}{tail}", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--validate", type=Path, metavar="FILE", help="build and check every row's spec; no estimate")
    parser.add_argument("--runs", type=Path, metavar="FILE", help="score this run file once, on its own")
    parser.add_argument("--fold-name", default=None, help="the md section's heading for --runs")
    args = parser.parse_args(argv)
    if args.validate:
        problems = validate(args.validate)
        print("\n".join(problems) or f"{args.validate}: every row builds a valid spec (no estimate computed)")
        return 1 if problems else 0
    if args.runs:
        if not args.fold_name:
            parser.error("--runs needs --fold-name")
        md = HERE / "published_memory.md"
        if not args.no_write and f"\n## {args.fold_name}\n" in md.read_text(encoding="utf-8"):
            print(f"{md}: section '{args.fold_name}' is there already: a blind set is scored once")
            return 1
        problems = validate(args.runs)
        if problems:
            print("\n".join(problems))
            return 1
        rows = run_all(args.runs)
        text = fold_section(rows, args.fold_name, args.runs)
        print(text)
        if not args.no_write:
            md.write_text(md.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + text, encoding="utf-8")
            out = args.runs.with_suffix(".json")
            out.write_text(json.dumps([{k: v for k, v in r.items()} for r in rows], indent=1, default=str) + "\n",
                           encoding="utf-8")
        return 0
    text = report(run_all())
    print(text)
    if not args.no_write:  # the blind sets' sections (scored once, --runs) are kept as they were written
        md = HERE / "published_memory.md"
        old = md.read_text(encoding="utf-8") if md.exists() else ""
        kept = old[old.index("\n## Blind set "):] if "\n## Blind set " in old else ""
        md.write_text(text.rstrip("\n") + "\n" + kept if kept else text, encoding="utf-8")
        write_hub_table(hub_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
