"""Training memory per GPU: weights, casts, gradients, optimizer states, activations, logits; peak over phases.

Phases of one steady-state optimizer step (the second: optimizer states exist), as measured (NOTES.md):

* forward  — end of forward: weights + optimizer states + autocast copies + saved activations + logits
  (+ gradients when gradient_accumulation > 1: they stay live from the second micro-step on);
* backward — the largest of its moments (llmspec.estimate.moments: its start, its end, a recomputed block's
  backward, an expert stack's or the attention scores' backward, a step inside backward, the chunked loss's head);
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
from typing import TypeVar

from llmspec.estimate import activations as A
from llmspec.estimate import moments as M
from llmspec.estimate import precision as P
from llmspec.estimate import recompute as R
from llmspec.estimate import stack as S
from llmspec.estimate.hfversion import attention_version_notes
from llmspec.estimate.mask import training_mask as dense_mask
from llmspec.estimate.params import count_params, lora_shapes
from llmspec.estimate.result import OVERHEAD_NOTE, MemoryEstimate, accelerator_note, capacity, overhead_parts
from llmspec.estimate.shapes import layout
from llmspec.spec.models import Hardware, Spec, Training


def _base_bytes(tr: Training) -> float:
    if tr.base_dtype:
        return P.DTYPE_BYTES[tr.base_dtype]
    return 4 if tr.precision == "fp32" else 2


_M = TypeVar("_M", bound=M.Moment)

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
    experts_all: float
    experts_one: float
    expert_grad: float
    logits_f: float
    logits_b: float
    copies_bwd: float
    """The autocast copies still live at the start of backward (under checkpointing: the head's only, and under
    checkpoint_policy every-n those of the blocks that are not checkpointed)."""
    moments: tuple[M.Moment, ...]
    """The moments of backward that can happen for this spec, with their static inputs (llmspec.estimate.moments)."""
    base_bytes: float
    notes: list[str]
    capacity: tuple[int | None, str | None, list[str]]
    accelerator_note: str

    def moment(self, kind: type[_M]) -> _M | None:
        """The static inputs of one kind of moment, or None when it cannot happen for this spec."""
        return next((m for m in self.moments if isinstance(m, kind) and type(m) is kind), None)


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

    # --- training-stack knobs that do not depend on the batch shape (llmspec.estimate.stack; issue 12) -------------
    parts = {"weights": weights, "grads": grads, "states": states, "temp": temp, "live_grads": grads,
             "dequant": dequant}
    notes += S.apply_static(spec, tr, parts, n_trainable=Nt, sbytes=sbytes, largest=largest,
                            base_bytes=_base_bytes(tr), frozen_quantised=lay.block_linear_numel)
    cap, acc, cap_notes = capacity(spec)
    copies_bwd = copies * A.checkpointed_copy_share(arch, tr, lay.linear_numel) if tr.activation_checkpointing \
        else copies
    n_ckpt = A.checkpointed_blocks(arch, tr)
    if tr.activation_checkpointing and n_ckpt < arch.n_layers:
        # every-n: the blocks that are not checkpointed keep their autocast weight copies saved for backward
        copies_bwd += copies * (arch.n_layers - n_ckpt) / arch.n_layers
    model = M.Model(spec=spec, lay=lay, trainable=Nt, grads=parts["grads"], temp=parts["temp"], copies=copies,
                    largest=largest, sharded=sharding != "none")
    return TrainingStatic(
        parts=parts, master=master, copies=copies, gathered=gathered + parts.get("buckets", 0.0), mp=mp, tp=tp,
        blocks=A.block_terms(arch, tr, family),
        non_layer_f=A.non_layer_bytes_per_token(arch, tr, "forward"),
        non_layer_b=A.non_layer_bytes_per_token(arch, tr, "backward"),
        checkpoint=A.checkpoint_bytes_per_token(arch, tr, family),
        experts_all=experts_all, experts_one=experts_one, expert_grad=A.lora_expert_grad_bytes(arch, tr, family) / tp,
        logits_f=A.logits_bytes_per_token(arch, "forward", prec, family),
        logits_b=A.logits_bytes_per_token(arch, "backward", prec, family),
        copies_bwd=copies_bwd, moments=M.static_moments(model), base_bytes=_base_bytes(tr), notes=notes,
        capacity=(cap, acc, cap_notes), accelerator_note=accelerator_note(spec))


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
    kept_above = 0.0
    if tr.activation_checkpointing and n_ckpt < arch.n_layers:
        kept = n_ckpt * st.checkpoint * T / tp + blocks * (arch.n_layers - n_ckpt) / arch.n_layers
        # backward runs from the last block down: the blocks above the last checkpointed one (n x n_ckpt) have
        # freed their saved activations when it is recomputed (torch==2.13.0:torch/utils/checkpoint.py: a
        # non-reentrant checkpoint recomputes when its block's backward first unpacks a saved tensor)
        above = arch.n_layers - (tr.checkpoint_every or 2) * n_ckpt if tr.checkpoint_policy == "every-n" else 0
        kept_above = max(0, above) * (blocks + st.experts_all) / arch.n_layers
    if tr.activation_checkpointing:
        recompute += st.experts_one + st.expert_grad
        # every-n: the blocks that are not checkpointed keep their experts' LoRA activations too
        kept += st.experts_all * (arch.n_layers - n_ckpt) / arch.n_layers
    else:
        kept += st.experts_all

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

    # --- phases: forward, backward (its largest moment: llmspec.estimate.moments), optimizer ----------------------
    state = weights + master + states + gathered
    buffered = R.buffered_tied_grad_numel(arch, tr) * P.grad_bytes(tr.precision) / st.mp if live_grads else 0.0
    backward = M.Backward(
        spec=spec, T=T, tp=tp, mp=st.mp, base=state + dequant, grads=grads, live_grads=live_grads,
        held_grads=live_grads + buffered, kept=kept, non_layer_b=non_layer_b, logits_b=logits_b, copies=copies,
        copies_bwd=st.copies_bwd, recompute=recompute, largest_block=largest_block,
        kept_first=(st.checkpoint * T / tp + mask.kept) if tr.activation_checkpointing else 0.0,
        expert_grad=st.expert_grad, kept_above=kept_above)
    _, peak = M.peak(st.moments, backward)
    phases = {
        "forward": state + dequant + copies + live_grads + kept + non_layer_f + logits_f,
        "backward": peak.total,
        "optimizer": state + grads + temp,
    }
    if parts.get("load"):  # QLoRA quantised at load by torchao (stack.torchao_load; issue 12)
        phases["load"] = parts["load"]
    peak_phase = max(phases, key=phases.__getitem__)
    items = {
        "forward": {"autocast_copies": copies, "gradients": live_grads, "activations": kept + non_layer_f,
                    "logits_and_loss": logits_f},
        "backward": peak.items,
        "optimizer": {"gradients": grads, "optimizer_buffers": temp},
    }.get(peak_phase, {})
    # the state's parts first (a part that is 0 at the peak is left out), then the phase's
    breakdown: dict[str, float] = {
        "weights": weights, "master_weights": master, "autocast_copies": 0.0, "gradients": 0.0,
        "optimizer_states": states, "gathered_layers": gathered,
        "dequant_buffer": dequant if peak_phase != "optimizer" else 0.0, **items}
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
        overhead_bytes=sum(overhead_parts(per_gpu, hw.world_size).values()),
        overhead_parts=overhead_parts(per_gpu, hw.world_size),
        capacity_bytes=cap,
        breakdown=rounded,
        peak_phase=peak_phase,
        phases={k: (per_gpu if k == peak_phase else min(int(round(v)), per_gpu)) for k, v in phases.items()},
        assumptions=notes + cap_notes,
        accelerator=acc,
        accelerator_note=st.accelerator_note,
    )
