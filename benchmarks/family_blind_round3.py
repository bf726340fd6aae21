"""Blind held-out cases for every registry family (issue 9, third round), frozen in
``memory_accuracy_blind3_cases.json`` before any of them ran; run once with ``python benchmarks/family_blind.py --run
--round 3`` (the runner is family_blind.py), nothing refitted on them.

The rule, fixed in writing before any case ran (nothing below is chosen per family by looking at a result). The
earlier rounds: memory_accuracy.py (Llama-style checkpoints at full depth), family_cases.py (every family's first
preset at 2 and 4 blocks) and family_blind_round2.py (last preset, 3 blocks).

* checkpoint: the family's **first** preset in registry order (``llmspec/spec/families.py`` PRESETS), where round 2
  took the last: Llama-2-7B, Qwen2.5-0.5B and Falcon-7B; a family with one preset has the same checkpoint in every
  round, and for it the new parts are the block count and the set-ups. Its real widths, heads, vocabulary and
  biases with **5** blocks (``family_cases.real_shape``); an MoE family with dense blocks keeps 1 of them.
* tokens: no sequence is longer than the checkpoint takes without a sliding window: the bound is its context length,
  or its config.json ``sliding_window`` minus one where that is smaller (unless ``use_sliding_window = false``).
  A set-up length above the bound becomes the largest multiple of 256 within it (GPT-2: 1024; Pythia, Falcon, OPT,
  OLMo: 2048; Phi-3-mini's 2,047-token window: 1792). Sliding windows and attention masks are being changed this
  session (issue 12), and round 2 ran GPT-2 past its 1,024 positions.
* four set-ups per family, none used before (earlier: full bf16-mixed, LoRA r=16 all-linear, 1-sequence prefill;
  full + checkpointing + accumulation, LoRA r=64 attention pure bf16, LoRA r=4 all-linear fp32, 4-sequence
  prefill):
  1. ``lora-mlp-ckpt``: LoRA r=8 on the family's MLP linears (the registry's module names with a gate, up, down or
     gate_up role, ``FAMILIES[...].modules``), activation checkpointing, micro-batch 2 x 1024 tokens, bf16-mixed;
  2. ``full-bf16-dropout``: full fine-tuning, no checkpointing, micro-batch 1 x 2048 tokens, pure bf16 (no fp32
     master copy), hidden-state dropout 0.1 (``training.dropout``);
  3. ``lora-head-fp16``: LoRA r=32 on every block linear and the output head (the registry's names with a q, k,
     v, qkv, o, gate, up, down, gate_up or head role), micro-batch 4 x 512 tokens, gradient accumulation 2,
     fp16-mixed (fp16 base, fp32 adapters), no adapter dropout (PEFT's ``lora.ParamWrapper``, which adapts the
     fused experts of Mixtral and Qwen3-MoE, refuses ``lora_dropout != 0``; round 2 had adapter dropout);
  4. ``infer-b2``: generation prefill of 2 sequences x 3072 tokens.
  Knobs other work changes this session are left at their defaults (packing, padding, sliding windows, masks,
  attention kernel), and so are the ones ``--measure`` only emulates (QLoRA's NF4, 8-bit and Lion optimizers,
  sharding, tensor parallelism): every case is a real run of the real class on both sides.
* MoE families: transformers' grouped expert kernel takes only bf16 operands on CPU (fp32 and fp16 are refused:
  torch ``_meta_grouped_mm_common``, "Expected inputs of BF16 type"; docs/estimate.md for fp32), so an MoE model's weights are bf16 wherever a set-up gives them another dtype: fp16-mixed
  becomes bf16-mixed (set-up 3), and fp32 weights (full fine-tuning under AMP or fp32, LoRA under fp32; none in this
  round) would become pure bf16, as in round 2. It is the only per-family exception and a rule, not a choice.
* that every set-up runs at all was checked before freezing, at round 1's reduced shape only (d_model 256, 2
  blocks, vocabulary 2048, 128 tokens; ``family_blind.py --smoke``, which prints no figure): the two MoE limits
  above came from that check.
* every family in ``FAMILIES`` gets every set-up: 15 families x 4 = 60 cases.
"""

from __future__ import annotations

import json
from typing import Any

from family_cases import first_preset

from llmspec.spec.families import FAMILIES, PRESETS
from llmspec.spec.hf_import import architecture_from_hf

BLOCKS = 5
MLP_ROLES = {"gate", "up", "down", "gate_up"}
BLOCK_AND_HEAD_ROLES = {"q", "k", "v", "qkv", "o", *MLP_ROLES, "head"}
# "moe": the precision an MoE family takes instead (bf16 weights: the rule above); set-ups 1 and 2 give bf16 already
SETUPS: dict[str, dict[str, Any]] = {
    "lora-mlp-ckpt": {"mode": "training", "batch": 2, "seq": 1024, "targets": MLP_ROLES, "overrides": [
        "training.method=lora", "training.precision=bf16-mixed", "training.lora.rank=8",
        "training.activation_checkpointing=true"]},
    "full-bf16-dropout": {"mode": "training", "batch": 1, "seq": 2048, "overrides": [
        "training.method=full", "training.precision=bf16", "training.dropout=0.1"]},
    "lora-head-fp16": {"mode": "training", "batch": 4, "seq": 512, "targets": BLOCK_AND_HEAD_ROLES, "overrides": [
        "training.method=lora", "training.precision=fp16-mixed", "training.lora.rank=32",
        "training.gradient_accumulation=2"], "moe": "training.precision=bf16-mixed"},
    "infer-b2": {"mode": "inference", "batch": 2, "seq": 3072, "overrides": []},
}


def token_bound(preset: str) -> int:
    cfg = PRESETS[preset].config()
    bound = architecture_from_hf(cfg)[1]["context_length"]
    if cfg.get("sliding_window") and cfg.get("use_sliding_window") is not False:
        bound = min(bound, cfg["sliding_window"] - 1)
    return bound


def cases() -> list[dict]:
    out = []
    for model_type, fam in FAMILIES.items():
        preset = first_preset(model_type)
        bound = token_bound(preset)
        moe = "moe" in architecture_from_hf(PRESETS[preset].config())[1]
        for name, s in SETUPS.items():
            overrides = [s["moe"] if moe and "moe" in s and o.startswith("training.precision=") else o
                         for o in s["overrides"]]
            if "targets" in s:
                names = [m for m, roles in fam.modules.items() if set(roles) & s["targets"]]
                overrides.append(f"training.lora.targets={json.dumps(names)}")
            seq = s["seq"] if s["seq"] <= bound else bound // 256 * 256
            out.append({"id": f"{model_type}-{name}", "family": model_type, "class": fam.hf_class, "preset": preset,
                        "size": "blind3", "blocks": BLOCKS, "mode": s["mode"], "batch": s["batch"], "seq": seq,
                        "overrides": overrides})
    return out
