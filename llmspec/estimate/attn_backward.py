"""The attention-score backward of the last block: a moment of backward that materialised scores make the peak.

When a block's attention materialises its n_heads x s x s scores (eager attention, or sdpa's math kernel: a family
with the registry's ``mqa_math_sdpa`` on a transformers release before ``mqa_math_sdpa_until``, e.g. Falcon-7B's one
K/V head under transformers 5.24), the backward of its softmax holds, beside the saved fp32 probabilities, two more
fp32 tensors of the same size:

* the gradient of the probabilities in fp32: sdpa's math kernel computes in fp32 on a 16-bit input
  (torch==2.13.0:aten/src/ATen/native/transformers/attention.cpp:_scaled_dot_product_attention_math, the fp32
  ``attn`` of ``at::_safe_softmax``; its ``bmm`` backward gives an fp32 gradient), and the eager path's
  ``softmax(..., dtype=torch.float32).to(query.dtype)`` casts the 16-bit gradient back to fp32 in the backward of
  ``aten._to_copy`` (transformers==5.24.0:src/transformers/models/llama/modeling_llama.py:eager_attention_forward;
  the 16-bit gradient is freed once cast);
* the gradient of the scores, ``aten._softmax_backward_data`` (torch==2.13.0:tools/autograd/derivatives.yaml,
  ``_softmax``: ``_softmax_backward_data(grad, result, dim, self.scalar_type())``), fp32 like its input.

So 8 x n_heads x s bytes per token beyond the block's saved activations. The loss buffers are gone by then, and
every gradient of the layers backward has passed is live: the output head's (the tied embedding matrix's when tied),
the final norm's, and the block's own except its attention input projections (q, k, v: their gradients come after
the scores'): the MLP and the output projection, in a sequential block (the MLP runs after attention) as in a
parallel one (transformers==5.24.0:src/transformers/models/falcon/modeling_falcon.py:FalconDecoderLayer.forward:
``mlp_output += attention_output`` after both; backward reaches the MLP and ``dense`` before the scores).

Measured under FakeTensorMode (llmspec.estimate.measure), peak op ``aten._softmax_backward_data``: Falcon-7B's real
widths with 1-2 blocks (pure bf16, 1 x 2048: three 1,136 MiB fp32 score tensors live, -14.6% / -19.8% before this
term; LoRA on the MLP under checkpointing, 2 x 1024: -7.9% / -9.1%) and Llama-2-7B with attention = "eager" (pure
bf16, 1 x 2048, -4.8% before). With a fused kernel (flash, memory-efficient, sdpa's CPU flash) the scores never
exist and the moment is never above the others.
"""

from __future__ import annotations

from llmspec.estimate import activations as A
from llmspec.spec.models import Architecture, Training

SCORE_GRAD_BYTES = 8  # x n_heads x s per token: the fp32 gradient of the probabilities and of the scores


def materialised_scores(arch: Architecture, training: Training, family: str | None = None) -> bool:
    """The block's attention materialises its scores: eager attention (training.attention or a family without an
    sdpa path), or sdpa's math kernel (activations.math_attention: registry mqa_math_sdpa / mqa_math_sdpa_until)."""
    return A.eager_attention(training, family) or A.math_attention(arch, family)


def score_backward_bytes_per_token(arch: Architecture, training: Training, seq_len: int,
                                   family: str | None = None) -> float:
    """Bytes per token live during the softmax backward beyond the block's saved activations (module docstring);
    0 with a fused attention kernel."""
    if not materialised_scores(arch, training, family):
        return 0.0
    return float(SCORE_GRAD_BYTES * arch.n_heads * seq_len)


def retained_bytes_per_token(arch: Architecture, training: Training, family: str | None = None) -> float:
    """What the last block still holds at its score backward, per token: what backward has passed (the MLP, the
    output projection, the 16-bit probabilities of the eager path, consumed by the ``attn @ v`` backward) is freed,
    and what remains is the fp32 probabilities (4 x n_heads x s, sequence-dependent: added by the caller), q and k
    for the ``q @ k^T`` backward (the math kernel's fp32 q, k and v: 4 x (q width + 2 x kv width); the eager path's
    q and repeated k in the compute dtype: 2 x q width x 2 or 4 bytes) and the attention's input side: the block's
    input (activations.residual_bytes x d_model), the norm's fp32 upcast and its compute-dtype output (6 x d_model),
    and under autocast on the eager path 4 x d_model more (the fp32 rotary outputs and their 16-bit casts for the
    matmul). Measured on LlamaForCausalLM (eager; 1 block at Llama-2-7B's widths, 1 x 2048): 12 x d_model beside q
    and k in pure bf16, 18 under bf16-mixed; on FalconForCausalLM's LayerNorm 4, where this says 8 (0.5% of the
    moment)."""
    qw, kvw = arch.n_heads * arch.head_size, arch.kv_heads * arch.head_size
    if A.math_attention(arch, family):
        qk, amp = 4 * (qw + 2 * kvw), 0
    else:
        qk = 2 * qw * (4 if training.precision == "fp32" else 2)
        amp = 4 if A.residual_bytes(training) == 4 and training.precision != "fp32" else 0
    return float(qk + (A.residual_bytes(training) + 6 + amp) * arch.d_model)


def probabilities_bytes_per_token(arch: Architecture, training: Training, seq_len: int,
                                  family: str | None = None) -> float:
    """The fp32 softmax output the score backward reads (saved by aten._softmax / _safe_softmax), and with
    soft-capped scores (registry softcapping) the tanh their backward reads next, in the compute dtype
    (transformers==5.24.0:src/transformers/models/gemma2/modeling_gemma2.py:eager_attention_forward,
    ``torch.tanh(attn_weights / softcap)``; measured on Gemma2ForCausalLM: 2 bytes under 16-bit compute)."""
    H = arch.n_heads
    cap = (4 if training.precision == "fp32" else 2) * H * seq_len if A.softcapping(family) else 0
    return float(4 * H * seq_len + cap)


def attention_backward_grad_numel(arch: Architecture, training: Training, layer_params: int) -> int:
    """Parameters whose gradients are live at the last block's score backward in full fine-tuning: the head (the
    tied embedding matrix when tied) and the final norm, and that block's parameters except its q, k and v
    projections (module docstring). None under LoRA / QLoRA (frozen base; the adapters' gradients are small)."""
    if training.method in ("lora", "qlora"):
        return 0
    qkv = arch.d_model * (arch.n_heads + 2 * arch.kv_heads) * arch.head_size
    return arch.vocab_size * arch.d_model + arch.d_model + max(layer_params - qkv, 0)
