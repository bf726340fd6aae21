"""What the serving engine does to inference memory (issue 12). Called once from inference_memory.

Engines and their defaults are data (llmspec/data/engines.toml, llmspec.spec.stacks.engine); unset [inference]
knobs were filled from there. Per engine:

* hf (transformers generate): a dynamic KV cache for the tokens held (seq_len per sequence), prefill of the prompt
  with logits for the last position only (generate passes logits_to_keep=1); `logits = "all"` for a plain forward
  such as lm-eval's loglikelihood scoring.
* llama.cpp (static): one KV cache preallocated for seq_len tokens per sequence at start-up, logits for the last
  token; GGUF k-quants are close to but not exactly the int4 layout below (about 4.5-4.9 bits).
* torchao-generate (torchao's gpt-fast generate.py, static): batch 1, a KV cache of prompt + max_new_tokens
  preallocated by setup_caches and, unless --linear_causal_mask, a square bool causal mask of that length kept for the
  run (inference.mask_buffer = "dense"); logits for every prompt position; each decode step expands the layer's
  whole cache to every head (and dequantises an int8 cache first): llmspec.estimate.inference.torchao_decode.
* autoawq (static): the fused modules' fp16 WindowedCache of max_seq_len tokens per sequence, which from_quantized
  takes from max_position_embeddings when it is not passed (inference.kv_cache_tokens = "context_length");
  flash-attention prefill; HF generate keeps the last position's logits; at load, fuse_layers copies every layer's
  q, k and v into a fused packed weight while the unfused layers are still referenced (_awq_fusion_copy), a load
  moment beside the weights and the cache.
* vllm / tgi / trtllm (paged): the engine first runs a profile step of max_num_batched_tokens tokens, then gives
  every byte left under its memory fraction to a pool of KV blocks (vLLM Worker.determine_available_memory;
  TGI warmup), and schedules only the sequences whose blocks fit; the rest queue. So the verdict (``fits``) is
  whether the engine starts: the pool holds one sequence of max_model_len (inference.seq_len) tokens, as vLLM
  checks at start-up (vllm==0.10.2:vllm/v1/core/kv_cache_utils.py:check_enough_kv_cache_memory raises ValueError).
  ``kv_cache`` is the sequences that run at once (at most batch_size), and ``Concurrency`` says how many sequences
  of the given lengths (prompt + generated) the pool holds (capped by max_num_seqs) against batch_size.
* trtllm differs in two ways (TensorRT-LLM _torch/pyexecutor/_util.py, KvCacheCreator): its fraction
  (KvCacheConfig.free_gpu_memory_fraction) is of the memory the profile run leaves free, not of the whole GPU
  (pool = fraction x (GPU - weights - profile peak - CUDA graphs), _cal_max_memory); and its profile run is dummy
  requests of min(max_num_tokens, seq_len - 1) tokens adding up to max_num_tokens
  (_create_dummy_context_requests), each with the logits of its last position only, in fp32
  (_torch/modules/logits_processor.py, LogitsProcessor.forward: logits.float()).

int4 weights: one fp16 scale and a 4-bit zero point per weight_group_size weights (GPTQ/AWQ g128; torchao int4
weight-only g64). An AutoGPTQ kernel (inference.quant_kernel) adds its g_idx and scratch buffers
(llmspec.estimate.gptq). Eager attention: its scores, fp32 softmax and dense mask are in the layer peak
(llmspec.estimate.inference.attention_peak).
"""

from __future__ import annotations

import math

from llmspec.estimate import gptq
from llmspec.estimate.result import Concurrency, overhead
from llmspec.spec.models import Inference, Spec
from llmspec.spec.stacks import engine, large_gpu


def knob(inf: Inference, name: str, accelerator: str | None, memory: int | None) -> object:
    """An engine knob's value on this GPU: the spec's, else the engine's default, which for some knobs is larger on
    a large GPU (vLLM's max_num_seqs and max_num_batched_tokens; llmspec.spec.stacks.large_gpu)."""
    default = engine(inf.backend).get(name)
    if name in inf.model_fields_set or default is None or default.large_gpu is None \
            or not large_gpu(accelerator, memory):
        return getattr(inf, name)
    return default.large_gpu


def apply(spec: Spec, inf: Inference, parts: dict, *, capacity: int | None, layer_peak: float, kv_per_token: float,
          tp: int, prompt: int, kv_len: int, accelerator: str | None = None, head_tp: int | None = None,
          ) -> tuple[list[str], int | None, Concurrency | None]:
    """Adjust ``parts`` (weights, quant_scales, kv_cache, prefill_activations) in place; return the notes, the
    capacity the engine may use (its memory fraction of ``capacity``) and, for paged engines, the concurrency.
    ``accelerator``: the GPU's catalog name (some engine defaults follow it, see knob()). ``head_tp``: the ways the
    output head is split (tp, or 1 where it stays whole: inference.shard_embeddings = false)."""
    arch = spec.arch
    max_seqs = knob(inf, "max_num_seqs", accelerator, capacity)
    max_tokens = knob(inf, "max_num_batched_tokens", accelerator, capacity)
    assert max_seqs is None or isinstance(max_seqs, int)
    assert max_tokens is None or isinstance(max_tokens, int)
    s = kv_len  # inference.lengths: tokens one sequence holds (static engines: the preallocated seq_len)
    max_len = inf.seq_len or arch.context_length  # vLLM's max_model_len
    b = inf.batch_size
    notes = []
    sources = inf.engine_sources()
    if sources:
        notes.append(f"engine {inf.backend}: " + ", ".join(f"{k}={knob(inf, k, accelerator, capacity)}" for k in sources)
                     + " from its preset (llmspec/data/engines.toml"
                     + (f"; {accelerator} takes the large-GPU defaults" if large_gpu(accelerator, capacity) and any(
                         engine(inf.backend)[k].large_gpu is not None for k in sources) else "") + ")")
    notes += _bitsandbytes_4bit(spec, inf, parts, tp=tp, head_tp=tp if head_tp is None else head_tp)
    if inf.precision == "int4" and inf.quant_format == "int4-groups" and inf.weight_group_size \
            and inf.weight_group_size != 128:
        parts["quant_scales"] *= 128 / inf.weight_group_size
        notes.append(f"int4 groups of {inf.weight_group_size} weights (one fp16 scale + 4-bit zero point each)")
    if inf.quant_kernel != "none":
        if inf.precision == "int4" and inf.quant_format == "int4-groups":
            kernel = gptq.kernel_parts(spec.arch, inf.quant_kernel, inf.act_order, tp)
            parts.update(kernel)
            notes += gptq.notes(inf.quant_kernel, inf.act_order, kernel,
                                gptq.prefill_transient(spec.arch, inf.quant_kernel, b * prompt, tp))
        else:
            notes.append(f"inference.quant_kernel = {inf.quant_kernel} applies to int4-groups (GPTQ) weights only "
                         "(ignored)")
    if inf.act_order and (inf.quant_kernel == "none" or inf.precision != "int4" or inf.quant_format != "int4-groups"):
        notes.append("inference.act_order applies to int4-groups (GPTQ) weights run by an AutoGPTQ kernel "
                     "(inference.quant_kernel) only (ignored)")
    notes += _awq_fusion_copy(spec, inf, parts, tp)
    if inf.attention == "eager":  # the scores are in layer_peak (llmspec.estimate.inference.attention_peak)
        notes.append("eager attention: one layer's n_heads x prompt^2 scores, their softmax (fp32 in most classes) and the dense "
                     "causal mask live in prefill")
    if inf.backend == "litgpt":
        notes += _litgpt_caches(spec, parts, prompt=prompt, kv_len=s)
    if inf.kv_allocation != "paged" or capacity is None:
        if inf.kv_allocation == "static":
            notes.append(f"static KV cache preallocated for {s} tokens x {b} sequences")
        return notes, capacity, None
    block = inf.block_size or 16
    per_seq = kv_per_token * math.ceil(s / block) * block  # whole blocks
    per_max = kv_per_token * math.ceil(max_len / block) * block
    tokens = max_tokens or max_len
    c = 4 if inf.precision == "fp32" else 2
    logit_rows, logit_bytes = min(tokens, max_seqs or b), c  # vLLM: a sampler run over max_num_seqs rows
    if inf.backend == "trtllm":  # dummy requests of min(tokens, seq_len - 1) tokens, last position each, fp32 logits
        logit_rows, logit_bytes = math.ceil(tokens / min(tokens, max(1, max_len - 1))), 4
    parts["prefill_activations"] = layer_peak * tokens + logit_bytes * arch.vocab_size * logit_rows / tp
    # CUDA graphs are counted inside the share for every paged engine. vllm==0.10.2 captures them after sizing the
    # pool (v1/worker/gpu_worker.py:Worker.compile_or_warm_up_model: "memory_profiling does not consider CUDAGraph
    # memory size"), so there they come on top of it: the pool here is smaller by cuda_graph_memory (conservative).
    parts["cuda_graphs"] = float(inf.cuda_graph_memory or 0)
    fixed = parts["weights"] + parts["quant_scales"] + parts["prefill_activations"] + parts["cuda_graphs"]
    util = inf.gpu_memory_utilization or 0.9
    usable = util * capacity if inf.backend != "trtllm" else fixed + util * max(0.0, capacity - fixed)
    # the pool is what the share leaves after the fixed parts and their overhead (result.overhead: context,
    # workspaces, fragmentation of the fixed parts; the pool itself is allocated once, whole, and does not fragment)
    pool = max(0.0, usable - fixed - overhead(fixed, tp))
    held = int(pool // per_seq) if per_seq else 0
    running = min(held, max_seqs) if max_seqs else held
    # the start-up check: vllm==0.10.2:vllm/v1/core/kv_cache_utils.py:check_enough_kv_cache_memory raises
    # ValueError unless the pool holds one sequence of max_model_len tokens
    starts = per_max > 0 and pool >= per_max
    # the peak: the sequences that run at once (at most batch_size); one max_model_len sequence when it cannot start
    parts["kv_cache"] = min(b, running) * per_seq if starts else per_max
    share = (f"x{util} of the GPU minus weights, a {tokens}-token profile step, CUDA graphs and overhead"
             if inf.backend != "trtllm" else
             f"x{util} of what weights, a {tokens}-token profile run and CUDA graphs leave free, minus overhead")
    capped = f" (max_num_seqs {max_seqs})" if max_seqs and held > max_seqs else ""
    notes.append(f"paged KV pool {pool / 2**30:.1f} GiB ({share}): {running} concurrent sequences of {s} tokens "
                 f"fit{capped}")
    if not starts:
        notes.append(f"{inf.backend} cannot start: one sequence of max_model_len {max_len} tokens needs "
                     f"{per_max / 2**30:.2f} GiB of KV cache, more than the pool (vLLM raises ValueError at start-up: "
                     "raise gpu_memory_utilization or lower inference.seq_len)")
    elif running < b:
        notes.append(f"batch_size {b}: {running} sequences run at once, the other {b - running} queue "
                     "(lower throughput, not an out-of-memory error)")
    return notes, int(usable), Concurrency(running, b, s, max_len, int(pool), max_seqs)


def _bitsandbytes_4bit(spec: Spec, inf: Inference, parts: dict, *, tp: int, head_tp: int) -> list[str]:
    """bitsandbytes 4-bit weights (QLoRA section 3; bitsandbytes/functional.py quantize_4bit, blocksize 64): 4 bits
    per weight plus an fp32 absmax per 64 weights, or with double quantisation an 8-bit absmax per 64 and an fp32
    constant per 256 blocks. MatMul4Bit dequantises each weight for its matmul (``F.dequantize_4bit(B,
    state).to(A.dtype)``): a transient of the largest 4-bit weight, two (fp16 + the cast) when Lightning's
    BitsandbytesPrecision quantised it from fp16 (lightning==2.5:lightning/fabric/plugins/precision/
    bitsandbytes.py:_Linear4bit._quantize_weight, ``weight.to(torch.half)``), which also makes the head 4-bit."""
    if inf.precision != "int4" or inf.quant_format == "int4-groups":
        return []
    from llmspec.estimate.shapes import layout

    arch = spec.arch
    lay = layout(arch)
    head = arch.vocab_size * arch.d_model if inf.quantize_head else 0
    scale = 1 / 64 + 4 / (64 * 256) if inf.double_quant else 4 / 64
    parts["weights"] -= head * (2 - 0.5) / head_tp  # the head was counted 16-bit (whole where head_tp = 1)
    parts["quant_scales"] = lay.block_linear_numel * scale / tp + head * scale / head_tp
    largest = max([head / head_tp] + [m.rows * m.cols / tp for m in lay.block_linears])
    parts["dequant_buffer"] = largest * (4 if inf.quantize_head else 2)
    return [f"bitsandbytes {inf.quant_format}{' double-quantised' if inf.double_quant else ''}: absmax per 64 "
            f"weights{'; the head 4-bit too (Lightning), dequantised via fp16' if inf.quantize_head else ''}; "
            "one dequantised weight live per matmul"]


def _litgpt_caches(spec: Spec, parts: dict, *, prompt: int, kv_len: int) -> list[str]:
    """LitGPT's buffers beside the KV cache (litgpt==0.5.13:litgpt/generate/base.py:main sets model.max_seq_length =
    prompt + max_new_tokens, then model.set_kv_cache(batch_size=1)):

    * the mask cache: model.py:GPT.set_kv_cache builds ``build_mask_cache(max_seq_length)``, a (1, 1, max_seq_length,
      max_seq_length) torch.bool tril, 1 B per element (1 GiB at 32k tokens), whole on every GPU;
    * the rope cache: the ``max_seq_length`` setter rebuilds cos and sin (model.py:build_rope_cache: (max_seq_length,
      rope_n_elem) each), cast to the precision's dtype by fabric.setup_module; counted at head_dim wide
      (rotary_percentage 1: an upper bound for partial-rotary configs such as Pythia's);
    * in the prefill, GPT.forward selects the prompt's rows of the mask (batched_index_select: torch.index_select, a
      (1, 1, prompt, max_seq_length) bool copy; generate/base.py's input_pos has no batch dimension) and keeps it
      through every block: prompt x max_seq_length bytes."""
    arch = spec.arch
    inf = spec.inference or Inference()
    c = 4 if inf.precision == "fp32" else 2
    parts["mask_cache"] = float(kv_len * kv_len)
    rope = 2 * kv_len * arch.head_size * c if arch.position == "rope" else 0
    if rope:
        parts["rope_cache"] = float(rope)
    parts["prefill_activations"] += float(prompt * kv_len)
    return [f"LitGPT's causal mask cache ({kv_len} x {kv_len} bool, {kv_len * kv_len / 2**20:.1f} MiB)"
            + (f" and rope cache (cos, sin: {rope / 2**20:.1f} MiB)" if rope else "")
            + f", preallocated with the KV cache; the prefill's {prompt} mask rows are a copy"]


# model types whose AutoAWQ fuser takes the checkpoint's fused q/k/v module as it is (no fuse_qkv copy), whether or not
# the family registry knows them: autoawq==0.2.9:awq/models/mpt.py:MptFuser.fuse_transformer (module.attn.Wqkv),
# awq/models/falcon.py:FalconFuser.fuse_transformer (qkv_layer=module.self_attention.query_key_value)
AWQ_FUSED_QKV = frozenset({"mpt", "falcon"})


def _awq_fusion_copy(spec: Spec, inf: Inference, parts: dict, tp: int) -> list[str]:
    """AutoAWQ's fused-module load (from_quantized(fuse_layers=True)): autoawq==0.2.9:awq/models/llama.py:
    LlamaFuser.fuse_transformer (the same at 5c7e368, AutoAWQ 0.1.6) loops over ``self.model.model.layers``, calls
    awq/utils/fused_utils.py:fuse_qkv, which torch.cat's the q, k and v projections' qweight, qzeros and scales into a
    new WQLinear, and builds each QuantAttentionFused (with its WindowedCache) in the same loop; the old layers stay
    referenced by ``self.model.model`` (and LlamaFuser.llama_blocks) until ``self.model.model = LlamaLikeModel(...)``
    after the loop. So at the end of the loop the weights, every layer's KV cache and a copy of every layer's q, k
    and v (0.5 B per weight + 2.5 / group B of zero points and scales) are live: a load moment, set against the
    prefill's activations (``awq_fusion_copy`` replaces them when larger). Families whose checkpoint already fuses
    q, k and v (MPT's Wqkv, Falcon's query_key_value: MptFuser / FalconFuser use the module as it is) copy nothing."""
    from llmspec.estimate.inference import fused_qkv
    from llmspec.estimate.shapes import layout

    if inf.backend != "autoawq" or inf.precision != "int4" or fused_qkv(spec.model.family) \
            or spec.model.family in AWQ_FUSED_QKV:
        return []
    group = inf.weight_group_size or 128
    qkv = sum(m.rows * m.cols * m.copies for m in layout(spec.arch).block_linears
              if m.name in ("q_proj", "k_proj", "v_proj"))
    copy = qkv * (0.5 + 2.5 / group) / tp
    if copy <= parts.get("prefill_activations", 0.0):
        return [f"AutoAWQ fuse_layers copies q, k and v into one packed weight ({copy / 2**30:.2f} GiB at load, "
                "below the prefill's activations)"]
    parts["prefill_activations"] = 0.0
    parts["awq_fusion_copy"] = copy
    return [f"AutoAWQ fuse_layers: every layer's q, k and v copied into fused packed weights while the unfused layers "
            f"are still referenced ({copy / 2**30:.2f} GiB beside the weights and KV cache at load: the peak)"]
