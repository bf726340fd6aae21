"""Shared wording of the memory rules: estimate against capacity, and the estimator's cheapest fixes."""

from __future__ import annotations

import shlex

from llmspec.units import format_bytes


def where(ctx) -> str:
    hw = ctx.spec.hardware
    acc = ctx.accelerator
    name = acc.name if acc is not None else hw.accelerator
    return f"{hw.world_size} x {name}" if hw.world_size > 1 else name


def estimate_text(est) -> str:
    return (f"{format_bytes(est.total_bytes)} per GPU ({format_bytes(est.per_gpu_bytes)} allocated at the "
            f"{est.peak_phase} peak + {format_bytes(est.overhead_bytes)} overhead)")


def top_parts(est, k: int = 3) -> str:
    parts = sorted(est.breakdown.items(), key=lambda kv: -kv[1])[:k]
    return ", ".join(f"{name} {format_bytes(value)}" for name, value in parts if value > 0)


# What shrinks each part of the estimate (the breakdown keys of llmspec.estimate's training and inference memory).
_LEVERS = {
    "activations": "activation_checkpointing = true and a smaller micro_batch_size / seq_len",
    "logits_and_loss": "a smaller micro_batch_size or seq_len (logits are batch x seq x vocab)",
    "optimizer_states": "sharding = \"zero1\"-\"zero3\"/\"fsdp\" over more GPUs, optimizer = \"adamw_8bit\", or LoRA",
    "optimizer_buffers": "sharding over more GPUs, or LoRA",
    "gradients": "sharding = \"zero2\" or \"fsdp\" over more GPUs, or LoRA",
    "master_weights": "sharding over more GPUs, or LoRA",
    "weights": "sharding = \"fsdp\" over more GPUs, or QLoRA (4-bit base weights)",
    "autocast_copies": "pure bf16 precision, or LoRA",
    "gathered_layers": "smaller layers per FSDP unit",
    "kv_cache": "a smaller batch_size or seq_len, or kv_cache_precision = \"fp8\"",
    "prefill_activations": "a smaller batch_size or seq_len",
    "quant_scales": "a larger quantisation group",
}


def levers(est, k: int = 2) -> str:
    parts = sorted(est.breakdown.items(), key=lambda kv: -kv[1])[:k]
    return "; ".join(f"{name} ({format_bytes(value)}): {_LEVERS[name]}" for name, value in parts if name in _LEVERS)


def fixes_text(ctx, mode: str, limit: int = 3) -> str:
    # what_would_fit keeps the `limit` cheapest fixes per mode, so asking for `limit` gives the same first ones
    # as the default 5 while letting its search stop sooner; a fix of both verdicts is listed under each
    fixes = [f for f in ctx.estimate("what_would_fit", limit) if mode in f.modes][:limit]
    if not fixes:
        est = ctx.estimate(f"{mode}_memory")
        return ("no single change, nor a pair of changes, that the estimator tries makes it fit; shrink the largest "
                f"parts: {levers(est)}; then re-run `llmspec lint`")
    items = [f"{f.description} -> {format_bytes(f.totals.get(mode, f.total_bytes))} ({' '.join('--set ' + shlex.quote(a) for a in f.set_args)})"
             for f in fixes]
    return "cheapest fixes: " + "; ".join(f"{i + 1}) {text}" for i, text in enumerate(items))
