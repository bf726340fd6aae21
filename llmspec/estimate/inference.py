"""Inference memory per GPU: weights (+ quantisation scales), KV cache, prefill activations and logits.

KV cache: 2 (K and V) x n_layers x kv_heads x head_dim x tokens x batch x bytes (Pope et al. 2022,
"Efficiently Scaling Transformer Inference", section 2), tokens = inference.seq_len or context_length.
Tensor parallelism splits KV heads (replicated when the degree exceeds them) and weights.

Prefill, no grad: activations are transient. Measured on transformers 5.23 (sdpa, 16-bit), the live peak
per token inside a block is max(6*ffn + 8.5*h, 16.25*h) bytes (gate/up/act/product of the MLP, or q/k/v and
the attention output, plus the residual), doubled under fp32; at the end of the forward pass the logits
(compute dtype x vocab per token) are live with the final hidden state. The ``hf`` backend computes logits
for every prompt token (a plain forward, as lm-eval's loglikelihood does); vllm, tgi, trtllm and llama.cpp
compute them for the last token only.
"""

from __future__ import annotations

from llmspec.estimate import activations as A
from llmspec.estimate import engine as E
from llmspec.estimate import precision as P
from llmspec.estimate.params import count_params
from llmspec.estimate.result import OVERHEAD_NOTE, MemoryEstimate, capacity, overhead
from llmspec.estimate.shapes import layout
from llmspec.spec.models import Hardware, Inference, Spec


def inference_tp(spec: Spec) -> int:
    inf = spec.inference or Inference()
    hw = spec.hardware or Hardware()
    if inf.tensor_parallel:
        return inf.tensor_parallel
    return hw.tensor_parallel if hw.tensor_parallel > 1 else hw.count


def kv_bytes_per_token(spec: Spec) -> float:
    """KV-cache bytes per token of context, for the whole model (all layers, one sequence)."""
    inf = spec.inference or Inference()
    arch = spec.arch
    kv_prec = inf.kv_cache_precision or ("fp32" if inf.precision == "fp32" else "bf16")
    return 2 * arch.n_layers * arch.kv_heads * arch.head_size * P.DTYPE_BYTES[kv_prec]


def weight_bytes(spec: Spec) -> tuple[float, float]:
    """(weights, quantisation scales) for the whole model at the inference precision."""
    inf = spec.inference or Inference()
    arch = spec.arch
    lay = layout(arch)
    total = count_params(arch, None, family=spec.model.family).total
    rest = total - lay.block_linear_numel
    wb = P.INFERENCE_WEIGHT_BYTES[inf.precision]
    other = 4 if inf.precision == "fp32" else 2  # embeddings, head and norms stay 16-bit when quantised
    weights = lay.block_linear_numel * wb + rest * other
    scales = lay.block_linear_numel * P.INFERENCE_SCALE_BYTES.get(inf.precision, 0.0)
    if inf.precision == "int8":
        scales += sum(m.cols * m.copies for m in lay.block_linears) * P.INT8_SCALE_PER_ROW
    return weights, scales


def inference_memory(spec: Spec) -> MemoryEstimate:
    inf = spec.inference or Inference()
    spec.hardware or Hardware()
    arch = spec.arch
    tp = inference_tp(spec)
    s = inf.seq_len or arch.context_length
    b = inf.batch_size
    notes: list[str] = []
    weights, scales = weight_bytes(spec)
    kv_split = min(tp, arch.kv_heads)
    kv = kv_bytes_per_token(spec) * s * b / kv_split
    c = 4 if inf.precision == "fp32" else 2
    h, f = arch.d_model, max(width for _, width in A.block_kinds(arch))  # widest MLP (dense layers of MoE)
    layer_peak = max(6 * f + 8.5 * h, 16.25 * h) * c / 2 / tp
    p = min(inf.prompt_tokens or s, s)  # prefill length (issue 12: prompt separate from the KV length)
    logits_tokens = p if inf.logits == "all" else 1  # the engine's preset (hf: every position; others: the last)
    end_peak = (c * arch.vocab_size * logits_tokens + c * h * p) / tp
    acts = b * max(layer_peak * p, end_peak)
    if inf.precision in ("int8", "int4"):
        notes.append(f"{inf.precision}: weight-only quantisation of block linears; embeddings and head 16-bit")
    if tp > 1:
        notes.append(f"tensor parallel {tp}: weights and activations split {tp} ways, KV heads {kv_split} ways")
    if s > arch.context_length:
        notes.append(f"seq_len {s} exceeds the context length {arch.context_length}")
    notes.append(f"prefill of {b} x {p} tokens; logits for {'every' if logits_tokens == p > 1 else 'the last'} token")
    breakdown = {"weights": weights / tp, "quant_scales": scales / tp, "kv_cache": kv, "prefill_activations": acts}
    cap, acc, cap_notes = capacity(spec)
    # serving engine (llmspec.estimate.engine; issue 12): int4 groups, eager scores, paged pools and their share
    engine_notes, cap = E.apply(spec, inf, breakdown, capacity=cap, layer_peak=layer_peak,
                                kv_per_token=kv_bytes_per_token(spec) / kv_split, tp=tp)
    concurrent = breakdown.pop("concurrent_sequences", None)
    notes += engine_notes
    breakdown = {k: int(round(v)) for k, v in breakdown.items() if v}
    per_gpu = sum(breakdown.values())
    notes.append(OVERHEAD_NOTE)
    del concurrent  # reported in the notes; MemoryEstimate has no field for it yet
    return MemoryEstimate(
        mode="inference",
        per_gpu_bytes=per_gpu,
        overhead_bytes=overhead(per_gpu, tp),
        capacity_bytes=cap,
        breakdown=breakdown,
        peak_phase="prefill",
        phases={"prefill": per_gpu},
        assumptions=notes + cap_notes,
        accelerator=acc,
    )
