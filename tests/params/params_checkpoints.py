"""The table of real checkpoints whose published config.json files live in configs/ (file stem -> hub id)."""

from __future__ import annotations

import json
from pathlib import Path

CONFIGS = Path(__file__).resolve().parent / "configs"

# One or more real checkpoints per supported family, each exercising that family's quirks.
CHECKPOINTS = {
    "Llama-2-7b-hf": "meta-llama/Llama-2-7b-hf",  # llama, MHA
    "Meta-Llama-3-8B": "meta-llama/Meta-Llama-3-8B",  # llama, GQA, 128k vocabulary
    "Mistral-7B-v0.1": "mistralai/Mistral-7B-v0.1",  # mistral, GQA
    "Mixtral-8x7B-v0.1": "mistralai/Mixtral-8x7B-v0.1",  # mixtral, MoE 8 experts top-2
    "Qwen2.5-0.5B": "Qwen/Qwen2.5-0.5B",  # qwen2, q/k/v biases, tied embeddings
    "Qwen2.5-7B": "Qwen/Qwen2.5-7B",  # qwen2, untied
    "Qwen3-8B": "Qwen/Qwen3-8B",  # qwen3, q/k RMSNorm
    "Qwen3-30B-A3B": "Qwen/Qwen3-30B-A3B",  # qwen3_moe, head_dim 128 != 2048/32, moe_intermediate_size
    "Qwen1.5-MoE-A2.7B": "Qwen/Qwen1.5-MoE-A2.7B",  # qwen2_moe, shared expert + its gate
    "gemma-7b": "google/gemma-7b",  # gemma, head_dim 256 != 3072/16, GeGLU, tied
    "gemma-2-9b": "google/gemma-2-9b",  # gemma2, 4 norms per layer
    "Phi-3-mini-4k-instruct": "microsoft/Phi-3-mini-4k-instruct",  # phi3, fused qkv / gate_up
    "gpt2": "openai-community/gpt2",  # gpt2, learned positions, biases, Conv1D
    "pythia-1.4b": "EleutherAI/pythia-1.4b",  # gpt_neox, parallel residual, untied
    "falcon-7b": "tiiuae/falcon-7b",  # falcon, multi-query, parallel attention, 1 norm per layer
    "falcon-40b": "tiiuae/falcon-40b",  # falcon, new decoder architecture: 8 kv heads, 2 norms
    "opt-1.3b": "facebook/opt-1.3b",  # opt, learned positions + 2, relu
    "OLMo-1B-hf": "allenai/OLMo-1B-hf",  # olmo, non-parametric layer norm
}


def load(stem: str) -> dict:
    return json.loads((CONFIGS / f"{stem}.json").read_text(encoding="utf-8"))
