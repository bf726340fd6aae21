"""Blind held-out cases for every registry family (issue 9, fourth round), frozen in
``memory_accuracy_blind4_cases.json`` before any of them ran; run once with ``python benchmarks/family_blind.py --run
--round 4`` (the runner is family_blind.py), nothing refitted on them.

The rule, fixed in writing before any case ran (nothing below is chosen per family by looking at a result). The
earlier rounds: memory_accuracy.py (Llama-style checkpoints at full depth), family_cases.py (every family's first
preset at 2 and 4 blocks), family_blind_round2.py (last preset, 3 blocks) and family_blind_round3.py (first preset,
5 blocks).

* checkpoint: the family's **second** preset in registry order (``llmspec/spec/families.py`` PRESETS) where it has
  one, else its first (its only one): Llama-3-8B, Qwen2.5-7B and Falcon-40B, which are also round 2's checkpoints
  (those families have two presets, so the second is the last); every other family has the same checkpoint as in
  rounds 1-3, and for it the new parts are the block count and the set-ups. Its real widths, heads, vocabulary and
  biases with **6** blocks (``family_cases.real_shape``; the earlier rounds used 2, 3, 4 and 5); an MoE family with
  dense blocks keeps 1 of them.
* tokens: the bound of round 3 (``family_blind_round3.token_bound``): no sequence is longer than the checkpoint's
  context length, or its config.json ``sliding_window`` minus one where that is smaller (unless
  ``use_sliding_window = false``); a set-up length above the bound becomes the largest multiple of 256 within it
  (here GPT-2: 1024 for set-ups 2 and 5; Phi-3-mini's 2,047-token window: 1792 for set-up 2).
* five set-ups per family, none used before (earlier: full bf16-mixed, LoRA r=16 all-linear, 1-sequence prefill;
  full + checkpointing + accumulation 4 at 2 x 768, LoRA r=64 attention pure bf16 with adapter dropout, LoRA r=4
  all-linear fp32 with hidden dropout, 4-sequence prefill; LoRA r=8 MLP + checkpointing bf16-mixed, full pure bf16
  with hidden dropout, LoRA r=32 block linears + head fp16-mixed with accumulation 2, 2-sequence prefill x 3072).
  Unlike round 3, this round exercises the knobs being changed this session (activation checkpointing, adapter
  dropout, adapter dtype, the optimizer step in backward, the inference attention kernel); every one of them is
  applied for real by ``--measure`` (llmspec/estimate/measure.py and _measure_support.optimizers), so every case is
  a real run of the real class on both sides. Other knobs stay at their stack's defaults (hf-trainer, except set-up 4).
  1. ``full-ckpt-amp``: full fine-tuning, bf16-mixed, activation checkpointing (``training.activation_checkpointing``),
     micro-batch 2 x 1024 tokens, no gradient accumulation;
  2. ``lora-attn-drop-ckpt``: LoRA r=16 on the family's attention linears (the registry's module names with a q, k,
     v, qkv or o role, ``FAMILIES[...].modules``), adapter dropout 0.05 (``training.lora.dropout``), activation
     checkpointing, micro-batch 1 x 2048 tokens, bf16-mixed. The targets are attention linears only, so MoE
     families keep the adapter dropout (PEFT's ``lora.ParamWrapper``, which refuses ``lora_dropout != 0``, adapts
     only fused experts, and none is targeted);
  3. ``lora-all-bf16-fp32ad``: LoRA r=8 on all linear layers (``["all-linear"]``), pure bf16 weights with fp32
     adapters (``training.lora.dtype = "fp32"``, set explicitly though it is the hf-trainer stack's default),
     micro-batch 2 x 512 tokens;
  4. ``full-fp32-optbwd``: full fine-tuning with fp32 weights (``training.precision = "fp32"``), the optimizer
     stepped per parameter in backward (``training.optimizer_in_backward = true``, applied by --measure through a
     post-accumulate-grad hook per parameter: _measure_support.optimizers, after
     torchtune==0.6.1:torchtune/training/memory.py:register_optim_in_bwd_hooks), micro-batch 1 x 1024 tokens, on
     the ``pytorch`` stack (``training.stack``: a plain PyTorch loop over the transformers model, where the hook is
     written by hand, torch==2.13.0:torch/_tensor.py:Tensor.register_post_accumulate_grad_hook). The hf-trainer stack
     cannot step in backward (llmspec/data/stacks.toml, ``[stack.hf-trainer.supports] optimizer_in_backward =
     [false]``), and torchtune's and LitGPT's stacks build their own model code, not the transformers class; so
     the rule takes the pytorch stack itself (lightning and accelerate are built on it) as the place where this
     set-up is both real and measured on the real class. Its other
     knobs are its defaults (foreach AdamW, full loss), as the other set-ups keep hf-trainer's;
  5. ``infer-b3-eager``: generation prefill of 3 sequences x 1536 tokens with eager attention set by the user
     (``inference.attention = "eager"``, which --measure builds the model with).
* MoE families: round 3's rule. transformers' grouped expert kernel takes only bf16 operands on CPU (torch
  ``_meta_grouped_mm_common``, "Expected inputs of BF16 type"; docs/estimate.md; measure.measure_training refuses
  MoE training with fp32 weights), so an MoE model's weights are bf16 wherever a set-up gives them another dtype:
  bf16-mixed full fine-tuning (set-up 1) and fp32 full fine-tuning (set-up 4) become pure bf16 full fine-tuning;
  LoRA under bf16-mixed (set-up 2) keeps a bf16 base already. It is the only per-family exception and a rule, not a
  choice.
* that every set-up runs at all was checked before freezing, at round 1's reduced shape only (d_model 256, 2
  blocks, vocabulary 2048, 128 tokens; ``family_blind.py --smoke --round 4``, which prints no figure). No estimate
  or measured figure of a case was computed or looked at before freezing.
* every family in ``FAMILIES`` gets every set-up: 15 families x 5 = 75 cases.
"""

from __future__ import annotations

import json
from typing import Any

from family_blind_round2 import ATTENTION_ROLES
from family_blind_round3 import token_bound

from llmspec.spec.families import FAMILIES, PRESETS
from llmspec.spec.hf_import import architecture_from_hf

BLOCKS = 6
# "moe": the precision an MoE family takes instead (bf16 weights: the rule above)
SETUPS: dict[str, dict[str, Any]] = {
    "full-ckpt-amp": {"mode": "training", "batch": 2, "seq": 1024, "overrides": [
        "training.method=full", "training.precision=bf16-mixed", "training.activation_checkpointing=true"],
        "moe": "training.precision=bf16"},
    "lora-attn-drop-ckpt": {"mode": "training", "batch": 1, "seq": 2048, "targets": ATTENTION_ROLES, "overrides": [
        "training.method=lora", "training.precision=bf16-mixed", "training.lora.rank=16", "training.lora.dropout=0.05",
        "training.activation_checkpointing=true"]},
    "lora-all-bf16-fp32ad": {"mode": "training", "batch": 2, "seq": 512, "overrides": [
        "training.method=lora", "training.precision=bf16", "training.lora.rank=8", "training.lora.dtype=fp32",
        'training.lora.targets=["all-linear"]']},
    "full-fp32-optbwd": {"mode": "training", "batch": 1, "seq": 1024, "overrides": [
        "training.method=full", "training.precision=fp32", "training.stack=pytorch",
        "training.optimizer_in_backward=true"],
        "moe": "training.precision=bf16"},
    "infer-b3-eager": {"mode": "inference", "batch": 3, "seq": 1536, "overrides": ["inference.attention=eager"]},
}


def second_preset(model_type: str) -> str:
    names = [p.name for p in PRESETS.values() if p.config()["model_type"] == model_type]
    return names[1] if len(names) > 1 else names[0]


def cases() -> list[dict]:
    out = []
    for model_type, fam in FAMILIES.items():
        preset = second_preset(model_type)
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
                        "size": "blind4", "blocks": BLOCKS, "mode": s["mode"], "batch": s["batch"], "seq": seq,
                        "overrides": overrides})
    return out
