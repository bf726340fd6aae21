"""What the training stack's knobs do to memory (issue 12). Called from training_memory: apply_static for what the
batch shape does not change (a sweep shares it between points), apply_batch for the rest.

Each knob is a field of the spec (llmspec.spec.models.Training / Lora); unset ones were filled from the stack
preset (llmspec/data/stacks.toml). The effects, part by part, with their sources:

* optimizer_impl (Adam/AdamW): torch's foreach step materialises one state-sized temporary for the whole group
  (torch/optim/adamw.py, _multi_tensor_adamw: torch._foreach_sqrt(exp_avg_sq)); the for-loop path one tensor's
  (_single_tensor_adamw); the fused kernel none (torch._fused_adamw_). NOTES.md: HF Trainer's default is fused.
* optimizer_in_backward: each parameter steps inside backward (a post-accumulate-grad hook) and frees its gradient,
  so at most one tensor's gradient is live and there is no separate optimizer phase (torchtune
  training/_optimizer_in_bwd / torch.Tensor.register_post_accumulate_grad_hook); the step's buffer is the
  optimizer's own for one tensor. The head steps first, with every block's activations live
  (moments.steps.step_in_backward).
* paged_optimizer: bitsandbytes allocates paged states with cudaMallocManaged (bitsandbytes/functional.py,
  get_paged): they are not in torch's allocated/reserved counters, so the estimate leaves them out and says so.
* loss: "full" keeps 16-bit logits, their fp32 copy and fp32 log-probs (activations.LOGITS_*); "chunked" keeps the
  16-bit logits and the fp32 log-probs saved by each chunk's log_softmax, with only one chunk's fp32 upcast live
  (torchtune CEWithChunkedOutputLoss: 2 + 4 bytes x vocab per token + 4 x vocab per chunk token); "fused-linear"
  never forms the logits: Liger's FusedLinearCrossEntropy works on chunks of about tokens x hidden / vocab tokens
  (liger_kernel/ops/fused_linear_cross_entropy.py: inc_factor = ceil(V / H)) and keeps the hidden-state gradient
  (2 x hidden per token) it computes in forward: about 10 x hidden + 2 x hidden bytes per token.
* compile: ASSUMED factor 0.85 on activations (and on a full loss's buffers; a compiled chunked loss is modelled
  from its graph above). torch.compile's saving cannot be measured on a CPU;
  0.85 is the one published before/after pair (torchtune README, "Optimization flags": 60.0 -> 51.0 GiB, Llama 3.2
  3B full, packed 4096). The torchtune fold of benchmarks/published_memory.md is therefore not held out for it.
* activation_offload: saved activations go to CPU as they are produced and come back one layer ahead of backward
  (torchtune training/_activation_offloading.py, OffloadActivations with a prefetch stream): about two layers'
  worth stay on the GPU.
* lora.dtype fp32 on a 16-bit base (peft autocast_adapter_dtype): adapter weights, gradients and Adam states in
  4 bytes instead of 2.
* lora.dora: one magnitude vector per adapted module (trainable; counted here, params.count_params does not), and
  each adapted module saves its base output and its scaled LoRA output (out_features wide each) for the magnitude's
  gradient (dora_bytes_per_token).
* lm_head in lora.targets: the adapter's weights are counted with the others (params.lora_shapes maps lm_head to the
  head role); what the stack adds is what its forward saves: the head input and the rank-wide lora_A output.
* lora.quantize = "adapted": only adapted block linears are 4-bit (torchtune's Qwen2 builders); lora.quant_block:
  the block size of the absmax scales (bitsandbytes / torchao 64).
* lora.quant_chunk (torchao NF4, torchtune): a load phase, the weights plus the transient of quantising the largest
  4-bit weight (torchao_load).
"""

from __future__ import annotations

import math

from llmspec.estimate import precision as P
from llmspec.estimate.adapters import adapter_dtype, dora_bytes_per_token, lora_output_bytes
from llmspec.estimate.params import lora_shapes
from llmspec.spec.models import Architecture, DeepSpeed, Spec, Training, peft_default_targets
from llmspec.spec.stacks import KNOBS, SUPPORT_KNOBS, stack

COMPILE_FACTOR = 0.85  # assumed; see the module docstring for its source
ADAM = ("adam", "adamw")


def nf4_bytes(double_quant: bool, block: int) -> float:
    """Bytes per 4-bit weight with absmax scales per ``block`` (QLoRA section 3: 8-bit scales and an fp32
    constant per 256 blocks when double-quantised, fp32 scales otherwise)."""
    return (4 + (8 / block + 32 / (block * 256) if double_quant else 32 / block)) / 8


def trained_spec(spec: Spec) -> Spec:
    """The spec with the architecture its stack trains: training.tie_embeddings (unset: the stack's default, LitGPT
    false) overrides model.architecture.tie_embeddings; the spec itself when they agree or it is unset."""
    return _with_tie(spec, spec.training.tie_embeddings if spec.training else None)


def served_spec(spec: Spec) -> Spec:
    """The spec with the architecture its serving engine runs: inference.tie_embeddings (unset: the engine's default,
    LitGPT false; llmspec/data/engines.toml) overrides model.architecture.tie_embeddings; the spec itself when they
    agree or it is unset."""
    return _with_tie(spec, spec.inference.tie_embeddings if spec.inference else None)


def _with_tie(spec: Spec, tie: bool | None) -> Spec:
    arch = spec.model.architecture
    if tie is None or arch is None or tie == arch.tie_embeddings:
        return spec
    model = spec.model.model_copy(update={"architecture": arch.model_copy(update={"tie_embeddings": tie})})
    return spec.model_copy(update={"model": model})


def refused_defaults(tr: Training) -> list[str]:
    """A note for each knob the spec leaves unset whose stack default the same stack refuses for training.method
    (stacks.toml supports with by = "method", e.g. LitGPT's bf16-mixed under QLoRA: finetune/lora.py raises). MEM004
    flags the same knob; the estimate is of that default, and says that the stack cannot start the run."""
    out = []
    for knob, support in stack(tr.stack).supports.items():
        table, name = SUPPORT_KNOBS[knob]
        target = tr if table == "training" else tr.lora
        if support.by != "method" or target is None or name in target.model_fields_set:
            continue
        value, allowed = getattr(target, name), support.allowed(tr.method)
        if value is None or allowed is None or value in allowed:
            continue
        shown = " or ".join(repr(v) for v in allowed)
        out.append(f"stack {tr.stack} cannot start this run: {name} is unset, and its default {value!r} is refused "
                   f"for method = {tr.method!r} ({support.source.split(' (')[0]}; MEM004). Estimated as if it ran "
                   f"at {value!r}: set {name} = {shown} to estimate the run it starts")
    return out


def loss_chunk_count(tr: Training) -> int:
    """Chunks of loss = "chunked": loss_chunks (torchtune num_output_chunks), else seq_len / loss_chunk_tokens (LitGPT
    lm_head_chunk_size), rounded up."""
    return tr.loss_chunks or max(1, math.ceil(tr.seq_len / (tr.loss_chunk_tokens or tr.seq_len)))


def apply_static(spec: Spec, tr: Training, parts: dict, *, n_trainable: int, sbytes: int, largest: int,
                 base_bytes: float, frozen_quantised: int) -> list[str]:
    """Adjust ``parts`` (bytes: weights, grads, states, temp, dequant, and live_grads as it is when gradients
    accumulate) in place for the knobs that do not depend on the batch shape; set ``parts["kept_per_token"]`` to
    the saved bytes per token (after tensor parallelism) that the adapters' knobs add, which apply_batch scales by
    the tokens. Reads no key of llmspec.estimate.training.BATCH_KEYS. Returns the notes that say what was
    assumed."""
    arch = spec.arch
    from_stack = tr.stack_sources()
    knob_values = {k: _knob_value(tr, k) for k in KNOBS}
    notes = [f"stack {tr.stack}: " + ", ".join(f"{k}={knob_values[k]}" for k in from_stack)
             + " from its preset (llmspec/data/stacks.toml)" if from_stack else f"stack {tr.stack}"]
    notes += refused_defaults(tr)
    default_targets = peft_default_targets(spec)
    if default_targets is not None:
        preset = stack(tr.stack)
        whose = (f"PEFT's default for model_type {spec.model.family} ({preset.adapters.source})"
                 if preset.adapters.value == "peft" else f"stack {tr.stack}'s default ({preset.lora_targets.source})")
        notes.append(f"lora.targets = {list(default_targets)}: {whose}")
    code = stack(tr.stack).model_code.value
    if code != "transformers":
        notes.append(f"activations of {code}'s own model classes: generic per-architecture terms, not the family "
                     "registry's fits measured on the transformers class")
    own = [k for k in KNOBS if _knob_set(tr, k)]
    if own:
        notes.append("set by the spec: " + ", ".join(f"{k}={knob_values[k]}" for k in own))
    lo = tr.lora if tr.method in ("lora", "qlora") else None
    half = tr.precision in ("bf16", "fp16")
    fp32_adapters = lo is not None and half and adapter_dtype(tr) == "fp32"
    sb = 4 if fp32_adapters else sbytes  # bytes per optimizer-state element of the trainable tensors
    parts["kept_per_token"] = 0.0

    # --- adapters -------------------------------------------------------------------------------------------
    if lo is not None:
        shapes = lora_shapes(arch, lo.targets, spec.model.family)
        if fp32_adapters:
            # trainable parts were counted at 2 bytes: adapters in fp32 double weights, grads, states, temp
            extra = n_trainable * 2
            parts["weights"] += extra
            parts["grads"] += extra
            parts["live_grads"] *= 2
            parts["states"] *= 2
            parts["temp"] *= 2
            notes.append("LoRA adapters in fp32 on a 16-bit base (weights, gradients and optimizer states 4 bytes)")
        abytes = 4 if adapter_dtype(tr) == "fp32" else 2
        obytes, lbytes = lora_output_bytes(tr)
        if any(s.role == "head" for s in shapes):
            # the head adapter's weights, gradients and states are in n_trainable already (count_params); lora_A
            # saves its input (the final norm's output, cast to the LoRA path's dtype) and lora_B lora_A's output.
            # The frozen head itself saves no input. Measured: 2 x (hidden + rank) bytes per token under bf16-mixed
            # (tests/stacks/test_dora_measured.py).
            parts["kept_per_token"] += lbytes * (arch.d_model + lo.rank)
            notes.append(f"LoRA on lm_head: its input and rank-wide lora_A output kept ({lbytes} bytes each)")
        if lo.dora:
            mags = sum(s.d_out * s.copies for s in shapes)
            parts["weights"] += mags * abytes
            parts["grads"] += mags * abytes
            parts["states"] += 2 * mags * abytes if tr.optimizer in ADAM else 0
            parts["kept_per_token"] += dora_bytes_per_token(arch, tr, shapes)
            what = "one recomputed block's" if tr.activation_checkpointing else "every adapted module's"
            notes.append(f"DoRA: magnitude vectors; {what} base output ({obytes} B) and LoRA output ({lbytes} B) "
                         "per output element kept for the magnitude's gradient")
        if tr.method == "qlora":
            adapted = sum(s.d_in * s.d_out * s.copies for s in shapes)
            q_numel = adapted if lo.quantize == "adapted" else frozen_quantised
            q_numel = min(q_numel, frozen_quantised)
            old = frozen_quantised * P.nf4_bytes(lo.double_quant)
            new = q_numel * nf4_bytes(lo.double_quant, lo.quant_block) + (frozen_quantised - q_numel) * base_bytes
            parts["weights"] += new - old
            notes += _lightning_bnb(spec, tr, parts, base_bytes=base_bytes)
            notes += torchao_load(spec, tr, parts, quantised=[s for s in shapes if lo.quantize == "adapted"]
                                  or None)
            if lo.quantize == "adapted":
                notes.append(f"QLoRA quantises only the adapted linears ({q_numel / max(1, frozen_quantised):.0%} "
                             f"of block-linear weights); the rest stay {8 * base_bytes}-bit")

    # --- optimizer ------------------------------------------------------------------------------------------
    if tr.optimizer in ADAM:
        impl = tr.optimizer_impl or "foreach"
        parts["temp"] = {"fused": 0.0, "foreach": parts["temp"], "for-loop": sb * largest}[impl]
        if impl != "foreach":
            notes.append(f"AdamW {impl} step: {'no' if impl == 'fused' else 'one tensor-sized'} temporary buffer")
    if tr.optimizer_in_backward:
        parts["grads"] = largest * (parts["grads"] / max(1, n_trainable))
        parts["live_grads"] = 0.0
        # the step of one tensor: its transients as optimizer_temp_bytes gives them for that tensor alone (SGD
        # updates in place: none; foreach / for-loop Adam one state-sized buffer, fused Adam none)
        fused = tr.optimizer in ADAM and tr.optimizer_impl == "fused"
        parts["temp"] = 0.0 if fused else P.optimizer_temp_bytes(tr.optimizer, sb, largest, largest)
        notes.append("optimizer step in backward: one gradient live at a time, no separate optimizer phase; the "
                     "head steps first, with every block's activations live")
    if tr.paged_optimizer:
        parts["states"] = 0.0
        parts["temp"] = 0.0
        notes.append("paged optimizer: states in CUDA unified memory, outside torch's allocated/reserved counters "
                     "(nvidia-smi shows them)")

    # --- DeepSpeed (a sharding backend, not a stack) ------------------------------------------------------------
    hw = spec.hardware
    ds = hw.deepspeed if hw is not None else None
    if hw is not None and ds is None and hw.sharding in ("zero1", "zero2", "zero3"):
        # no [hardware.deepspeed] table: the stack's DeepSpeed config (HF Trainer's integration fills "auto")
        fill = stack(tr.stack).deepspeed_buckets
        if fill.value == "auto":
            ds = DeepSpeed()
            notes.append(f"no [hardware.deepspeed] table: stack {tr.stack}'s DeepSpeed buckets on \"auto\" "
                         f"({fill.source})")
        else:
            notes.append(f"DeepSpeed buckets not counted: stack {tr.stack} has no known default; state them in "
                         "[hardware.deepspeed]")
    if hw is not None and ds is not None and hw.sharding in ("zero1", "zero2", "zero3"):
        if ds.optimizer == "fused-adam":
            parts["temp"] = 0.0  # deepspeed/ops/adam/fused_adam.py: multi_tensor_applier, in place
        elif ds.optimizer == "cpu-adam":
            parts["states"] = parts["temp"] = 0.0  # deepspeed/ops/adam/cpu_adam.py: states and step on the CPU
        h2 = arch.d_model * arch.d_model
        reduce = h2 if ds.reduce_bucket_size == "auto" else ds.reduce_bucket_size
        prefetch = int(0.9 * h2) if ds.prefetch_bucket_size == "auto" else ds.prefetch_bucket_size
        buckets = 2 * reduce + (2 * prefetch if hw.sharding == "zero3" else 0)  # 16-bit elements
        parts["buckets"] = buckets
        notes.append(f"DeepSpeed buckets: reduce {reduce:,} + prefetch {prefetch if hw.sharding == 'zero3' else 0:,} "
                     "16-bit elements")

    return notes


def apply_batch(spec: Spec, tr: Training, parts: dict, *, base_bytes: float, tokens: float) -> list[str]:
    """The knobs' effects that depend on the batch shape, after apply_static: the adapters' saved bytes per token,
    FSDP's deferred gradient sync under accumulation, the loss and the activations' offloading and compile factor.
    ``parts`` also holds kept, logits_f, logits_b, per_layer_kept and live_grads (already 0 without accumulation);
    ``tokens`` is the micro-batch's tokens per tensor-parallel rank."""
    arch = spec.arch
    notes: list[str] = []
    if not tr.packing:
        # a padding collator pads each batch to its longest example, truncated at the maximum length
        # (transformers==5.24.0:src/transformers/data/data_collator.py:DataCollatorWithPadding, padding=True is
        # "longest"; torchtune padded_collate_sft; litgpt get_sft_collate_fn): the peak is the batch whose longest
        # example reaches seq_len, so every row is assumed seq_len long, padding included
        notes.append(f"batches padded, not packed: each of the {tr.micro_batch_size} rows assumed padded to seq_len = "
                     f"{tr.seq_len:,} tokens (the longest batch; padding tokens cost memory like real ones)")
    parts["kept"] += parts["kept_per_token"] * tokens
    notes += _fsdp_deferred_sync(spec, tr, parts, base_bytes=base_bytes)

    # --- loss -------------------------------------------------------------------------------------------------
    V, h = arch.vocab_size, arch.d_model
    if tr.loss == "chunked":
        chunks = loss_chunk_count(tr)
        # eager: each chunk's log_softmax saves its fp32 output (4 B) beside the 16-bit logits (2 B); compiled
        # (torchtune compiles compute_cross_entropy, upcast and CE together) a chunk saves only its 16-bit input
        kept_v = 2 if tr.compile else 6
        parts["logits_f"] = (kept_v * V + 4 * V / chunks) * tokens
        # backward frees the 16-bit chunk logits (nothing saves them) and runs one chunk at a time: the chunk's fp32
        # grad of the log-probs and its fp32 log_softmax grad_input are live together (8 B x vocab per chunk token),
        # measured on the real LlamaForCausalLM at 1, 2, 4 and 8 chunks (tests/estimate/test_measure_knobs.py:
        # test_chunked_loss_matches_the_measurement); compiled: not measurable here, the eager temporaries assumed
        parts["logits_b"] = ((kept_v - 2) * V + 8 * V / chunks) * tokens if not tr.compile else (2 * V + 6 * V / chunks) * tokens
        notes.append(f"chunked cross-entropy in {chunks} chunks: 16-bit logits{'' if tr.compile else ' and fp32 log-probs'}"
                     " kept, one chunk upcast at a time")
    elif tr.loss == "fused-linear":
        parts["logits_f"] = 12 * h * tokens
        parts["logits_b"] = 2 * h * tokens
        if tr.method not in ("lora", "qlora"):
            # a trained head: Liger's forward fills grad_weight (vocab x hidden, the weight's dtype) and saves it for
            # backward (liger_kernel/ops/fused_linear_cross_entropy.py:fused_linear_cross_entropy_forward): one
            # head-sized gradient live from the loss's forward to the end of backward, where it becomes .grad
            head = V * h * P.grad_bytes(tr.precision)
            parts["logits_f"] += head
            parts["logits_b"] += head
        notes.append("fused linear cross-entropy: no full logits (chunks of about tokens x hidden / vocab)")

    # --- activations ------------------------------------------------------------------------------------------
    if tr.activation_offload:
        parts["kept"] = min(parts["kept"], 2 * parts["per_layer_kept"])
        notes.append("activation offloading: saved activations in CPU memory, about two layers' worth on the GPU")
    if tr.compile:
        for k in ("kept",) if tr.loss == "chunked" else ("kept", "logits_f", "logits_b"):
            parts[k] *= COMPILE_FACTOR
        what = "activations" if tr.loss == "chunked" else "activations and loss buffers"
        notes.append(f"torch.compile: ASSUMED x{COMPILE_FACTOR} on {what} (not measurable on a CPU; source: "
                     "torchtune README, Optimization flags table)")
    return notes


def _lightning_bnb(spec: Spec, tr: Training, parts: dict, *, base_bytes: float) -> list[str]:
    """QLoRA terms of Lightning's quantiser and of older bitsandbytes.

    * lora.quantize = "every-linear": lightning/fabric/plugins/precision/bitsandbytes.py (lightning@71aed751, as
      pinned by LitGPT 8641822; the same in lightning 2.5) replaces every torch.nn.Linear, so the output head is
      4-bit too, and _Linear4bit._quantize_weight quantises ``weight.to(torch.half)``: MatMul4Bit dequantises it
      to fp16 and casts it to the compute dtype (``F.dequantize_4bit(B, state).to(A.dtype)``), two transients of
      the largest 4-bit weight (the head, V x h) instead of one.
    * lora.quant_saves_input: bitsandbytes before 0.43.2 saved each 4-bit matmul's input for backward
      (bitsandbytes==0.42.0:bitsandbytes/autograd/_functions.py:MatMul4Bit.forward ``ctx.tensors = (A, B)``;
      0.43.2 saves ``(None, B)``): per token and block the attention input (h), the attention output projection's input
      (n_heads x head_dim), the MLP input (h) and the down projection's input (ffn), 2 bytes each."""
    lo, arch = tr.lora, spec.arch
    notes: list[str] = []
    if lo is None:
        return notes
    if lo.quantize == "every-linear":
        from llmspec.estimate.shapes import layout

        head = arch.vocab_size * arch.d_model
        parts["weights"] -= head * (base_bytes - nf4_bytes(lo.double_quant, lo.quant_block))
        largest = max([head] + [m.rows * m.cols for m in layout(arch).block_linears])
        parts["dequant"] = largest * (2 + base_bytes)
        notes.append("QLoRA (Lightning BitsandbytesPrecision): every nn.Linear 4-bit, the output head too; weights "
                     "quantised from fp16, so a dequantised weight is an fp16 copy plus its cast")
    if lo.quant_saves_input:
        per_block = 2 * (2 * arch.d_model + arch.n_heads * arch.head_size + arch.ffn_dim)
        parts["kept_per_token"] += per_block * (1 if tr.activation_checkpointing else arch.n_layers)
        notes.append("bitsandbytes < 0.43.2: each 4-bit matmul keeps its 16-bit input for backward")
    return notes


# torchao==0.1:torchao/dtypes/nf4tensor.py:NF4Tensor.convert_to_norm_float_weight, per element of the weight being
# quantised: the 16-bit weight on the GPU (2 B; torchtune's copy_ moves each checkpoint tensor there first) and its
# scaled blocks (2 B); quantize_tensor_nearest then forms (value - nf4), 16 bf16 differences per element, and their
# .abs() (32 + 32 B) for the elements in flight. torchao 0.2 (CHUNK_SIZE) keeps those to one chunk and writes
# uint8 codes (1 B) for the whole weight. Measured on torchao v0.1 and v0.2.0's nf4tensor.py with llmspec's
# storage tracker on CPU: 68.08 B/element unchunked; 5 B/element + 64 B x CHUNK_SIZE chunked.
NF4_LOAD_WEIGHT_BYTES = 4
NF4_LOAD_CODE_BYTES = 1
NF4_LOAD_INFLIGHT_BYTES = 64


def torchao_load(spec: Spec, tr: Training, parts: dict, *, quantised=None) -> list[str]:
    """The load phase of a QLoRA run quantised by torchao's to_nf4 (lora.quant_chunk set: torchtune): the model's
    weights at rest plus the transient of quantising its largest 4-bit weight. The peak allocated bytes while the
    model is built and its checkpoint loaded; a reserved counter keeps that pool for the rest of the run (the
    caching allocator returns segments only on empty_cache, and reset_peak_memory_stats resets reserved to the
    current reserved). ``quantised``: the adapted linears' shapes (lora.quantize = "adapted"), else every block
    linear."""
    lo = tr.lora
    if lo is None or lo.quant_chunk is None:
        return []
    from llmspec.estimate.shapes import layout

    arch = spec.arch
    sizes = [s.d_in * s.d_out for s in quantised] if quantised else [m.rows * m.cols for m in layout(arch).block_linears]
    n = max(sizes, default=0)
    chunk = lo.quant_chunk or n
    transient = NF4_LOAD_WEIGHT_BYTES * n + (NF4_LOAD_CODE_BYTES * n if chunk < n else 0) \
        + NF4_LOAD_INFLIGHT_BYTES * min(n, chunk)
    parts["load"] = parts["weights"] + transient
    how = "each weight in one piece (torchao 0.1)" if not lo.quant_chunk else f"{lo.quant_chunk:,} elements at a time"
    return [f"QLoRA load: torchao to_nf4 quantises {how}; quantising the largest 4-bit weight ({n / 1e6:.1f}M "
            f"elements) holds {transient / 2**30:.2f} GiB beside the weights"]


def fsdp_root_unit(arch: Architecture, n_params: int, layer_params: int, tr: Training, notes: list[str]) -> float:
    """FSDP's root unit (what no wrapped block holds: embeddings, final norm, head) stays unsharded from the start of
    forward to its post-backward: torch does not reshard the root after forward (torch==2.13.0:torch/distributed/
    fsdp/_runtime_utils.py:_post_forward_reshard, "Do not free the root's parameters"; FSDP2 _fsdp_state.py:
    FSDPState._lazy_init, "For the root, do not reshard after forward"), beside its shard. With per-block wrapping
    (LitGPT, torchtune, HF Trainer's transformer-layer policy) it is every parameter outside the blocks, in the
    compute dtype (the frozen base's under LoRA/QLoRA: embeddings and head are not quantised)."""
    root = max(0, n_params - arch.n_layers * layer_params)
    rbytes = (P.DTYPE_BYTES[tr.base_dtype] if tr.base_dtype else (4 if tr.precision == "fp32" else 2)) \
        if tr.method in ("lora", "qlora") else P.DTYPE_BYTES[P.compute_dtype(tr.precision)]
    notes.append(f"FSDP root unit (embeddings, final norm, head: {root / 1e6:.0f}M parameters) unsharded through "
                 "forward and backward")
    return root * rbytes


def _fsdp_deferred_sync(spec: Spec, tr: Training, parts: dict, *, base_bytes: float) -> list[str]:
    """FSDP with gradient accumulation and sync_each_batch = false: on accumulation micro-batches the gradient of
    every FSDP unit with a trainable parameter is kept whole, unsharded, on every rank (torch==2.13.0:torch/
    distributed/fsdp/fully_sharded_data_parallel.py:FullyShardedDataParallel.no_sync, "FSDP will accumulate the full
    model gradients (instead of gradient shards)"; FSDP2 FSDPModule.set_requires_gradient_sync(False) the same per
    parameter). A full fine-tune keeps the whole model's gradient. Under LoRA/QLoRA it depends on how the stack
    wraps (training.fsdp_lora_units, by default the stack's): where each adapter layer is its own unit (PEFT's
    fsdp_auto_wrap_policy, which HF Trainer applies) or FSDP2 shards per parameter (torchtune, LitGPT 0.5), block
    units hold only frozen weights and keep no gradient, so only the adapters' gradients are kept whole; where the
    adapters sit inside their block's flat parameter (per-block wrap with use_orig_params), the flat parameter
    needs a gradient when any parameter in it does, and each block's whole gradient is kept, frozen weights
    included. Checked on real FSDP (gloo, CPU) in tests/stacks/test_fsdp_deferred_sync.py."""
    hw = spec.hardware
    if hw is None or tr.sync_each_batch is not False or tr.gradient_accumulation <= 1 or hw.offload != "none":
        return []
    mp = hw.tensor_parallel * hw.pipeline_parallel
    dp = max(1, hw.world_size // mp)
    if hw.sharding != "fsdp" or dp <= 1:
        return []
    units = tr.fsdp_lora_units
    numel = fsdp_deferred_numel(spec, tr)
    if tr.method in ("lora", "qlora") and units == "blocks":
        gbytes = base_bytes
        what = "each block's whole gradient (adapters inside the block's flat parameter)"
    elif tr.method in ("lora", "qlora"):
        # parts["grads"]: the adapters' gradients sharded over dp, in their dtype after apply_static's knobs
        gbytes = parts["grads"] * dp * mp / max(1, numel)
        what = f"only the adapters' gradients (FSDP units: {units}; units of frozen weights keep none)"
    else:
        gbytes = P.grad_bytes(tr.precision)
        what = "the whole model's gradient"
    unsharded = numel * gbytes / mp
    parts["live_grads"] = max(parts["live_grads"], unsharded)
    parts["grads"] = max(parts["grads"], unsharded)
    return [f"FSDP no_sync over {tr.gradient_accumulation} micro-batches (sync_each_batch=false): each rank keeps "
            f"{what} unsharded ({numel / 1e9:.2f}B x {gbytes:g} bytes)"]


def fsdp_deferred_numel(spec: Spec, tr: Training) -> int:
    """Parameters whose gradient each rank keeps whole under FSDP's deferred sync (_fsdp_deferred_sync): the whole
    model for a full fine-tune; under LoRA/QLoRA the adapters where they are FSDP units of their own or FSDP2 shards
    per parameter, else every block with its adapters."""
    from llmspec.estimate.params import count_params
    from llmspec.estimate.shapes import layout

    count = count_params(spec.arch, tr, family=spec.model.family)
    if tr.method not in ("lora", "qlora"):
        return count.total
    if tr.fsdp_lora_units == "blocks":
        return spec.arch.n_layers * layout(spec.arch).layer_params + count.trainable
    return count.trainable


def _knob_value(tr: Training, knob: str):
    table, name = KNOBS[knob]
    target = tr if table == "training" else tr.lora
    value = getattr(target, name, None) if target is not None else None
    return str(value).lower() if isinstance(value, bool) else value


def _knob_set(tr: Training, knob: str) -> bool:
    table, name = KNOBS[knob]
    target = tr if table == "training" else tr.lora
    return target is not None and name in target.model_fields_set
