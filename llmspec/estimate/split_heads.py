"""Prefill moments inside attention before the KV-cache update (rotary_moment_bytes: the Llama-style one, below).

The prefill moment of HF Falcon's new decoder architecture before sdpa: the K/V heads expanded to every query head
and the rotary embedding of the expanded key (issue 9; a residual of -12.6% at ffn = 2 x d_model, where this moment,
not the MLP's, sets the peak).

transformers==5.24.0:src/transformers/models/falcon/modeling_falcon.py:

* ``FalconAttention._split_heads`` (new_decoder_architecture): q is a strided slice of the fused qkv output and k and v
  are ``broadcast_to`` the query's shape; ``flatten(2, 3)`` of each copies it, so q, k and v are three new
  n_heads x head_dim tensors (3 x 2 x q width per token). ``FalconAttention.forward``'s
  ``transpose(1, 2).reshape(...)`` to the same shape is a view, and ``fused_qkv`` stays referenced through the
  attention (2 x (q width + 2 x kv width)).
* ``apply_rotary_pos_emb`` (``q * cos + rotate_half(q) * sin``, ``rotate_half`` a ``torch.cat``): while the key is
  rotated the rotated query, ``k * cos``, ``rotate_half(k)`` and ``rotate_half(k) * sin`` are live (4 x 2 x q width);
  the un-rotated q is still bound in the caller. The layer's K/V are not yet in the cache
  (``layer_past.update`` comes after, and concatenates copies: cache_utils.py:DynamicLayer.update), so the cache holds
  the earlier blocks only: one block's K/V less than the full cache the estimate counts.
* ``FalconDecoderLayer.forward`` computes ``ln_attn`` and ``ln_mlp`` before attention (two norm outputs), beside the
  block input and the embeddings ``FalconModel.forward`` keeps (``inputs_embeds``): 2 x d_model each.
* ``FalconModel.forward`` builds its mask with ``allow_is_causal_skip=False``: a (1, 1, s, s) bool mask
  (masking_utils.py:sdpa_mask) live through the forward, and ``self.rotary_emb`` returns cos and sin in the compute
  dtype, (1, s, head_dim) each.

Measured on FalconForCausalLM (Falcon-40B's layout at d_model 512, 4 heads, 2 K/V heads) under FakeTensorMode:
tests/estimate/test_falcon_split_heads.py.
"""

from __future__ import annotations

from llmspec.spec.models import Spec


def expands_kv(spec: Spec) -> bool:
    """Falcon's new decoder architecture on a release whose cache holds K/V expanded to every query head
    (hfversion.kv_cache_heads, the registry's kv_cache_expanded): the same ``_split_heads`` copies q, k and v."""
    from llmspec.estimate.hfversion import kv_cache_heads
    from llmspec.spec.models import Inference

    arch = spec.arch
    backend = (spec.inference or Inference()).backend
    return arch.kv_heads < arch.n_heads and kv_cache_heads(arch, spec.model.family, backend) == arch.n_heads


def _not_yet_cached(spec: Spec, kv: float) -> float:
    """One block's share of the KV cache, not yet written at this moment with a dynamic cache (DynamicLayer.update
    concatenates); a static cache (StaticCache, kv_allocation = "static") holds every slot from the start: 0."""
    from llmspec.spec.models import Inference

    if (spec.inference or Inference()).kv_allocation == "static":
        return 0.0
    return kv / max(1, spec.arch.n_layers)


def split_heads_bytes(spec: Spec, batch: int, prompt: int, c: float, tp: int, kv: float, mask: bool = True) -> float:
    """Bytes live at the rotary moment of the last block (module docstring), for ``batch`` x ``prompt`` tokens in the
    c-byte compute dtype over ``tp`` ranks, with ``kv`` the full KV cache's bytes (the estimate's kv_cache part, which
    this moment's caller adds back); ``mask``: count the bool mask (False where llmspec.estimate.mask counts one
    already). 0 where the class does not expand K/V."""
    if not expands_kv(spec):
        return 0.0
    arch = spec.arch
    h, hd = arch.d_model, arch.head_size
    qw, kvw = arch.n_heads * hd, arch.kv_heads * hd
    hidden = 2 * h * (2 + (2 if arch.parallel_attention and arch.norms_per_layer == 2 else 1))
    copies = 3 * 2 * qw + 2 * (qw + 2 * kvw)  # q, k, v expanded + fused_qkv
    rotary = 4 * 2 * qw if arch.position == "rope" else 0
    per_token = (hidden + (copies + rotary) / tp) * c / 2
    per_sequence = (2 * hd * c if arch.position == "rope" else 0) + (prompt if mask else 0)  # cos, sin; mask row
    return batch * prompt * per_token + prompt * per_sequence - _not_yet_cached(spec, kv)


def rotary_moment_bytes(spec: Spec, batch: int, prompt: int, c: float, tp: int, kv: float) -> float:
    """The same moment in a Llama-style attention with separate q, k and v projections and rotary positions
    (transformers==5.24.0:src/transformers/models/llama/modeling_llama.py:LlamaAttention.forward and
    apply_rotary_pos_emb; Gemma, Mistral, Mixtral and Qwen2 copy it): while the key is rotated the projections' q, k
    and v (views after ``transpose``: 2 x q width + 4 x kv width per token), the rotated query (2 x q width),
    ``k * cos``, ``rotate_half(k)`` and its product with sin (3 x 2 x kv width) are live beside the block's hidden
    states (6 x d_model, as attention_peak), and the block's K/V are not yet in the cache. It sets a prefill's peak
    when the heads are wide against the MLP (Gemma-7B's 16 x 256 query width at d_model 3072). Not for fused qkv
    (the Falcon case above), for q/k norms, without rotary positions, or for an engine other than hf: 0 there."""
    from llmspec.estimate.inference import fused_qkv
    from llmspec.spec.models import Inference

    arch = spec.arch
    if (spec.inference or Inference()).backend != "hf":  # other engines run their own attention and rotary kernels
        return 0.0
    if arch.position != "rope" or fused_qkv(spec.model.family) or arch.qk_norm or expands_kv(spec):
        return 0.0
    h, hd = arch.d_model, arch.head_size
    qw, kvw = arch.n_heads * hd, arch.kv_heads * hd
    per_token = (6 * h + (4 * qw + 10 * kvw) / tp) * c / 2
    return batch * prompt * per_token + prompt * 2 * hd * c - _not_yet_cached(spec, kv)
