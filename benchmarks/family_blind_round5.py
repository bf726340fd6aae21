"""Blind held-out cases for every registry family (issue 9, fifth round), frozen in
``memory_accuracy_blind5_cases.json`` before any of them ran; run once with ``python benchmarks/family_blind.py --run
--round 5`` (the runner is family_blind.py), nothing refitted on them.

The rule, fixed in writing at the start of session 7 (2026-12-04), before any case ran and before any estimator
change of that session (nothing below is chosen per family by looking at a result). The earlier rounds:
memory_accuracy.py (Llama-style checkpoints at full depth), family_cases.py (first preset at 2 and 4 blocks),
family_blind_round2.py (last preset, 3 blocks), family_blind_round3.py (first preset, 5 blocks) and
family_blind_round4.py (second preset, 6 blocks).

* checkpoint: the family's **last** preset in registry order (round 2's rule, ``family_blind_round2.last_preset``),
  with its real widths, heads, vocabulary and biases at **7** blocks (``family_cases.real_shape``); an MoE family
  with dense blocks keeps 1 of them.
* tokens: round 3's bound (``family_blind_round3.token_bound``): a set-up length above the checkpoint's context or
  sliding window becomes the largest multiple of 256 within it.
* five set-ups per family, none used before (rounds 1-4 are listed in family_blind_round4.py). This round exercises
  the knobs added or changed in session 6 (the checkpoint policy, chunked and fused-linear loss, DoRA, foreach AdamW,
  prompt vs KV length and the static KV cache), each applied for real by ``--measure`` (the "applied" rows of
  tests/estimate/test_measure_knobs.py), so every case is a real run of the real class on both sides. The per-op
  checkpoint policy and every-n checkpointing run on the ``pytorch`` stack (torchtitan's and a hand-written loop's
  place; hf-trainer's gradient_checkpointing_enable checkpoints every block and has no per-op policy).
  1. ``full-selop-chunk8``: full fine-tuning, bf16-mixed, ``training.stack = "pytorch"``, activation checkpointing
     with ``checkpoint_policy = "selective-op"``, ``loss = "chunked"`` with 8 chunks, micro-batch 2 x 768 tokens;
  2. ``lora-all-every2-accum3``: LoRA r=32 on all linear layers with adapter dropout 0, bf16-mixed, the pytorch
     stack, activation checkpointing of every 2nd block (``checkpoint_policy = "every-n"``,
     ``checkpoint_every = 2``), gradient accumulation 3, micro-batch 1 x 1536 tokens;
  3. ``dora-attn-bf16``: DoRA (``training.lora.dora = true``) r=8 on the family's attention linears (the registry's
     modules with a q, k, v, qkv or o role), pure bf16 weights with bf16 adapters (``training.lora.dtype = "bf16"``),
     micro-batch 2 x 512 tokens;
  4. ``full-bf16-fusedce-foreach``: full fine-tuning, pure bf16, ``loss = "fused-linear"``, foreach AdamW
     (``training.optimizer_impl = "foreach"``), micro-batch 1 x 2048 tokens;
  5. ``infer-b2-prompt1k-static``: generation of 2 sequences with a 1,024-token prompt (``inference.prompt_tokens``)
     and a 2,048-token KV length (``inference.seq_len``), static KV cache (``inference.kv_allocation = "static"``).
* MoE families: round 3's rule: the grouped expert kernel takes only bf16 operands on CPU, so an MoE model's weights
  are bf16 where a set-up gives them another dtype: bf16-mixed full fine-tuning (set-up 1) becomes pure bf16.
  Set-up 2 keeps adapter dropout 0 for every family, so PEFT's ``lora.ParamWrapper`` on fused experts is allowed.
* that every set-up runs at all was checked before freezing, at round 1's reduced shape only (``family_blind.py
  --smoke --round 5``, which prints no figure). No estimate or measured figure of a case was computed or looked at
  before freezing.
* every family in ``FAMILIES`` gets every set-up: 15 families x 5 = 75 cases.
"""

from __future__ import annotations

import json
from typing import Any

from family_blind_round2 import ATTENTION_ROLES, last_preset
from family_blind_round3 import token_bound

from llmspec.spec.families import FAMILIES, PRESETS
from llmspec.spec.hf_import import architecture_from_hf

BLOCKS = 7
SETUPS: dict[str, dict[str, Any]] = {
    "full-selop-chunk8": {"mode": "training", "batch": 2, "seq": 768, "overrides": [
        "training.method=full", "training.precision=bf16-mixed", "training.stack=pytorch",
        "training.activation_checkpointing=true", "training.checkpoint_policy=selective-op",
        "training.loss=chunked", "training.loss_chunks=8"],
        "moe": "training.precision=bf16"},
    "lora-all-every2-accum3": {"mode": "training", "batch": 1, "seq": 1536, "overrides": [
        "training.method=lora", "training.precision=bf16-mixed", "training.stack=pytorch", "training.lora.rank=32",
        "training.lora.dropout=0", 'training.lora.targets=["all-linear"]', "training.activation_checkpointing=true",
        "training.checkpoint_policy=every-n", "training.checkpoint_every=2", "training.gradient_accumulation=3"]},
    "dora-attn-bf16": {"mode": "training", "batch": 2, "seq": 512, "targets": ATTENTION_ROLES, "overrides": [
        "training.method=lora", "training.precision=bf16", "training.lora.rank=8", "training.lora.dora=true",
        "training.lora.dtype=bf16"]},
    "full-bf16-fusedce-foreach": {"mode": "training", "batch": 1, "seq": 2048, "overrides": [
        "training.method=full", "training.precision=bf16", "training.loss=fused-linear",
        "training.optimizer_impl=foreach"]},
    "infer-b2-prompt1k-static": {"mode": "inference", "batch": 2, "seq": 2048, "overrides": [
        "inference.prompt_tokens=1024", "inference.kv_allocation=static"]},
}


def cases() -> list[dict]:
    out = []
    for model_type, fam in FAMILIES.items():
        preset = last_preset(model_type)
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
                        "size": "blind5", "blocks": BLOCKS, "mode": s["mode"], "batch": s["batch"], "seq": seq,
                        "overrides": overrides})
    return out
