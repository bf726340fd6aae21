"""Training memory per GPU: weights, casts, gradients, optimizer states, activations, logits; peak over phases.

Phases of one steady-state optimizer step (the second: optimizer states exist), as measured (NOTES.md):

* forward  — end of forward: weights + optimizer states + autocast copies + saved activations + logits
  (+ gradients when gradient_accumulation > 1: they stay live from the second micro-step on);
* backward — its start (logits gradients, 12 B x vocab per token, all activations still live), its end
  (all gradients; with checkpointing plus one recomputed layer) or, with checkpointing, a recomputed block's
  backward: the first one backward reaches (every block's checkpointed input, that block's saved activations, its
  16-bit weight copies and backward temporaries) or the last (block 0: one checkpointed input, every later block's
  gradients; llmspec.estimate.recompute), or, where attention materialises its scores, the last block's softmax
  backward (two fp32 score-sized gradients; llmspec.estimate.attn_backward);
* optimizer — weights + states + gradients + the optimizer's transient buffers (torch's foreach Adam, the
  CUDA default, materialises one state-sized buffer).

The peak is the maximum over phases, not their sum. Sharding (Rajbhandari et al. 2020, "ZeRO", section
5: P_os, P_os+g, P_os+g+p; Zhao et al. 2023, "PyTorch FSDP") divides states, then gradients, then weights by
the data-parallel degree; ZeRO-3/FSDP add two all-gathered layers (the one computing and the one
prefetched). Offload (Ren et al. 2021, "ZeRO-Offload") keeps only 16-bit weights and gradient buckets on
the GPU. Tensor parallelism with sequence parallelism divides weights and activations by its degree
(Korthikanti et al. 2022, section 4.2.2); pipeline stages divide weights, while the first stage still holds
about n_layers layers of activations under 1F1B (same paper, section 4.2.3).
"""

from __future__ import annotations

from dataclasses import dataclass

from llmspec.estimate import activations as A
from llmspec.estimate import attn_backward as AB
from llmspec.estimate import precision as P
from llmspec.estimate import recompute as R
from llmspec.estimate import stack as S
from llmspec.estimate.hfversion import attention_version_notes
from llmspec.estimate.loss_backward import chunked_head_backward_bytes
from llmspec.estimate.mask import training_mask as dense_mask
from llmspec.estimate.params import count_params, lora_shapes
from llmspec.estimate.result import OVERHEAD_NOTE, MemoryEstimate, accelerator_note, capacity, overhead
from llmspec.estimate.shapes import layout
from llmspec.spec.models import Hardware, Spec, Training


def _base_bytes(tr: Training) -> float:
    if tr.base_dtype:
        return P.DTYPE_BYTES[tr.base_dtype]
    return 4 if tr.precision == "fp32" else 2


def tied_grad_sum_bytes(arch, tr: Training) -> float:
    """Extra bytes at the end of backward when a trained, tied embedding matrix receives its second gradient.

    The tied matrix is used twice (token embedding and lm_head), so two full-size gradients meet in its
    AccumulateGrad node's InputBuffer: the head's arrives first and waits, and the engine sums the embedding's
    (``aten.embedding_dense_backward``, the last op of backward: every other gradient is live too) into it. The sum
    is in place when the waiting gradient is a plain tensor the buffer holds alone, else out of place
    (torch==2.13.0:torch/csrc/autograd/input_buffer.cpp:accumulate, can_accumulate_inplace). Under autocast the
    head's gradient comes through the weight's cast (the backward of aten._to_copy: a fresh fp32 tensor), so it is
    summed in place: two vocab x d_model gradients live where the estimate had one, 1 x vocab x d_model x gradient
    bytes. Without autocast (fp32, pure 16-bit) it is mm's weight gradient, a view (torch/csrc/autograd/FunctionsManual.cpp:
    mm_mat2_backward returns ``grad.t().mm(mat1).t()`` for the column-major ``weight.t()``, read at an older pytorch
    commit; on torch==2.13.0 the allocator of a real run with no mode shows that sum out of place:
    tests/estimate/test_tracker_input_buffer.py), and TBackward transposes it back; a view keeps its base, so its storage has two owners and the sum is out of place:
    three gradients, 2 x. With gradient accumulation the accumulated ``.grad`` is one more. Measured on Gemma and OPT
    (FakeTensorMode, --measure's tracker accounting the engine's sums as a run without a dispatch mode makes them:
    llmspec.estimate._tracker; tests/estimate/test_tracker_input_buffer.py checks that against the allocator of real
    runs): bf16-mixed, bf16 and fp32, accumulation 1 and 2, each within 0.02 x vocab x d_model x gradient bytes. The
    old tracker counted every sum out of place, and this term was fitted on it: 2 (3 with accumulation) under
    autocast too, one vocab x d_model fp32 gradient high (Gemma, Gemma 2, Falcon, OPT and OLMo held-out family cases:
    6-12% over the fixed measurement). LoRA / QLoRA: the embedding is frozen (0)."""
    if not arch.tie_embeddings or tr.method in ("lora", "qlora"):
        return 0.0
    summed = 1.0 if P.is_amp(tr.precision) else 2.0  # in place into the cast's fresh gradient / out of place to a view
    return (summed + (tr.gradient_accumulation > 1)) * arch.vocab_size * arch.d_model * P.grad_bytes(tr.precision)


BATCH_KEYS = ("micro_batch_size", "seq_len", "gradient_accumulation")
"""The [training] keys that only the batch-shape part of the estimate reads (training_memory); training_static
never reads them, so `sweep plan` computes one static part for all points that differ only in these
(tests/estimate/test_training_static.py)."""


@dataclass
class TrainingStatic:
    """What training_static computes once for every batch shape: bytes, and bytes per token before the batch's
    tokens and tensor parallelism scale them."""

    parts: dict[str, float]
    """weights, grads, states, temp, dequant (after the stack's static knobs), live_grads (as it is when gradients
    accumulate), kept_per_token, and buckets (DeepSpeed) when set."""
    master: float
    copies: float
    gathered: float
    mp: int
    tp: int
    blocks: list[tuple[int, float]]
    """(number of blocks, saved bytes per token without the attention scores) per kind of block."""
    non_layer_f: float
    non_layer_b: float
    checkpoint: float
    ckpt_temps: float
    """Per token: what the first recomputed block's backward holds beyond its saved activations (recompute)."""
    ckpt_grads: float
    """The gradients live during that block's backward (recompute.first_block_grad_numel, as sharded)."""
    experts_all: float
    experts_one: float
    expert_grad: float
    logits_f: float
    logits_b: float
    copies_bwd: float
    """The autocast copies still live at the start of backward (under checkpointing: the head's only)."""
    step: tuple[float, float, float, float]
    """training.optimizer_in_backward (step_in_backward; zeros otherwise): the gradient bytes live while the first
    large tensor steps inside backward, that step's buffers, the head's gradient while the head's backward still
    holds the logits' gradient, and the head's autocast copy (freed once the head's backward ran)."""
    base_bytes: float
    notes: list[str]
    capacity: tuple[int | None, str | None, list[str]]
    accelerator_note: str
    ckpt_copies: float = 0.0
    """The recomputed block's autocast copies, live in its backward (recompute.recomputed_copy_numel)."""
    ckpt_first_grads: float = 0.0
    """The gradients live while the first block is recomputed (recompute.first_block_grad_numel_at_end, sharded)."""
    attn_grads: float = 0.0
    """The gradients live at the last block's attention-score backward (attn_backward.attention_backward_grad_numel,
    as sharded)."""
    attn_share_of_copies: float = 0.0
    """The share of the autocast copies freed by then: those of the same parameters, out of every linear's."""
    expert_step: tuple[float, float] = (0.0, 0.0)
    """training.optimizer_in_backward with fused MoE experts (expert_step_in_backward): the gradient and step-buffer
    bytes of one block's gate_up expert stack while it steps in the last block's backward."""
    sharded: bool = False
    """FSDP / ZeRO over more than one data-parallel rank."""


def training_static(spec: Spec) -> TrainingStatic:
    """The part of the estimate that reads no key of BATCH_KEYS: model state, parallelism, the stack knobs that do
    not depend on the batch shape, and the activations' per-token coefficients."""
    spec = S.trained_spec(spec)  # the head as the stack builds it (training.tie_embeddings)
    tr = spec.training or Training()
    hw = spec.hardware or Hardware()
    arch = spec.arch
    lay = layout(arch)
    pc = count_params(arch, tr, family=spec.model.family)
    N, Nt = pc.total, pc.trainable
    lora = tr.method in ("lora", "qlora")
    prec = tr.precision
    notes: list[str] = []
    dequant = 0.0

    # --- model state (bytes, as floats: NF4 and int4 are fractional; rounded once, in the breakdown) -----
    weights: float
    copies: float
    frozen: float
    mats: list[tuple[int, int, int]] = []
    if lora:
        base = _base_bytes(tr)
        if tr.method == "qlora":
            dq = tr.lora.double_quant if tr.lora else True
            frozen = lay.block_linear_numel * P.nf4_bytes(dq) + (N - lay.block_linear_numel) * base
            fmt, block = (tr.lora.quant_format, tr.lora.quant_block) if tr.lora else ("nf4", 64)
            notes.append(f"QLoRA: block linears {fmt.upper()} ({8 * S.nf4_bytes(dq, block):.4g} bits: scales per "
                         f"{block}{', double quantisation' if dq else ''}); embeddings, head and norms {8 * base}-bit; "
                         "+ one dequantised weight in forward/backward")
            # bitsandbytes MatMul4Bit dequantises each 4-bit weight to the compute dtype for its matmul, in forward
            # and again in backward (bitsandbytes/autograd/_functions.py, F.dequantize_4bit): one weight-sized
            # transient, the largest block linear at the peak. Added after the published comparison (see
            # benchmarks/memory_accuracy.md); measure.py counts the same buffer.
            dequant = max((m.rows * m.cols for m in lay.block_linears), default=0) * base
        else:
            frozen = N * base
        weights = frozen + Nt * P.trainable_weight_bytes(prec)
        copies = Nt * P.cast_copy_bytes(prec)
        if tr.lora:
            shapes = lora_shapes(arch, tr.lora.targets, spec.model.family)
            rank = tr.lora.rank
            mats = [(s.d_in, rank * s.rank_factor, s.copies) for s in shapes] + [
                (rank * s.rank_factor, s.d_out, s.copies) for s in shapes]
        vectors = 0
    else:
        weights = N * P.trainable_weight_bytes(prec)
        copies = lay.linear_numel * P.cast_copy_bytes(prec)
        mats = [(m.rows, m.cols, m.copies) for m in lay.matrices
                if not (m.kind == "head" and arch.tie_embeddings)]
        vectors = lay.vectors
    if P.is_amp(prec):
        notes.append(f"{prec}: fp32 trainable weights, gradients and optimizer states; autocast keeps a "
                     f"{P.cast_copy_bytes(prec)}-byte copy of each trainable matmul weight")
    sbytes = P.state_bytes(prec, tr.master_weights_fp32)
    master: float = Nt * P.master_bytes(prec, tr.master_weights_fp32)
    grads: float = Nt * P.grad_bytes(prec)
    states: float = P.optimizer_state_bytes(tr.optimizer, tr.momentum, sbytes, mats, vectors)
    largest = max((r * c for r, c, _ in mats), default=0)
    temp: float = P.optimizer_temp_bytes(tr.optimizer, sbytes, Nt, largest)

    # --- parallelism -------------------------------------------------------------------------------
    mp = hw.tensor_parallel * hw.pipeline_parallel
    dp = max(1, hw.world_size // mp)
    sharding = hw.sharding if dp > 1 else "none"
    gathered = 0.0
    if sharding in ("zero1", "zero2", "zero3", "fsdp"):
        states, master, temp = states / dp, master / dp, temp / dp
    if sharding in ("zero2", "zero3", "fsdp"):
        grads /= dp
    # bytes per parameter of a layer when it is all-gathered: its stored dtype (NF4 under QLoRA, not 16 bits)
    cbytes = P.gathered_bytes(tr.method, prec, tr.base_dtype, tr.lora.double_quant if tr.lora else True)
    if sharding in ("zero3", "fsdp"):
        weights, copies = weights / dp, copies / dp
        gathered = 2 * lay.layer_params * cbytes
        notes.append(f"{sharding} over {dp} ranks: two all-gathered layers live (compute + prefetch), "
                     f"{8 * cbytes:g} bits per parameter")
        if sharding == "fsdp":
            gathered += S.fsdp_root_unit(arch, N, lay.layer_params, tr, notes)
    if hw.sharding != "none" and dp == 1:
        notes.append(f"sharding {hw.sharding} has no effect with one data-parallel rank")
    if hw.offload != "none":
        # ZeRO-Offload (Ren et al. 2021, section 4.1): optimizer states, fp32 master weights and the gradient
        # partitions live in CPU memory; each gradient is moved out as soon as it is reduced, so the GPU keeps
        # the reduce bucket, about one layer's 16-bit gradients, and 16-bit weights for compute
        states, master, temp = 0, 0, 0
        grads = min(grads, lay.layer_params * 2) if not lora else grads
        if not lora:
            weights = N * 2 / (dp if sharding in ("zero3", "fsdp") else 1)
            copies = 0
        if hw.offload == "optimizer+params":
            # parameters offloaded too (ZeRO-Infinity / FSDP CPUOffload(offload_params=True)): the frozen base of
            # LoRA/QLoRA as well as full weights; layers are fetched as they run (two gathered)
            weights = Nt * P.trainable_weight_bytes(prec) if lora else 0
            copies = 0
            gathered = gathered or 2 * lay.layer_params * cbytes
        notes.append(f"offload {hw.offload}: optimizer states, master weights and gradient partitions in CPU memory"
                     + ("; weights too, two layers fetched at a time" if hw.offload == "optimizer+params" else ""))
    weights, copies, grads, states, master, temp = (x / mp for x in (weights, copies, grads, states, master, temp))

    if tr.activation_checkpointing and tr.checkpoint_policy == "selective-op":
        notes.append(f"checkpoint_policy selective-op: each block keeps its input and "
                     f"{A.selective_saved_bytes_per_token(arch, tr, spec.model.family):,.0f} B per token of saved op "
                     "outputs (every other matmul, the attention output and log-sum-exp: torchtitan's per-op policy)")
    elif tr.activation_checkpointing and tr.checkpoint_policy == "every-n":
        notes.append(f"checkpoint_policy every-n: {A.checkpointed_blocks(arch, tr)} of {arch.n_layers} blocks "
                     "checkpointed, the others keep every activation")
    # --- per-token coefficients of the activations (scaled by the batch shape in training_memory) -----------------
    tp = hw.tensor_parallel
    family = spec.model.family
    experts_all, experts_one = (x / tp for x in A.lora_expert_weight_bytes(arch, tr, family))
    # with checkpointing: the first recomputed block's backward temporaries (per token) and the gradients live then
    ckpt_temps = R.checkpointed_backward_bytes_per_token(arch, tr, family) if tr.activation_checkpointing else 0.0
    largest_linear = max((m.rows * m.cols for m in lay.block_linears), default=0)
    ckpt_share = R.first_block_grad_numel(arch, tr, largest_linear) / max(Nt, 1)
    first_share = R.first_block_grad_numel_at_end(arch, tr, Nt, lay.embedding_numel, lay.layer_params,
                                                  largest_linear) / max(Nt, 1)
    copy_share = R.recomputed_copy_numel(lay.layer_params, largest_linear, tr) / max(lay.linear_numel, 1)

    # --- training-stack knobs that do not depend on the batch shape (llmspec.estimate.stack; issue 12) -------------
    parts = {"weights": weights, "grads": grads, "states": states, "temp": temp, "live_grads": grads,
             "dequant": dequant}
    notes += S.apply_static(spec, tr, parts, n_trainable=Nt, sbytes=sbytes, largest=largest,
                            base_bytes=_base_bytes(tr), frozen_quantised=lay.block_linear_numel)
    head_copy = copies * A.checkpointed_copy_share(arch, tr, lay.linear_numel) if tr.optimizer_in_backward else 0.0
    step = (*step_in_backward(arch, tr, lay, parts, largest), head_copy)
    expert_step = expert_step_in_backward(arch, tr, parts, largest)
    cap, acc, cap_notes = capacity(spec)
    ckpt_grads = min(1.0, ckpt_share) * parts["grads"] if tr.activation_checkpointing else 0.0
    ckpt_first_grads = min(1.0, first_share) * parts["grads"] if tr.activation_checkpointing else 0.0
    attn_share = AB.attention_backward_grad_numel(arch, tr, lay.layer_params) / max(Nt, 1)
    return TrainingStatic(
        parts=parts, master=master, copies=copies, gathered=gathered + parts.get("buckets", 0.0), mp=mp, tp=tp,
        blocks=A.block_terms(arch, tr, family),
        non_layer_f=A.non_layer_bytes_per_token(arch, tr, "forward"),
        non_layer_b=A.non_layer_bytes_per_token(arch, tr, "backward"),
        checkpoint=A.checkpoint_bytes_per_token(arch, tr, family), ckpt_temps=ckpt_temps, ckpt_grads=ckpt_grads,
        experts_all=experts_all, experts_one=experts_one, expert_grad=A.lora_expert_grad_bytes(arch, tr, family) / tp,
        logits_f=A.logits_bytes_per_token(arch, "forward", prec, family),
        logits_b=A.logits_bytes_per_token(arch, "backward", prec, family),
        copies_bwd=copies * A.checkpointed_copy_share(arch, tr, lay.linear_numel) if tr.activation_checkpointing
        else copies, step=step, expert_step=expert_step, base_bytes=_base_bytes(tr), notes=notes,
        capacity=(cap, acc, cap_notes), accelerator_note=accelerator_note(spec),
        ckpt_copies=copies * min(1.0, copy_share) if tr.activation_checkpointing else 0.0,
        ckpt_first_grads=ckpt_first_grads,
        attn_grads=min(1.0, attn_share) * parts["grads"],
        attn_share_of_copies=AB.attention_backward_grad_numel(arch, tr, lay.layer_params) / max(lay.linear_numel, 1)
        if copies else 0.0, sharded=sharding != "none")


def step_in_backward(arch, tr: Training, lay, parts: dict, largest: int) -> tuple[float, float, float]:
    """(gradient bytes, optimizer buffer bytes) live while the first large tensor steps inside backward under
    training.optimizer_in_backward, and the head's gradient bytes; zeros otherwise.

    Each parameter's optimizer runs from its post-accumulate-grad hook (torch==2.13.0:torch/_tensor.py:
    Tensor.register_post_accumulate_grad_hook; torchtune==0.6.1:torchtune/training/memory.py:
    register_optim_in_bwd_hooks: ``optim_dict[param].step()`` then ``zero_grad()``), so a gradient lives only until
    its own step. The first parameter backward reaches is the output head, right after the loss backward: the loss
    buffers are freed by then, but every block's saved activations are still live, beside the head's gradient and
    the transients of its step (foreach AdamW's ``torch._foreach_sqrt(exp_avg_sq)``, one head-sized buffer:
    torch==2.13.0:torch/optim/adamw.py:_multi_tensor_adamw). The optimizer states exist from the first step on (AdamW
    allocates them lazily in _init_group), so they are live too from the second step. With a vocabulary above a few
    times the tokens per micro-batch this, not the start of backward, is the peak (measured on LlamaForCausalLM and
    Qwen2ForCausalLM under FakeTensorMode: tests/estimate/test_optimizer_in_backward.py). A tied head is not stepped
    there: autograd sums its two gradients in the AccumulateGrad node's input buffer and runs the node once, after
    the embedding's backward at the very end (torch==2.13.0:torch/csrc/autograd/input_buffer.cpp: InputBuffer::add),
    so its head-side gradient stays live through backward while the last block's largest linear steps first. Under
    LoRA the head is frozen and the first step is one adapter's (the largest).

    Just before that step the head's backward (one mm node: input and weight gradients) still holds its incoming
    gradient, the logits' (batch x seq x vocab in the compute dtype), beside the head's new gradient; the node frees
    it before AccumulateGrad runs the hook. That moment is the higher one when the step needs no head-sized buffer
    (fused AdamW, SGD) or the tokens outnumber d_model; training_memory takes the larger of the two."""
    if not tr.optimizer_in_backward or not largest:
        return 0.0, 0.0, 0.0
    per_grad, per_temp = parts["grads"] / largest, parts["temp"] / largest
    held = 0
    if tr.method in ("lora", "qlora"):
        first = largest
    elif arch.tie_embeddings:
        first = max((m.rows * m.cols for m in lay.block_linears), default=0)
        held = arch.vocab_size * arch.d_model
    else:
        first = max((m.rows * m.cols for m in lay.matrices if m.kind == "head"), default=largest)
    head = 0 if tr.method in ("lora", "qlora") else arch.vocab_size * arch.d_model
    return (first + held) * per_grad, first * per_temp, head * per_grad


def expert_step_in_backward(arch, tr: Training, parts: dict, largest: int) -> tuple[float, float]:
    """(gradient bytes, step buffer bytes) of one MoE block's fused gate_up expert stack stepped inside backward
    under training.optimizer_in_backward (full fine-tuning of a transformers class); zeros otherwise.

    transformers 5 stores a block's experts as one 3-D parameter per projection (transformers==5.24.0:src/
    transformers/models/mixtral/modeling_mixtral.py:MixtralExperts, ``gate_up_proj`` n_experts x 2 ffn x d_model;
    the same layout in Qwen2-MoE and Qwen3-MoE), so each is one tensor for its post-accumulate-grad hook. The last
    block's gate_up stack steps early in backward, after the head's step (whose gradient is gone by then): its
    gradient and the step's transient (foreach AdamW's ``_foreach_sqrt(exp_avg_sq)``, one stack-sized buffer:
    torch==2.13.0:torch/optim/adamw.py:_multi_tensor_adamw) sit beside every block's saved activations except that
    block's expert MLP, whose backward has run (measured on MixtralForCausalLM under FakeTensorMode,
    tests/estimate/test_optimizer_in_backward.py). With Mixtral's widths the stack (8 x 28,672 x 4,096) is 7x the
    head, and this moment, not the head's step, is the peak."""
    if not tr.optimizer_in_backward or not largest or arch.moe is None or tr.method in ("lora", "qlora") \
            or not A.transformers_classes(tr):
        return 0.0, 0.0
    m = arch.moe
    stack = m.n_experts * 2 * (m.expert_ffn_dim or arch.ffn_dim) * arch.d_model
    return stack * parts["grads"] / largest, stack * parts["temp"] / largest


def training_memory(spec: Spec, static: TrainingStatic | None = None) -> MemoryEstimate:
    """Training memory per GPU. ``static``: training_static of this spec or of one that differs from it only in
    BATCH_KEYS (a sweep computes it once for all such points)."""
    spec = S.trained_spec(spec)  # the head as the stack builds it (training.tie_embeddings)
    tr = spec.training or Training()
    hw = spec.hardware or Hardware()
    arch = spec.arch
    st = static if static is not None else training_static(spec)
    notes = list(st.notes)
    master, copies, gathered, tp = st.master, st.copies, st.gathered, st.tp

    # --- activations -------------------------------------------------------------------------------
    T = tr.micro_batch_size * tr.seq_len
    scores = A.attention_scores_bytes_per_token(arch, tr, tr.seq_len, spec.model.family)
    blocks = sum(n * (b + scores) for n, b in st.blocks) * T / tp
    largest_block = max(b + scores for _, b in st.blocks) * T / tp
    non_layer_f = st.non_layer_f * T / tp
    non_layer_b = st.non_layer_b * T / tp
    kept = arch.n_layers * st.checkpoint * T / tp if tr.activation_checkpointing else blocks
    # training.checkpoint_policy: "selective-op" keeps the saved op outputs in st.checkpoint and recomputes only the
    # rest of the block; "every-n" checkpoints one block in n, the others keep everything (A.checkpointed_blocks)
    recompute = (largest_block - A.selective_saved_bytes_per_token(arch, tr, spec.model.family) * T / tp
                 if tr.activation_checkpointing else 0.0)
    n_ckpt = A.checkpointed_blocks(arch, tr)
    if tr.activation_checkpointing and n_ckpt < arch.n_layers:
        kept = n_ckpt * st.checkpoint * T / tp + blocks * (arch.n_layers - n_ckpt) / arch.n_layers
    expert_grad = st.expert_grad
    if tr.activation_checkpointing:
        recompute += st.experts_one + expert_grad
    else:
        kept += st.experts_all
    ckpt_temps = st.ckpt_temps * T / tp
    if tr.activation_checkpointing and A.math_attention(arch, spec.model.family):
        # sdpa's math kernel: the recomputed block's attention backward can peak instead of its MLP's (recompute:
        # score-sized fp32 gradients, the MLP's saved activations freed and its other weight gradients made)
        ckpt_temps = max(ckpt_temps, R.math_attention_backward_bytes_per_token(arch, tr, tr.seq_len, spec.model.family)
                         * T / tp + R.math_attention_backward_grad_numel(arch, tr, spec.model.family)
                         * P.grad_bytes(tr.precision) / st.mp)
    score_temps = AB.score_backward_bytes_per_token(arch, tr, tr.seq_len, spec.model.family) * T / tp
    # the last block at its score backward: only its attention input side and fp32 probabilities are left
    retained = (AB.retained_bytes_per_token(arch, tr, spec.model.family)
                + AB.probabilities_bytes_per_token(arch, tr, tr.seq_len, spec.model.family)) * T / tp if score_temps else 0.0
    # the autocast copies of the layers backward has passed are freed with their saved inputs (under checkpointing
    # only the head's was left, and it is freed by then)
    copies_attn = 0.0 if tr.activation_checkpointing else copies * max(0.0, 1.0 - st.attn_share_of_copies)
    copies_bwd = st.copies_bwd
    tied = tied_grad_sum_bytes(arch, tr) / st.mp  # reads gradient_accumulation: the batch part

    # --- training-stack knobs that depend on the batch shape (llmspec.estimate.stack; issue 12) ------------------
    per_layer = st.checkpoint * T / tp if tr.activation_checkpointing else largest_block
    parts = dict(st.parts)
    parts.update(kept=kept, logits_f=st.logits_f * T / tp, logits_b=st.logits_b * T / tp, per_layer_kept=per_layer,
                 live_grads=parts["live_grads"] if tr.gradient_accumulation > 1 else 0.0)
    notes += S.apply_batch(spec, tr, parts, base_bytes=st.base_bytes, tokens=T / tp)
    weights, grads, states, temp, kept, logits_f, logits_b, live_grads = (
        parts[k] for k in ("weights", "grads", "states", "temp", "kept", "logits_f", "logits_b", "live_grads"))
    dequant = parts["dequant"]  # QLoRA's dequantised-weight transient, as the stack's quantiser makes it
    mask = dense_mask(spec)  # padded batches / sliding windows under sdpa (llmspec.estimate.mask; issue 12)
    kept += mask.kept
    recompute += mask.recompute  # the recomputed block's additive mask; the bool mask is in kept
    notes += [mask.note] if mask.note else []

    # --- phases --------------------------------------------------------------------------------------
    state = weights + master + states + gathered
    # four moments of backward: its start (loss gradients, every activation), its end (every gradient; the tied
    # matrix's two gradients summed, or one recomputed block), with checkpointing the first recomputed block's
    # backward (loss buffers gone; every checkpointed input, the block and its temporaries: llmspec.estimate.recompute)
    # and, with LoRA on fused MoE experts, the first MoE block's backward (loss buffers gone, one expert stack's
    # full-size gradient live: lora_expert_grad_bytes); with materialised attention scores, the last block's softmax
    # backward (loss buffers gone, two fp32 score-sized gradients; llmspec.estimate.attn_backward)
    # the recomputed block's backward is taken at the last block (every checkpointed input live, few gradients) and at
    # the first (one checkpointed input, every later block's gradients: recompute.first_block_grad_numel_at_end);
    # in both the recomputed block's autocast copies are live and the head's is gone (recomputed_copy_numel)
    buffered = R.buffered_tied_grad_numel(arch, tr) * P.grad_bytes(tr.precision) / st.mp if live_grads else 0.0
    recomputed = max(live_grads + buffered, st.ckpt_grads)
    first_grads = max(live_grads + buffered, st.ckpt_first_grads)
    kept_first = (st.checkpoint * T / tp + mask.kept) if tr.activation_checkpointing else 0.0
    ckpt_copies = st.ckpt_copies
    if tr.activation_checkpointing and n_ckpt < arch.n_layers:
        # every-n: the blocks that are not checkpointed keep their autocast weight copies saved for backward
        ckpt_copies += copies * (arch.n_layers - n_ckpt) / arch.n_layers
        copies_bwd += copies * (arch.n_layers - n_ckpt) / arch.n_layers
    attn_grads = max(live_grads + buffered, st.attn_grads)
    step_grads, step_temp, step_head, head_copy = st.step
    # the last MoE block's expert MLP saved bytes (the routed width's and the routed copies; activations._FULL)
    moe_mlp = (A.moe_mlp_bytes_per_token(arch, tr) * T / tp) if st.expert_step[0] else 0.0
    logits_grad = T * arch.vocab_size * P.activation_bytes(tr.precision) / tp if tr.loss == "full" else 0.0
    inside = copies_bwd + step_head + logits_grad
    # the chunked loss's head backward: the chunks' head weight gradients summed out of place beside the logits
    # gradients of the chunks not yet run (llmspec.estimate.loss_backward)
    head_grads, head_logits = chunked_head_backward_bytes(arch, tr, T / tp, st.mp, st.sharded)
    after = copies_bwd - head_copy + step_grads + step_temp
    moments = {
        "start": state + dequant + copies_bwd + live_grads + kept + non_layer_b + logits_b,
        "end": state + dequant + grads + max(recompute, tied),
        "recompute": (state + dequant + ckpt_copies + recomputed + kept + recompute + ckpt_temps
                      if tr.activation_checkpointing else 0.0),
        "first_block": (state + dequant + ckpt_copies + first_grads + kept_first + recompute + ckpt_temps
                        if tr.activation_checkpointing and arch.n_layers > 1 else 0.0),
        "expert": (state + dequant + copies_bwd + live_grads + kept + expert_grad
                   if expert_grad and not tr.activation_checkpointing else 0.0),
        "attention": (state + dequant + copies_attn + attn_grads + score_temps + retained
                      + (kept if tr.activation_checkpointing else kept - largest_block) if score_temps else 0.0),
        # optimizer_in_backward: the head's backward holding the logits' gradient, then the first large tensor's step
        # with the head's autocast copy freed (step_in_backward)
        "step": state + dequant + kept + non_layer_b + max(inside, after) if tr.optimizer_in_backward else 0.0,
        # optimizer_in_backward with fused experts: the last block's gate_up stack steps once that block's expert MLP
        # backward ran (its saved tensors freed) and the head's input and gradient are gone (expert_step_in_backward)
        "expert_step": (state + dequant + copies_bwd - head_copy + kept - moe_mlp + sum(st.expert_step)
                        if st.expert_step[0] else 0.0),
        "chunk_head": (state + dequant + copies_bwd + live_grads + kept + non_layer_b + head_grads + head_logits
                       if head_grads else 0.0),
    }
    moment = max(moments, key=moments.__getitem__)
    phases = {
        "forward": state + dequant + copies + live_grads + kept + non_layer_f + logits_f,
        "backward": moments[moment],
        "optimizer": state + grads + temp,
    }
    if parts.get("load"):  # QLoRA quantised at load by torchao (stack.torchao_load; issue 12)
        phases["load"] = parts["load"]
    peak_phase = max(phases, key=phases.__getitem__)
    breakdown: dict[str, float] = {"weights": weights}
    if master:
        breakdown["master_weights"] = master
    if copies:
        # at the end of backward (all gradients live) the autocast copies are freed
        breakdown["autocast_copies"] = copies if peak_phase == "forward" else (
            0 if peak_phase != "backward" or moment == "end" else
            ckpt_copies if moment in ("recompute", "first_block") else copies_bwd)
    breakdown["gradients"] = {"forward": live_grads, "optimizer": grads}.get(peak_phase, 0)
    breakdown["optimizer_states"] = states
    if gathered:
        breakdown["gathered_layers"] = gathered
    if dequant and peak_phase != "optimizer":
        breakdown["dequant_buffer"] = dequant
    if peak_phase == "optimizer":
        breakdown["optimizer_buffers"] = temp
    elif peak_phase == "backward" and moment == "end":
        breakdown["gradients"] = grads
        if tied > recompute:
            breakdown["tied_gradient_sum"] = tied
        else:
            breakdown["activations"] = recompute
    else:
        if peak_phase == "backward":
            breakdown["gradients"] = {"recompute": recomputed, "first_block": first_grads,
                                      "attention": attn_grads}.get(moment, live_grads)
        if peak_phase == "backward" and moment == "attention":
            breakdown["autocast_copies"] = copies_attn
            breakdown["activations"] = retained + (kept if tr.activation_checkpointing else kept - largest_block)
            breakdown["backward_temporaries"] = score_temps
        elif peak_phase == "backward" and moment == "step":
            breakdown["activations"] = kept + non_layer_b
            if after >= inside:
                breakdown["autocast_copies"] = copies_bwd - head_copy
                breakdown["gradients"] = step_grads
                breakdown["optimizer_buffers"] = step_temp
            else:
                breakdown["gradients"] = step_head
                breakdown["logits_and_loss"] = logits_grad
        elif peak_phase == "backward" and moment == "expert_step":
            breakdown["autocast_copies"] = copies_bwd - head_copy
            breakdown["activations"] = kept - moe_mlp
            breakdown["gradients"], breakdown["optimizer_buffers"] = st.expert_step
        elif peak_phase == "backward" and moment == "chunk_head":
            breakdown["activations"] = kept + non_layer_b
            breakdown["gradients"] = live_grads + head_grads
            breakdown["logits_and_loss"] = head_logits
        elif peak_phase == "backward" and moment == "expert":
            breakdown["activations"] = kept
            breakdown["expert_weight_gradient"] = expert_grad
        elif peak_phase == "backward" and moment in ("recompute", "first_block"):
            # a negative residual (recompute: the block's fit counts more than the recomputation keeps) nets there
            breakdown["activations"] = (kept if moment == "recompute" else kept_first) + recompute + min(ckpt_temps, 0.0)
            breakdown["backward_temporaries"] = max(ckpt_temps, 0.0)
        else:
            breakdown["activations"] = kept + (non_layer_f if peak_phase == "forward" else non_layer_b)
            breakdown["logits_and_loss"] = logits_f if peak_phase == "forward" else logits_b
    if peak_phase == "load":
        breakdown = {"weights": weights, "load_quantisation": parts["load"] - weights}
    rounded = {k: int(round(v)) for k, v in breakdown.items() if v}
    per_gpu = sum(rounded.values())
    if tr.dropout:
        notes.append("dropout: the hidden-state dropout masks of the real class are counted (family registry); "
                     "attention-probability dropout runs inside the fused attention kernel and saves none")
    notes += attention_version_notes(arch, spec.model.family)  # version-dependent registry facts
    notes.append(OVERHEAD_NOTE)
    cap, acc, cap_notes = st.capacity
    return MemoryEstimate(
        mode="training",
        per_gpu_bytes=per_gpu,
        overhead_bytes=overhead(per_gpu, hw.world_size),
        capacity_bytes=cap,
        breakdown=rounded,
        peak_phase=peak_phase,
        phases={k: (per_gpu if k == peak_phase else min(int(round(v)), per_gpu)) for k, v in phases.items()},
        assumptions=notes + cap_notes,
        accelerator=acc,
        accelerator_note=st.accelerator_note,
    )
