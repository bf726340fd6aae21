"""Blind held-out cases for every registry family (issue 9, second round): shapes and set-ups none of the earlier
rounds used, frozen in ``memory_accuracy_blind_cases.json`` and committed (a1c4c28) before they were run once
(``python benchmarks/family_blind.py --run --round 2``, 4c876dd; the runner is family_blind.py).

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

(Moved here unchanged from family_blind.py when the runner was generalised over rounds; ``python
benchmarks/family_blind.py --check --round 2`` shows that this module still writes the committed list byte for
byte.)
"""

from __future__ import annotations

import json

from llmspec.spec.families import FAMILIES, PRESETS
from llmspec.spec.hf_import import architecture_from_hf

BLOCKS = 3
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
