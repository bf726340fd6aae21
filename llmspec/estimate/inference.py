"""Inference memory per GPU: weights (+ quantisation scales), KV cache, prefill activations and logits.

KV cache: 2 (K and V) x n_layers x kv_heads x head_dim x tokens x batch x bytes (Pope et al. 2022,
"Efficiently Scaling Transformer Inference", section 2), allocated for the whole sequence (vLLM's paged blocks and
HF's static cache reserve it; a dynamic cache reaches it at the last generated token). Tensor parallelism splits
KV heads (replicated when the degree exceeds them) and weights.

Three lengths (``lengths``): the KV length (inference.seq_len; else sampling.max_prompt_tokens +
max_new_tokens; else context_length), the prompt that prefill runs on (sampling.max_prompt_tokens; else the KV
length minus max_new_tokens when [sampling] is given; else the whole KV length), and the generated tokens.

Prefill, no grad: activations are transient. Measured on transformers 5.23 (sdpa, 16-bit), the live peak
per token inside a block is max(6*ffn + 8.5*h, 16.25*h) bytes (gate/up/act/product of the MLP, or q/k/v and
the attention output, plus the residual), doubled under fp32; at the end of the forward pass the logits
(compute dtype x vocab per token kept) are live with the final hidden state. Generation keeps the last position's
logits only: HF ``generate`` passes ``logits_to_keep=1`` to prefill (transformers generation/utils.py) and vLLM
samples from the last position; every backend is estimated so. Loglikelihood scoring (lm-eval's
``loglikelihood`` requests, a plain forward) needs every position's logits: that extra is stated in the
assumptions, not added.
"""

from __future__ import annotations

from llmspec.estimate import activations as A
from llmspec.estimate import engine as E
from llmspec.estimate import gptq
from llmspec.estimate import precision as P
from llmspec.estimate.hfversion import attention_version_notes, kv_cache_heads, kv_cache_notes
from llmspec.estimate.mask import kv_tokens, prefill_mask
from llmspec.estimate.params import count_params
from llmspec.estimate.result import OVERHEAD_NOTE, MemoryEstimate, accelerator_note, capacity, overhead_parts
from llmspec.estimate.shapes import layout
from llmspec.estimate.split_heads import rotary_moment_bytes, split_heads_bytes
from llmspec.spec.models import Hardware, Inference, Spec, Training


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
    heads = kv_cache_heads(arch, spec.model.family, inf.backend)  # HF Falcon (new architecture): n_heads
    return 2 * arch.n_layers * heads * arch.head_size * P.DTYPE_BYTES[kv_prec]


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


def lengths(spec: Spec) -> tuple[int, int]:
    """(prompt tokens prefilled, KV-cache tokens) per sequence (module docstring).

    A dynamic or paged cache holds the prompt and the generated tokens only: when [sampling] gives both, the KV
    length is min(inference.seq_len, prompt + max_new_tokens). HF generate stops at max_new_tokens
    (transformers==5.24.0:src/transformers/generation/stopping_criteria.py:MaxLengthCriteria, max_length = prompt +
    max_new_tokens) and DynamicCache grows per token; vLLM allocates blocks as tokens arrive and max_model_len
    (inference.seq_len) only bounds them. A static cache (llama.cpp n_ctx, HF StaticCache) preallocates seq_len, or
    inference.kv_cache_tokens when the engine sizes it otherwise (AutoAWQ: the context length)."""
    inf, smp = spec.inference or Inference(), spec.sampling
    new = smp.max_new_tokens if smp is not None else 0
    prompt_cap = inf.prompt_tokens or (smp.max_prompt_tokens if smp is not None else None)
    kv = inf.seq_len or (prompt_cap + new if prompt_cap else spec.arch.context_length)
    if prompt_cap:
        prompt = min(prompt_cap, kv)
        if smp is not None and inf.kv_allocation != "static":
            kv = min(kv, prompt + new)
    else:
        prompt = max(1, kv - new) if new < kv else kv
    if inf.kv_allocation == "static" and inf.kv_cache_tokens is not None:
        # the engine preallocates its own length whatever the run holds (inference.kv_cache_tokens); the prompt
        # stays what the run prefills (a ring buffer such as AutoAWQ's WindowedCache keeps the last tokens beyond it)
        kv = spec.arch.context_length if inf.kv_cache_tokens == "context_length" else inf.kv_cache_tokens
        prompt = min(prompt, kv)
    return prompt, kv


def moe_peak(arch) -> float:
    """Peak bytes per prompt token inside an MoE block (16-bit), the larger of its two stages, each beside the
    block's residual and norm buffers (8.5 x d_model, as in a dense block). transformers==5.24.0:
    src/transformers/integrations/moe.py:grouped_mm_experts_forward keeps every intermediate it names as a local
    until it returns, so the hidden state gathered per visited expert (``selected_hidden_states_g``, 2 x k x d_model
    for k = experts_per_token) is live in both:
    * up: the fused gate_up output of every visited expert stays whole until the product (its gate and up halves
      are views: 4 x routed width), with the activation and the product (2 + 2 x routed width): 8 x routed width;
    * down: the down projection's output (2 x k x d_model), its product with the routing weights and that product
      put back in token order (``weighted_out[inv_perm]``, while the unordered one is still referenced): 3 x 2 x k
      x d_model, so 8 x k x d_model with the gathered input. It is the larger stage for many small experts
      (Qwen3-MoE: k = 8, expert width 768, d_model 2048; it was missed, -5.1% on a 4 x 1536 prefill).
    A shared expert (Qwen2-MoE) runs first and its output stays live through both stages (2 x d_model;
    models/qwen2_moe/modeling_qwen2_moe.py:Qwen2MoeSparseMoeBlock.forward, ``shared_expert_output`` is computed
    before ``self.experts``); the routed width is k x expert width, without the shared expert's (its own MLP moment,
    6 x its width, is over before the routed experts start).
    Measured on Mixtral, Qwen2-MoE and Qwen3-MoE prefills under FakeTensorMode (tests/estimate/test_moe_prefill.py)."""
    from llmspec.estimate.params import layer_split

    if arch.moe is None or not layer_split(arch)[1]:
        return 0.0
    m = arch.moe
    k, h = m.experts_per_token, arch.d_model
    routed = (m.expert_ffn_dim or arch.ffn_dim) * k
    shared = 2 * h if m.shared_experts else 0
    up = 8 * routed + 2 * k * h + shared
    down = 8 * k * h + shared
    return max(up, down) + 8.5 * h


def window_mask_bytes(spec: Spec, prompt: int, padded_mask: float) -> float:
    """The unused sliding-window bool mask of a class with the registry's window_mask_built: (1, 1, prompt, prompt)
    bytes, live through the prefill; 0 where llmspec.estimate.mask counts a dense mask already (``padded_mask``)
    or the engine builds none (not the hf backend, or attention = "flash")."""
    from llmspec.spec.families import family as registry_family

    inf = spec.inference or Inference()
    fam = registry_family(spec.model.family)
    if fam is None or not fam.window_mask_built or padded_mask or inf.backend != "hf" or inf.attention == "flash":
        return 0.0
    return float(prompt * prompt)


def eager_attention(spec: Spec) -> bool:
    """The prefill runs the class's own eager attention: inference.attention = "eager" (what --measure builds), or a
    family whose class has no sdpa path (the registry's sdpa flag: Gemma 2)."""
    inf = spec.inference or Inference()
    return inf.attention == "eager" or A.eager_attention(Training(), spec.model.family)


def eager_score_bytes(family: str | None, c: float) -> float:
    """Bytes per element of one block's (batch, n_heads, q, k) scores live at the peak of the class's eager
    attention, with c-byte compute (the registry's eager_softmax, llmspec.spec.family_types.Family):

    * "fp32" (transformers==5.24.0:src/transformers/models/llama/modeling_llama.py:eager_attention_forward, copied
      by Mistral, Qwen2/3, Gemma, Gemma 2, Phi-3, GPT-NeoX, OPT, OLMo): ``softmax(w, dim=-1, dtype=torch.float32)``
      while w (c) is still referenced; torch's softmax casts its input to fp32 first when the dtypes differ
      (torch==2.13.0:aten/src/ATen/native/SoftMax.cpp:softmax, ``input_.toType(dtype)``; only fp16 on CUDA skips the
      copy) and writes an fp32 result: c + 4 + 4 = 10 B in 16-bit compute, 4 + 4 under fp32. The ``.to(query.dtype)``
      that follows (c + 4 + c) and Gemma 2's soft-capping (two tensors at a time) are smaller.
    * "compute" (models/gpt2/modeling_gpt2.py:eager_attention_forward): the scores and their scaled copy, then
      softmax's input and output, all in the compute dtype: 2c.
    * "compute+mask" (models/falcon/modeling_falcon.py:FalconAttention.forward): ``F.softmax(scores +
      attention_mask)``: the scores, their masked copy and the result: 3c.
    Plus the earlier blocks' probabilities still referenced (the registry's eager_probs_kept - 1: Falcon's model
    loop holds the previous block's outputs): c each.
    Measured on LlamaForCausalLM, Qwen2ForCausalLM, Gemma2ForCausalLM and GPT2LMHeadModel prefills under
    FakeTensorMode (tests/estimate/test_eager_prefill.py)."""
    from llmspec.spec.families import family as registry_family

    fam = registry_family(family)
    kind = fam.eager_softmax if fam is not None else "fp32"
    earlier = (fam.eager_probs_kept - 1) * c if fam is not None else 0
    if kind == "compute":
        return 2 * c + earlier
    if kind == "compute+mask":
        return 3 * c + earlier
    return c + (4 if c < 4 else 0) + 4 + earlier


def eager_kept(spec: Spec, prompt: int) -> float:
    """Bytes per prompt token (16-bit units) that eager attention leaves live beside the rest of its block: the
    probabilities it returns, in the compute dtype (2 x n_heads x s), which the decoder layer keeps in ``_`` until it
    returns (transformers==5.24.0:src/transformers/models/llama/modeling_llama.py:LlamaDecoderLayer.forward,
    ``hidden_states, _ = self.self_attn(...)``; GPT2Block.forward ``attn_output, _ = self.attn(...)``), so through
    the MLP; and the eager float masks (2 x s each, built once per forward). 0 without eager attention."""
    from llmspec.spec.families import family as registry_family

    if not eager_attention(spec):
        return 0.0
    arch, fam = spec.arch, registry_family(spec.model.family)
    kinds = 1 + (0 < arch.window_layers < arch.n_layers)
    blocks = fam.eager_probs_kept if fam is not None else 1  # Falcon: the previous block's too
    return 2 * blocks * arch.n_heads * prompt + 2 * kinds * prompt


def fused_qkv(family: str | None) -> bool:
    """The class computes q, k and v with one fused projection: a module of the registry's ``qkv`` role
    (GPTNeoXAttention.query_key_value, Phi3Attention.qkv_proj, GPT2Attention.c_attn, FalconAttention.query_key_value)."""
    from llmspec.spec.families import family as registry_family

    fam = registry_family(family)
    return fam is not None and any("qkv" in roles for roles in fam.modules.values())


def query_live(spec: Spec) -> float:
    """Bytes per prompt token (16-bit units) of the projections still referenced while a block's eager scores are
    live. Separate projections: the query only (2 x q width; the cache holds concatenated copies of k and v,
    transformers==5.24.0:src/transformers/cache_utils.py:DynamicLayer.update, ``torch.cat``, so the projections'
    own k and v are dropped when update rebinds them). A fused projection (fused_qkv) stays whole, 2 x (q width +
    2 x kv width), for as long as any slice of it is referenced: the attention forward keeps it as a local
    (models/gpt_neox/modeling_gpt_neox.py:GPTNeoXAttention.forward ``qkv``, phi3/modeling_phi3.py:Phi3Attention
    .forward ``qkv``, falcon/modeling_falcon.py:FalconAttention.forward ``fused_qkv``) or the query is a view of it
    (gpt2/modeling_gpt2.py:GPT2Attention.forward, ``self.c_attn(hidden_states).split``); with rotary positions the
    rotated query is a new tensor beside it (+ 2 x q width), without them the query is the view. Measured on
    GPTNeoXForCausalLM, Phi3ForCausalLM and GPT2LMHeadModel eager prefills under FakeTensorMode
    (tests/estimate/test_eager_prefill.py)."""
    arch = spec.arch
    qw, kvw = arch.n_heads * arch.head_size, arch.kv_heads * arch.head_size
    if not fused_qkv(spec.model.family):
        return 2 * qw
    return 2 * (qw + 2 * kvw) + (2 * qw if arch.position == "rope" else 0)


def attention_peak(spec: Spec, prompt: int, c: float = 2) -> float:
    """Peak bytes per prompt token inside attention when no fused sdpa kernel runs, in 16-bit units (the caller
    scales by c / 2 for c-byte compute); 0 otherwise.

    * Eager attention (eager_attention: inference.attention = "eager", or a class with no sdpa path): one block's
      scores at eager_score_bytes per element (n_heads x s per token), the eager masks (transformers==5.24.0:
      src/transformers/masking_utils.py:eager_mask, a (batch, 1, s, s) float mask of the embeddings' dtype for each
      kind of attention, full and sliding window: 2 x s per token each, built once and live through the forward),
      the projections still referenced (query_live: q, or a fused qkv output), K and V repeated (not in Falcon's own path) to n_heads when grouped (repeat_kv: 4 x n_heads x head_dim) and
      the block's hidden states (6 x d_model). No grad: one block's temporaries at a time.
    * sdpa's math kernel (activations.math_attention, Falcon with one K/V head): fp32 scores + mask and fp32
      probabilities (8 x n_heads x s), the bf16 and bool masks (3 x s), q rotated, in fp32 and scaled
      (2 + 8 x q width), k and v in fp32 (8 x kv width), the fp32 rotary cos and sin (8 x head_dim), the qkv output
      (2 x (q width + 2 x kv width)) and the hidden states (6 x d_model).
    Measured on Llama, Qwen2, Gemma 2 and GPT-2 (eager) and Falcon (math kernel) prefills under FakeTensorMode."""
    from llmspec.spec.families import family as registry_family

    arch, fam = spec.arch, spec.model.family
    H, hd, h, s = arch.n_heads, arch.head_size, arch.d_model, prompt
    qw, kvw = H * hd, arch.kv_heads * hd
    if eager_attention(spec):
        kinds = 1 + (0 < arch.window_layers < arch.n_layers)
        scores = eager_score_bytes(fam, c) * 2 / c
        # repeat_kv copies grouped K and V to n_heads in the Llama-style eager_attention_forward; Falcon's own path
        # (eager_softmax "compute+mask") with one K/V head (multi_query) keeps views of fused_qkv and broadcasts
        # the head in the matmul (modeling_falcon.py:FalconAttention._split_heads and .forward, ``query_layer @
        # key_layer.transpose(-1, -2)``): no copy. Its new decoder architecture (several K/V heads) expands them
        # (_split_heads, broadcast_to + flatten) before the cache update: the cache then holds them, counted in
        # kv_bytes_per_token (kv_cache_heads), not here; on a release where that fact is not assumed, as the repeat
        registry = registry_family(fam)
        own_mqa = arch.kv_heads == 1 and registry is not None and registry.eager_softmax == "compute+mask"
        expanded = kv_cache_heads(arch, fam, (spec.inference or Inference()).backend) == H
        repeats = arch.kv_heads < H and not own_mqa and not expanded
        return scores * H * s + query_live(spec) + (4 * qw if repeats else 0) + 2 * kinds * s + 6 * h
    if A.math_attention(arch, fam):
        return 8 * H * s + 3 * s + 10 * qw + 8 * kvw + 8 * hd + 2 * (qw + 2 * kvw) + 6 * h
    return 0.0


def position_embeds_bytes(spec: Spec, batch: int, prompt: int, c: float) -> float:
    """The learned position embeddings the class keeps through a whole prefill (registry position_embeds_kept:
    OPT batch x prompt x d_model, GPT-2 1 x prompt x d_model), in the c-byte compute dtype; 0 for other classes."""
    from llmspec.spec.families import family as registry_family

    fam = registry_family(spec.model.family)
    kept = fam.position_embeds_kept if fam is not None else ""
    rows = batch if kept == "batch" else 1 if kept == "sequence" else 0
    return c * rows * prompt * spec.arch.d_model


def whole_embeddings(spec: Spec, tp: int) -> bool:
    """Whether the token embedding and the output head stay whole on the GPU the estimate is for while the blocks are
    split ``tp`` ways: inference.shard_embeddings = false (LitGPT's tp.py replicates them on every rank and
    sequentially.py keeps them on the root GPU: llmspec/data/engines.toml)."""
    inf = spec.inference or Inference()
    return tp > 1 and inf.shard_embeddings is False


def embedding_bytes(spec: Spec) -> float:
    """Bytes of the token embedding and (untied) output head at the inference precision: 16-bit when the block
    linears are quantised, fp32 under fp32 (weight_bytes)."""
    inf = spec.inference or Inference()
    arch = spec.arch
    n = arch.vocab_size * arch.d_model * (1 if arch.tie_embeddings else 2)
    return n * (4 if inf.precision == "fp32" else 2)


def inference_memory(spec: Spec) -> MemoryEstimate:
    from llmspec.estimate.stack import served_spec

    spec = served_spec(spec)  # the head as the engine builds it (inference.tie_embeddings; LitGPT: untied)
    inf = spec.inference or Inference()
    arch = spec.arch
    tp = inference_tp(spec)
    p, s = lengths(spec)
    b = inf.batch_size
    notes: list[str] = []
    weights, scales = weight_bytes(spec)
    whole = whole_embeddings(spec, tp)
    head_tp = 1 if whole else tp  # the head (and its logits) split like the blocks, or whole on this GPU
    kv_split = min(tp, arch.kv_heads)
    kv = kv_bytes_per_token(spec) * kv_tokens(spec, p, s) * b / kv_split  # windowed blocks: llmspec.estimate.mask
    c = 4 if inf.precision == "fp32" else 2
    pp = (spec.hardware or Hardware()).pipeline_parallel
    if inf.backend == "litgpt" and pp > 1 and inf.kv_cache_precision is None and c == 2:
        # litgpt==0.5.13:litgpt/generate/sequentially.py:sequential builds each block's KV cache with no dtype and
        # outside fabric.init_tensor (torch's default, fp32); model.py:KVCache.forward converts a block's buffers to
        # the activation dtype at its first forward: the first block's prefill holds every block's fp32 cache and its
        # own 16-bit copy
        kv = kv * 4 / c + kv / max(1, arch.n_layers // pp)
        notes.append("KV cache allocated in fp32 (LitGPT sequentially.py), converted block by block at the first "
                     "forward: every block's fp32 cache and one 16-bit copy at the prefill")
    h, f = arch.d_model, max(width for _, width in A.block_kinds(arch))  # widest MLP (dense layers of MoE)
    kept = eager_kept(spec, p)  # eager: the block's probabilities and the masks, live through its MLP
    layer_peak = max(6 * f + 8.5 * h + kept, 16.25 * h, attention_peak(spec, p, c),
                     moe_peak(arch) + kept if moe_peak(arch) else 0.0) * c / 2 / tp
    logits_tokens = p if inf.logits == "all" else 1  # the engine's preset (generation engines: the last position)
    end_peak = c * arch.vocab_size * logits_tokens / head_tp + c * h * p / tp  # logits + the final hidden states
    fa, fb = A.family_fit(spec.model.family, "prefill")  # the real class's own buffers (family registry)
    # the fit was measured where the block's MLP or the logits set the peak (sdpa), so it applies there only: an
    # eager block's score moment has every tensor counted (attention_peak), and gained the fit's negative residual
    # (GPT-NeoX -2.4 x ffn: -5.1% on a 3 x 1536 eager prefill of Pythia-1.4B's widths)
    fit = (fa * h + fb * f) * c / 2 * p / tp
    attention = attention_peak(spec, p, c) * c / 2 / tp * p
    mlp_moment = max(6 * f + 8.5 * h + kept, 16.25 * h, moe_peak(arch) + kept if moe_peak(arch) else 0.0) * c / 2 / tp
    acts = b * max(max(mlp_moment * p, end_peak) + fit, attention) + position_embeds_bytes(spec, b, p, c) / tp
    # padded prompts / sliding windows (llmspec.estimate.mask): the bool mask lives through the prefill; the additive
    # copy only inside attention, where 16.25 x d_model per token is live instead of the block's peak
    bool_mask, additive, mask_notes = prefill_mask(spec, p, b, c)
    # HF Falcon's new decoder architecture: q, k, v expanded and the key's rotary embedding (llmspec.estimate.split_heads)
    acts = max(acts, split_heads_bytes(spec, b, p, c, tp, kv, mask=not bool_mask),
               rotary_moment_bytes(spec, b, p, c, tp, kv)) + window_mask_bytes(spec, p, bool_mask)
    acts += bool_mask + max(0.0, additive - b * p * (layer_peak - 16.25 * h * c / 2 / tp))
    notes += mask_notes
    if inf.precision in ("int8", "int4"):
        notes.append(f"{inf.precision}: weight-only quantisation of block linears; embeddings and head 16-bit")
    if tp > 1:
        notes.append(f"tensor parallel {tp}: weights and activations split {tp} ways, KV heads {kv_split} ways")
    if s > arch.context_length:
        notes.append(f"seq_len {s} exceeds the context length {arch.context_length}")
    new = s - p
    notes.append(f"prefill of {b} x {p} prompt tokens, KV cache of {s} tokens for each sequence"
                 + (f" ({new} generated)" if new > 0 else "")
                 + ("; logits for every prompt position" if logits_tokens > 1 else "; logits for the last position only (generation)"))
    if inf.seq_len and s < inf.seq_len:
        notes.append(f"inference.seq_len {inf.seq_len} bounds the cache, but a {inf.kv_allocation} cache holds only "
                     f"the prompt and max_new_tokens ({p} + {new} = {s})")
    if inf.kv_allocation != "static" and "kv_cache_tokens" in inf.model_fields_set:
        notes.append(f"inference.kv_cache_tokens does not apply to a {inf.kv_allocation} KV cache (ignored)")
    if inf.mask_buffer == "dense" and inf.kv_allocation != "static":
        notes.append(f"inference.mask_buffer = dense does not apply to a {inf.kv_allocation} KV cache (ignored)")
    if inf.kv_cache_precision:
        notes.append(f"KV cache in {inf.kv_cache_precision} (inference.kv_cache_precision): "
                     f"{P.DTYPE_BYTES[inf.kv_cache_precision]:g} B per element" + _kv_scale_note(spec))
    if logits_tokens == 1:
        all_logits = b * c * arch.vocab_size * (p - 1) / tp
        notes.append(f"loglikelihood scoring (lm-eval, every position's logits) would add {all_logits / 2**30:.2f} GiB")
    if inf.backend == "torchao-generate":
        decode, kv_scales, torchao_notes = torchao_decode(spec, s, b, c, tp)
        acts, kv = max(acts, decode), kv + kv_scales
        notes += torchao_notes
    if inf.precision == "int4" and inf.quant_format == "int4-groups":  # cuda-old's dequantised weight (gptq.py)
        acts += gptq.prefill_transient(arch, inf.quant_kernel, b * p, tp)
    growth, growth_notes = cache_growth(spec, kv, p, s)
    notes += growth_notes
    phase = "decode" if growth > acts else "prefill"
    breakdown = {"weights": weights / tp, "quant_scales": scales / tp, "kv_cache": kv,
                 "prefill_activations": acts if phase == "prefill" else 0.0, "kv_growth_copy": growth if
                 phase == "decode" else 0.0}
    if inf.mask_buffer == "dense" and inf.kv_allocation == "static" and inf.backend == "litgpt":
        # LitGPT's mask cache is that buffer, counted once as mask_cache (llmspec.estimate.engine._litgpt_caches)
        notes.append("inference.mask_buffer = dense is LitGPT's own mask cache, counted once (mask_cache)")
    elif inf.mask_buffer == "dense" and inf.kv_allocation == "static":
        # torchao generate.py / gpt-fast: Transformer.setup_caches keeps torch.tril(torch.ones(L, L, dtype=torch.bool))
        # for the cache length L rounded up to a multiple of 8 (find_multiple), on every GPU
        cache_len = -(-s // 8) * 8
        breakdown["mask_buffer"] = float(cache_len * cache_len)
        notes.append(f"dense causal mask of the static cache, {cache_len:,} x {cache_len:,} bool "
                     f"({cache_len * cache_len / 2**30:.2f} GiB), kept for the run (inference.mask_buffer)")
    if whole:  # the embedding and head counted whole, not a tp-th
        breakdown["weights"] += embedding_bytes(spec) * (1 - 1 / tp)
        notes.append(f"embedding{' and head' if not arch.tie_embeddings else ''} whole on this GPU, not split {tp} "
                     "ways (inference.shard_embeddings = false: LitGPT tp.py replicates them, sequentially.py keeps "
                     "them on the root GPU)")
    if spec.inference is not None and spec.inference.tie_embeddings is False and "tie_embeddings" not in \
            spec.inference.model_fields_set:
        notes.append(f"output head untied from the embedding ({inf.backend} builds its own lm_head): "
                     f"{arch.vocab_size * arch.d_model:,} parameters more than a tied checkpoint")
    cap, acc, cap_notes = capacity(spec)
    # serving engine (llmspec.estimate.engine; issue 12): int4 groups, eager scores, paged pools and their share
    engine_notes, cap, concurrency = E.apply(spec, inf, breakdown, capacity=cap, layer_peak=layer_peak, prompt=p,
                                             kv_len=s, kv_per_token=kv_bytes_per_token(spec) / kv_split, tp=tp,
                                             accelerator=acc, head_tp=head_tp)
    notes += engine_notes
    if breakdown.get("awq_fusion_copy"):  # AutoAWQ's load moment (engine._awq_fusion_copy)
        phase = "load"
    rounded = {k: int(round(v)) for k, v in breakdown.items() if v}
    per_gpu = sum(rounded.values())
    notes += attention_version_notes(arch, spec.model.family)  # version-dependent registry facts
    notes += kv_cache_notes(arch, spec.model.family, inf.backend)
    notes.append(OVERHEAD_NOTE + ("; a paged pool is allocated once, whole: no fragmentation on it" if concurrency else ""))
    # a paged pool is one allocation per layer, made once (vLLM GPUModelRunner.initialize_kv_cache): the 8%
    # fragmentation applies to the other parts only (engine.apply sizes the pool the same way)
    fragmenting = per_gpu - (rounded.get("kv_cache", 0) if concurrency else 0)
    return MemoryEstimate(
        mode="inference",
        per_gpu_bytes=per_gpu,
        overhead_bytes=sum(overhead_parts(fragmenting, tp).values()),
        overhead_parts=overhead_parts(fragmenting, tp),
        concurrency=concurrency,
        capacity_bytes=cap,
        breakdown=rounded,
        peak_phase=phase,
        phases={phase: per_gpu},
        assumptions=notes + cap_notes,
        accelerator=acc,
        accelerator_note=accelerator_note(spec),
    )


def cache_growth(spec: Spec, kv: float, prompt: int, kv_len: int) -> tuple[float, list[str]]:
    """A dynamic cache's transient at the last decode step, beside the whole cache (``kv``, per GPU, at ``kv_len``
    tokens): (bytes, notes); 0 for static and paged caches, and without a decode step. generate takes the first new
    token from the prefill's logits and never feeds the last one back, so N new tokens run N - 1 decode forwards
    (none for N = 1) and the last grows the cache from kv_len - 2 to kv_len - 1 tokens: the old tensors hold
    (kv_len - 2) / kv_len of the cache's bytes as counted here.

    * layer (inference.kv_cache_growth; the hf engine's default): transformers==5.24.0:src/transformers/cache_utils.py:
      DynamicLayer.update rebinds ``self.keys = torch.cat([self.keys, key_states], dim=-2)``, then the values: the
      layer's old K (or V) is live beside its grown copy, one of 2 x n_layers equal tensors:
      kv / (2 n_layers) x (kv_len - 2) / kv_len. Measured on LlamaForCausalLM decode steps under FakeTensorMode
      (tests/estimate/test_cache_growth.py).
    * whole: the legacy tuple cache (transformers==4.35.0:src/transformers/models/llama/modeling_llama.py:
      LlamaAttention.forward ``key_states = torch.cat([past_key_value[0], key_states], dim=2)``, returned as the
      layer's new ``past_key_value``; LlamaModel.forward collects them in ``next_decoder_cache``;
      generation/utils.py:GenerationMixin.greedy_search keeps the previous step's tuple in ``model_kwargs`` and
      ``model_inputs`` until ``_update_model_kwargs_for_generation`` after the forward): at the end of the last step's
      forward every layer's old cache is live beside the new one: kv x (kv_len - 2) / kv_len.
    The decode step's own activations (one token per sequence) are not counted. Not modelled: the reserved pool's
    fragmentation as caches grow (each step frees blocks one token shorter than the next request; the caching
    allocator's reuse depends on the order of frees, which the estimate does not trace)."""
    inf = spec.inference or Inference()
    if inf.kv_allocation != "dynamic":
        ignored = "kv_cache_growth" in inf.model_fields_set
        return 0.0, [f"inference.kv_cache_growth does not apply to a {inf.kv_allocation} KV cache (ignored)"] \
            if ignored else []
    if kv_len - prompt < 2 or not kv:
        return 0.0, []
    shrink = (kv_len - 2) / kv_len
    if (inf.kv_cache_growth or "layer") == "whole":
        return kv * shrink, [f"dynamic cache grown by torch.cat as a legacy tuple (inference.kv_cache_growth = "
                             f"whole): the last decode step holds the old and the new cache of every layer, "
                             f"{kv * shrink / 2**30:.2f} GiB beside the cache"]
    copy = kv / (2 * spec.arch.n_layers) * shrink
    return copy, [f"dynamic cache grown by torch.cat per layer (inference.kv_cache_growth = layer): one layer's old K "
                  f"or V ({copy / 2**30:.3f} GiB) beside its grown copy at the last decode step"]


def torchao_decode(spec: Spec, kv_len: int, batch: int, c: int, tp: int) -> tuple[float, float, list[str]]:
    """torchao generate.py (the torchao-generate engine): (a decode step's transient in one layer, the int8 KV cache's
    scales, notes). pytorch/ao@1f66d473:torchao/_models/llama/model.py:Attention.forward expands the whole cache
    returned by kv_cache.update to n_head heads (``k.repeat_interleave(n_head // n_local_heads, dim=1)``, then v): two
    (batch, n_head, cache, head_dim) copies in the compute dtype. With --kv_cache_quantization,
    AffineQuantizedKVCache.update first returns a dequantised copy of the layer's whole cache (``k_out = self.k_cache
    * self.k_cache_scale``, the scale's dtype, 16-bit), and v_out is still live while v is expanded: n_kv_heads more;
    its scales are (batch, n_heads, cache, 1) in that dtype for K and V, kept with the cache."""
    inf = spec.inference or Inference()
    arch = spec.arch
    quantised = inf.kv_cache_precision == "int8"
    units = 2 * arch.n_heads + (arch.kv_heads if quantised else 0)
    per_unit = batch * kv_len * arch.head_size * c / tp
    scales = 2 * arch.n_layers * arch.kv_heads * kv_len * batch * c / min(tp, arch.kv_heads) if quantised else 0.0
    notes = [f"torchao generate.py decode: the layer's whole {kv_len:,}-token cache expanded to {arch.n_heads} heads "
             f"for K and V{' after dequantising it (int8 KV cache)' if quantised else ''}: "
             f"{units * per_unit / 2**30:.2f} GiB transient (the peak when larger than the prefill's)"]
    if quantised:
        notes.append(f"int8 KV cache scales, one 16-bit value per token and head for K and V: {scales / 2**30:.2f} GiB")
    return units * per_unit, scales, notes


def _kv_scale_note(spec: Spec) -> str:
    """fp8/int8 KV-cache scales, left out of the estimate because they are negligible: vllm==0.10.2 keeps
    per-tensor scales only, four fp32 scalars per attention layer (vllm/attention/layer.py:Attention.__init__:
    _q_scale, _k_scale, _v_scale, _prob_scale; vllm/model_executor/layers/quantization/kv_cache.py:
    BaseKVCacheMethod.process_weights_after_loading raises "Only support per-tensor scaling factor for fp8 KV
    cache"): 16 B x n_layers, 1.3 KB for an 80-layer model."""
    inf = spec.inference or Inference()
    if inf.kv_cache_precision not in ("fp8", "int8"):
        return ""
    return (f"; its scales (vLLM: per-tensor, 4 fp32 scalars per layer, {16 * spec.arch.n_layers:,} B) are "
            "negligible and not counted")
