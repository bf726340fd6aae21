"""Compute: training FLOPs, tokens, steps, wall time, GPU-hours, cost; inference throughput bounds.

Training FLOPs per token (Kaplan et al. 2020 section 2.1; Hoffmann et al. 2022 "Chinchilla" appendix F;
Chowdhery et al. 2022 "PaLM" appendix B):

* matmuls: 2N forward, 4N backward (input and weight gradients) -> 6N for full training, with N the
  *active* matmul parameters (MoE: experts a token visits; the embedding lookup is not a matmul, the head is);
* LoRA / QLoRA: frozen weights need no weight gradient -> ~4N (adapters are negligible);
* activation checkpointing recomputes the forward: + 2N;
* attention scores and values: 4 * seq * d_attn per layer forward, halved by causal masking in flash /
  memory-efficient kernels -> 2 * n_layers * seq * d_attn forward, x3 with backward = 6 * n_layers * seq *
  d_attn (PaLM appendix B counts 12 * n_layers * seq * d_attn without the causal saving).

Time = FLOPs executed / (GPUs x peak dense TFLOP/s at the training precision x hardware.mfu). The recomputed
forward is executed work, so checkpointing costs time at a fixed utilisation (hardware.mfu is applied to
executed FLOPs, i.e. "hardware FLOPs utilisation" in PaLM's terms).

Inference: decoding is memory-bound: each step reads every weight byte and the KV cache once, so
tokens/s <= batch x bandwidth / (weight bytes + KV bytes) per GPU group, with the KV cache at its largest (prompt +
max_new_tokens within seq_len: llmspec.estimate.inference.lengths, as the memory estimate); prefill is
compute-bound: tokens/s <= GPUs x peak x mfu / (2N + 2 * n_layers * prompt * d_attn) (Pope et al. 2022, section 3).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from llmspec.estimate.activations import checkpointed_blocks, selective_recomputed_matmul_params
from llmspec.estimate.params import count_params
from llmspec.estimate.result import accelerator
from llmspec.spec.models import Hardware, Inference, Spec, Training


@dataclass
class Compute:
    flops_per_token: float
    """Training FLOPs per token executed (matmuls + attention, including recomputation)."""
    model_flops_per_token: float
    """6N + attention (or 4N for LoRA): what MFU counts, without recomputation."""
    tokens: int | None
    """Training tokens processed: dataset tokens x epochs, capped by max_steps."""
    tokens_per_step: int
    """micro_batch x seq_len x gradient_accumulation x data-parallel ranks."""
    steps: int | None
    total_flops: float | None
    peak_tflops: float | None
    """Peak dense TFLOP/s of one accelerator at the training precision (catalog)."""
    wall_hours: float | None
    gpu_hours: float | None
    cost: float | None
    """gpu_hours x hardware.price_per_gpu_hour, when the price is set."""
    decode_tokens_per_s: float | None
    """Upper bound on decode throughput (all sequences of the batch), memory-bandwidth bound."""
    prefill_tokens_per_s: float | None
    """Upper bound on prefill throughput at hardware.mfu, compute bound."""
    assumptions: list[str] = field(default_factory=list)
    training_assumed: bool = False
    """True when the spec has no [training] table: the training figures are of the defaults; `estimate` does not
    print them (the JSON has them, marked by this flag)."""

    def to_dict(self) -> dict:
        return asdict(self)


_PRECISION_RATE = {"fp32": "fp32", "bf16-mixed": "bf16", "bf16": "bf16", "fp16-mixed": "fp16", "fp16": "fp16",
                   "fp8-mixed": "fp8"}


def matmul_params(spec: Spec) -> int:
    """Active parameters that take part in matmuls: active total minus the input embedding lookup table(s);
    a tied head is a matmul and is counted."""
    arch = spec.arch
    pc = count_params(arch, None, family=spec.model.family)
    n = pc.active - pc.breakdown.get("embeddings", 0) - pc.breakdown.get("position_embeddings", 0)
    if arch.tie_embeddings:
        n += arch.vocab_size * arch.d_model
    return n


def attention_dim(spec: Spec) -> int:
    return spec.arch.n_heads * spec.arch.head_size


class ComputeStatic(NamedTuple):
    """What compute reads from the architecture and the accelerator alone (no [training] key, no budget key):
    `sweep plan` computes it once for the points that share them."""

    matmul_params: int
    accelerator: Any


def compute_static(spec: Spec) -> ComputeStatic:
    return ComputeStatic(matmul_params(spec), accelerator(spec))


def compute(spec: Spec, serving: bool = True, static: ComputeStatic | None = None) -> Compute:
    """FLOPs, tokens, time and cost of the training run; with ``serving``, also the serving throughput bounds
    (`sweep plan` judges budgets only, so it leaves them out). ``static``: compute_static of this spec or of one
    with the same architecture and accelerator."""
    tr = spec.training or Training()
    hw = spec.hardware or Hardware()
    arch = spec.arch
    notes: list[str] = []
    N, acc = static if static is not None else compute_static(spec)
    attn_fwd = 2 * arch.n_layers * tr.seq_len * attention_dim(spec)
    lora = tr.method in ("lora", "qlora")
    matmul = (4 if lora else 6) * N
    model_flops = matmul + 3 * attn_fwd
    recomputed = (2 * N + attn_fwd) if tr.activation_checkpointing else 0
    if tr.activation_checkpointing and tr.checkpoint_policy == "selective-op":
        # only the linears the policy does not save run again, attention's output is saved (activations.
        # selective_recomputed_matmul_params)
        recomputed = 2 * arch.n_layers * selective_recomputed_matmul_params(arch, spec.model.family)
    elif tr.activation_checkpointing and tr.checkpoint_policy == "every-n":  # only the checkpointed blocks again
        recomputed = recomputed * checkpointed_blocks(arch, tr) // arch.n_layers
    executed = model_flops + recomputed
    dp = max(1, hw.world_size // (hw.tensor_parallel * hw.pipeline_parallel))
    tokens_per_step = tr.micro_batch_size * tr.seq_len * tr.gradient_accumulation * dp
    tokens: int | None = None
    epoch_tokens = tr.tokens_per_epoch
    if epoch_tokens is not None:
        tokens = int(epoch_tokens * tr.epochs)
        if not tr.packing and tr.mean_example_tokens:
            # unpacked: every example occupies a full seq_len row
            rows = (tr.dataset_examples or epoch_tokens / tr.mean_example_tokens) * tr.epochs
            tokens = int(rows * tr.seq_len)
            notes.append("packing = false: each example is padded to seq_len, compute counts padded tokens")
    if tr.max_steps is not None:
        capped = tr.max_steps * tokens_per_step
        tokens = capped if tokens is None else min(tokens, capped)
    steps = math.ceil(tokens / tokens_per_step) if tokens is not None else None
    rate = _PRECISION_RATE[tr.precision]
    peak = acc.peak_tflops(rate) if acc else None
    if acc is None:
        notes.append(f"accelerator {hw.accelerator!r} not in the catalog: no time or cost")
    total = executed * tokens if tokens is not None else None
    wall = gpu_h = cost = None
    if total is not None and peak:
        per_second = hw.world_size * peak * 1e12 * hw.mfu
        wall = total / per_second / 3600
        gpu_h = wall * hw.world_size
        if hw.price_per_gpu_hour is not None:
            cost = gpu_h * hw.price_per_gpu_hour
        notes.append(f"time at mfu {hw.mfu:g} of {peak:g} TFLOP/s ({rate}) per GPU, on executed FLOPs")
    if tokens is None:
        notes.append("no dataset_tokens (or dataset_examples x mean_example_tokens) or max_steps: no time")

    decode = prefill = None
    if acc is not None and serving:
        inf = spec.inference or Inference()
        from llmspec.estimate.inference import inference_tp, kv_bytes_per_token, lengths, weight_bytes

        tp = inference_tp(spec)
        # the lengths the memory estimate uses (inference.lengths): the prompt prefilled, and the KV cache at its
        # largest, prompt + max_new_tokens within seq_len (the last decode step reads all of it)
        prompt, kv_len = lengths(spec)
        w, scales = weight_bytes(spec)
        kv = kv_bytes_per_token(spec) * kv_len * inf.batch_size
        decode = inf.batch_size * acc.bandwidth_gbs * 1e9 * tp / (w + scales + kv)
        prefill_flops = 2 * N + 2 * arch.n_layers * prompt * attention_dim(spec)
        infer_rate = "fp8" if inf.precision == "fp8" else ("fp32" if inf.precision == "fp32" else "bf16")
        prefill = tp * acc.peak_tflops(infer_rate) * 1e12 * hw.mfu / prefill_flops
    return Compute(
        flops_per_token=executed,
        model_flops_per_token=model_flops,
        tokens=tokens,
        tokens_per_step=tokens_per_step,
        steps=steps,
        total_flops=total,
        peak_tflops=peak,
        wall_hours=wall,
        gpu_hours=gpu_h,
        cost=cost,
        decode_tokens_per_s=decode,
        prefill_tokens_per_s=prefill,
        assumptions=notes,
        training_assumed=spec.training is None,
    )
