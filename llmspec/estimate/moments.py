"""The moments of backward: each one a time in the backward pass where the training peak can fall (training.py).

training_memory takes the largest of them as its backward phase (the peak is a maximum, not a sum). Each moment is
one class of MOMENTS: its fields are its static inputs (``static`` computes them in training_static and reads no
key of training.BATCH_KEYS, so a sweep shares them between batch shapes), and ``at`` gives its bytes and its
breakdown for one batch shape, from the terms every moment shares (Backward). A new moment is one more class here
and one more entry in MOMENTS.

* start — its start: the loss gradients (12 B x vocab per token), every activation still live;
* end — its end: every gradient; the tied matrix's two gradients summed (tied_grad_sum_bytes), or one recomputed
  block's activations;
* recompute, first_block — with checkpointing, a recomputed block's backward, taken at the last block (every
  checkpointed input live, few gradients) and at the first (one checkpointed input, every later block's
  gradients): loss buffers gone, the block's saved activations, its 16-bit weight copies and backward temporaries
  (llmspec.estimate.recompute);
* expert — with LoRA on fused MoE experts, the first MoE block's backward (loss buffers gone, one expert stack's
  full-size gradient live: activations.lora_expert_grad_bytes);
* attention — where attention materialises its scores, the last block's softmax backward (loss buffers gone, two
  fp32 score-sized gradients; llmspec.estimate.attn_backward);
* step, expert_step — under training.optimizer_in_backward, the head's backward and the first large tensor's step
  (step_in_backward), and with fused experts the last block's gate_up stack's step (expert_step_in_backward);
* chunk_head — the chunked loss's head backward (llmspec.estimate.loss_backward).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from llmspec.estimate import activations as A
from llmspec.estimate import attn_backward as AB
from llmspec.estimate import precision as P
from llmspec.estimate import recompute as R
from llmspec.estimate.loss_backward import chunked_head_backward_bytes
from llmspec.estimate.shapes import Layout
from llmspec.spec.models import Architecture, Spec, Training


@dataclass(frozen=True)
class Model:
    """What the moments' static parts read: training_static's model state after sharding, tensor parallelism and the
    stack's static knobs (no key of training.BATCH_KEYS)."""

    spec: Spec
    """As the stack trains it (stack.trained_spec)."""
    lay: Layout
    trainable: int
    grads: float
    """Gradient bytes (as sharded) ..."""
    temp: float
    """... and the optimizer step's transient buffers."""
    copies: float
    """The autocast copies of the trainable matmul weights."""
    largest: int
    """Elements of the largest trainable matrix."""
    tp: int
    sharded: bool
    """FSDP / ZeRO over more than one data-parallel rank."""

    @property
    def arch(self) -> Architecture:
        return self.spec.arch

    @property
    def tr(self) -> Training:
        return self.spec.training or Training()

    @property
    def largest_linear(self) -> int:
        return max((m.rows * m.cols for m in self.lay.block_linears), default=0)

    @property
    def head_copy(self) -> float:
        """The head's autocast copy under training.optimizer_in_backward (freed once the head's backward ran)."""
        tr = self.tr
        return self.copies * A.checkpointed_copy_share(self.arch, tr, self.lay.linear_numel) \
            if tr.optimizer_in_backward else 0.0


@dataclass(frozen=True)
class Backward:
    """The terms every moment of one batch shape reads (bytes per GPU; training_memory)."""

    spec: Spec
    T: int
    """Tokens of the micro-batch (micro_batch_size x seq_len)."""
    tp: int
    mp: int
    base: float
    """Weights, master weights, optimizer states, gathered layers and QLoRA's dequantised weight."""
    grads: float
    """Every gradient."""
    live_grads: float
    """The accumulated gradients (gradient_accumulation > 1), live through backward."""
    held_grads: float
    """live_grads and the tied head's gradient buffered until the end (recompute.buffered_tied_grad_numel)."""
    kept: float
    """Every saved activation."""
    non_layer_b: float
    logits_b: float
    copies: float
    copies_bwd: float
    """The autocast copies still live at the start of backward (under checkpointing: the head's only)."""
    recompute: float
    """One recomputed block's activations (checkpointing) and its masks."""
    largest_block: float
    """The largest block's saved activations."""
    kept_first: float
    """With checkpointing: one checkpointed input and its mask (the first block's)."""
    expert_grad: float
    """LoRA on fused MoE experts: one expert stack's full-size gradient (activations.lora_expert_grad_bytes)."""

    @property
    def arch(self) -> Architecture:
        return self.spec.arch

    @property
    def tr(self) -> Training:
        return self.spec.training or Training()


@dataclass(frozen=True)
class Peak:
    """A moment's bytes and its breakdown items (training_memory puts the items after the state's)."""

    total: float
    items: dict[str, float]


@dataclass(frozen=True)
class Moment:
    """One moment of backward; the subclasses' fields are their static inputs."""

    name: ClassVar[str]

    @classmethod
    def static(cls, m: Model) -> Moment | None:
        """The moment's static inputs, or None when it never happens for this spec."""
        return cls()

    def at(self, b: Backward) -> Peak | None:
        """Bytes at the moment for one batch shape, or None when it does not happen there."""
        raise NotImplementedError


@dataclass(frozen=True)
class Start(Moment):
    """The start of backward: the loss gradients, every activation and the autocast copies still live."""

    name: ClassVar[str] = "start"

    def at(self, b: Backward) -> Peak:
        return Peak(b.base + b.copies_bwd + b.live_grads + b.kept + b.non_layer_b + b.logits_b,
                    {"autocast_copies": b.copies_bwd, "gradients": b.live_grads, "activations": b.kept + b.non_layer_b,
                     "logits_and_loss": b.logits_b})


def tied_grad_sum_bytes(arch, tr: Training) -> float:
    """Extra bytes at the end of backward when a trained, tied embedding matrix receives its second gradient.

    The tied matrix is used twice (token embedding and lm_head), so autograd's AccumulateGrad sums two full-size
    gradients: the head's (under autocast cast back to the fp32 weight: the backward of aten._to_copy) is already in
    ``.grad`` when ``aten.embedding_dense_backward`` produces the embedding's, and ``grad + new_grad`` is computed out
    of place (torch/csrc/autograd/functions/accumulate_grad.h, accumulateGrad: in place only when nothing else holds
    the old gradient). For that moment three vocab x d_model gradients are live where the estimate had one: 2 x vocab
    x d_model x gradient bytes. The embedding's backward is the last op of backward, so every other gradient is live
    too (measured on Gemma, Gemma 2, Falcon, OPT and OLMo under FakeTensorMode; benchmarks/memory_accuracy.md).
    LoRA / QLoRA: the embedding is frozen (0). With gradient accumulation the accumulated gradient is one more
    (measured: 3 extra on Gemma at 3 x 256k x 3072, the blind held-out case gemma-full-ckpt-accum)."""
    if not arch.tie_embeddings or tr.method in ("lora", "qlora"):
        return 0.0
    return (2.0 + (tr.gradient_accumulation > 1)) * arch.vocab_size * arch.d_model * P.grad_bytes(tr.precision)


@dataclass(frozen=True)
class End(Moment):
    """The end of backward: every gradient, with the tied matrix's two gradients summed (tied_grad_sum_bytes) or one
    recomputed block; the autocast copies are freed by then."""

    name: ClassVar[str] = "end"

    def at(self, b: Backward) -> Peak:
        tied = tied_grad_sum_bytes(b.arch, b.tr) / b.mp  # reads gradient_accumulation: the batch part
        last = {"tied_gradient_sum": tied} if tied > b.recompute else {"activations": b.recompute}
        return Peak(b.base + b.grads + max(b.recompute, tied), {"autocast_copies": 0, "gradients": b.grads, **last})


def _recomputed_copies(m: Model) -> float:
    """The recomputed block's autocast copies, live in its backward (recompute.recomputed_copy_numel; under
    checkpoint_policy every-n the blocks that are not checkpointed keep theirs, saved for backward)."""
    arch, tr = m.arch, m.tr
    share = R.recomputed_copy_numel(m.lay.layer_params, m.largest_linear, tr) / max(m.lay.linear_numel, 1)
    copies = m.copies * min(1.0, share)
    n_ckpt = A.checkpointed_blocks(arch, tr)
    if n_ckpt < arch.n_layers:
        copies += m.copies * (arch.n_layers - n_ckpt) / arch.n_layers
    return copies


@dataclass(frozen=True)
class Recompute(Moment):
    """With checkpointing, the last block's recomputed backward: loss buffers gone, every checkpointed input, the
    block's saved activations, its autocast copies and its backward temporaries (llmspec.estimate.recompute)."""

    name: ClassVar[str] = "recompute"
    grads: float
    """The gradients live during that block's backward (recompute.first_block_grad_numel, as sharded)."""
    copies: float
    """_recomputed_copies."""
    temps: float
    """Per token: what the recomputed block's backward holds beyond its saved activations (recompute)."""

    @classmethod
    def static(cls, m: Model) -> Moment | None:
        if not m.tr.activation_checkpointing:
            return None
        share = R.first_block_grad_numel(m.arch, m.tr, m.largest_linear) / max(m.trainable, 1)
        return cls(min(1.0, share) * m.grads, _recomputed_copies(m),
                   R.checkpointed_backward_bytes_per_token(m.arch, m.tr, m.spec.model.family))

    def kept(self, b: Backward) -> float:
        return b.kept

    def temporaries(self, b: Backward) -> float:
        arch, tr, family = b.arch, b.tr, b.spec.model.family
        temps = self.temps * b.T / b.tp
        if A.math_attention(arch, family):
            # sdpa's math kernel: the recomputed block's attention backward can peak instead of its MLP's (recompute:
            # score-sized fp32 gradients, the MLP's saved activations freed and its other weight gradients made)
            temps = max(temps, R.math_attention_backward_bytes_per_token(arch, tr, tr.seq_len, family) * b.T / b.tp
                        + R.math_attention_backward_grad_numel(arch, tr, family) * P.grad_bytes(tr.precision) / b.mp)
        return temps

    def at(self, b: Backward) -> Peak:
        grads = max(b.held_grads, self.grads)
        kept, temps = self.kept(b), self.temporaries(b)
        # a negative residual (recompute: the block's fit counts more than the recomputation keeps) nets there
        return Peak(b.base + self.copies + grads + kept + b.recompute + temps,
                    {"autocast_copies": self.copies, "gradients": grads,
                     "activations": kept + b.recompute + min(temps, 0.0), "backward_temporaries": max(temps, 0.0)})


@dataclass(frozen=True)
class FirstBlock(Recompute):
    """With checkpointing and more than one block, the first block's recomputed backward: one checkpointed input,
    every later block's gradients (recompute.first_block_grad_numel_at_end), the block's autocast copies (the head's
    is gone: recompute.recomputed_copy_numel) and its temporaries."""

    name: ClassVar[str] = "first_block"

    @classmethod
    def static(cls, m: Model) -> Moment | None:
        arch, tr, lay = m.arch, m.tr, m.lay
        if not tr.activation_checkpointing or arch.n_layers <= 1:
            return None
        share = R.first_block_grad_numel_at_end(arch, tr, m.trainable, lay.embedding_numel, lay.layer_params,
                                                m.largest_linear) / max(m.trainable, 1)
        return cls(min(1.0, share) * m.grads, _recomputed_copies(m),
                   R.checkpointed_backward_bytes_per_token(arch, tr, m.spec.model.family))

    def kept(self, b: Backward) -> float:
        return b.kept_first


@dataclass(frozen=True)
class Expert(Moment):
    """Without checkpointing, LoRA on fused MoE experts: the first MoE block's backward, loss buffers gone and one
    expert stack's full-size gradient live (activations.lora_expert_grad_bytes)."""

    name: ClassVar[str] = "expert"

    @classmethod
    def static(cls, m: Model) -> Moment | None:
        return None if m.tr.activation_checkpointing else cls()

    def at(self, b: Backward) -> Peak | None:
        if not b.expert_grad:
            return None
        return Peak(b.base + b.copies_bwd + b.live_grads + b.kept + b.expert_grad,
                    {"autocast_copies": b.copies_bwd, "gradients": b.live_grads, "activations": b.kept,
                     "expert_weight_gradient": b.expert_grad})


@dataclass(frozen=True)
class Attention(Moment):
    """With materialised attention scores, the last block's softmax backward: loss buffers gone, two fp32
    score-sized gradients (llmspec.estimate.attn_backward); only the block's attention input side and fp32
    probabilities are left of its activations."""

    name: ClassVar[str] = "attention"
    grads: float
    """The gradients live at the last block's attention-score backward (attn_backward.attention_backward_grad_numel,
    as sharded)."""
    share_of_copies: float
    """The share of the autocast copies freed by then: those of the same parameters, out of every linear's."""

    @classmethod
    def static(cls, m: Model) -> Moment | None:
        numel = AB.attention_backward_grad_numel(m.arch, m.tr, m.lay.layer_params)
        return cls(min(1.0, numel / max(m.trainable, 1)) * m.grads,
                   numel / max(m.lay.linear_numel, 1) if m.copies else 0.0)

    def at(self, b: Backward) -> Peak | None:
        arch, tr, family = b.arch, b.tr, b.spec.model.family
        temps = AB.score_backward_bytes_per_token(arch, tr, tr.seq_len, family) * b.T / b.tp
        if not temps:
            return None
        retained = (AB.retained_bytes_per_token(arch, tr, family)
                    + AB.probabilities_bytes_per_token(arch, tr, tr.seq_len, family)) * b.T / b.tp
        # the autocast copies of the layers backward has passed are freed with their saved inputs (under
        # checkpointing only the head's was left, and it is freed by then)
        copies = 0.0 if tr.activation_checkpointing else b.copies * max(0.0, 1.0 - self.share_of_copies)
        grads = max(b.held_grads, self.grads)
        kept = b.kept if tr.activation_checkpointing else b.kept - b.largest_block
        return Peak(b.base + copies + grads + temps + retained + kept,
                    {"autocast_copies": copies, "gradients": grads, "activations": retained + kept,
                     "backward_temporaries": temps})


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
    (fused AdamW, SGD) or the tokens outnumber d_model; the Step moment takes the larger of the two."""
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


@dataclass(frozen=True)
class Step(Moment):
    """training.optimizer_in_backward: the head's backward holding the logits' gradient, then the first large
    tensor's step with the head's autocast copy freed (step_in_backward)."""

    name: ClassVar[str] = "step"
    grads: float
    """The gradient bytes live while the first large tensor steps inside backward ..."""
    temp: float
    """... that step's buffers ..."""
    head: float
    """... the head's gradient while the head's backward still holds the logits' gradient ..."""
    head_copy: float
    """... and the head's autocast copy (freed once the head's backward ran)."""

    @classmethod
    def static(cls, m: Model) -> Moment | None:
        if not m.tr.optimizer_in_backward:
            return None
        parts = {"grads": m.grads, "temp": m.temp}
        return cls(*step_in_backward(m.arch, m.tr, m.lay, parts, m.largest), m.head_copy)

    def at(self, b: Backward) -> Peak:
        tr = b.tr
        logits_grad = b.T * b.arch.vocab_size * P.activation_bytes(tr.precision) / b.tp if tr.loss == "full" else 0.0
        inside = b.copies_bwd + self.head + logits_grad
        after = b.copies_bwd - self.head_copy + self.grads + self.temp
        total = b.base + b.kept + b.non_layer_b + max(inside, after)
        if after >= inside:
            return Peak(total, {"activations": b.kept + b.non_layer_b, "autocast_copies": b.copies_bwd - self.head_copy,
                                "gradients": self.grads, "optimizer_buffers": self.temp})
        return Peak(total, {"autocast_copies": b.copies_bwd, "gradients": self.head,
                            "activations": b.kept + b.non_layer_b, "logits_and_loss": logits_grad})


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


@dataclass(frozen=True)
class ExpertStep(Moment):
    """training.optimizer_in_backward with fused experts: the last block's gate_up stack steps once that block's
    expert MLP backward ran (its saved tensors freed) and the head's input and gradient are gone
    (expert_step_in_backward)."""

    name: ClassVar[str] = "expert_step"
    grads: float
    """The gradient bytes of one block's gate_up expert stack while it steps in the last block's backward ..."""
    temp: float
    """... and its step buffer bytes."""
    head_copy: float
    """The head's autocast copy, freed by then (Model.head_copy)."""

    @classmethod
    def static(cls, m: Model) -> Moment | None:
        grads, temp = expert_step_in_backward(m.arch, m.tr, {"grads": m.grads, "temp": m.temp}, m.largest)
        return cls(grads, temp, m.head_copy) if grads else None

    def at(self, b: Backward) -> Peak:
        # the last MoE block's expert MLP saved bytes (the routed width's and the routed copies; activations._FULL)
        moe_mlp = A.moe_mlp_bytes_per_token(b.arch, b.tr) * b.T / b.tp
        return Peak(b.base + b.copies_bwd - self.head_copy + b.kept - moe_mlp + (self.grads + self.temp),
                    {"autocast_copies": b.copies_bwd - self.head_copy, "activations": b.kept - moe_mlp,
                     "gradients": self.grads, "optimizer_buffers": self.temp})


@dataclass(frozen=True)
class ChunkHead(Moment):
    """The chunked loss's head backward: the chunks' head weight gradients summed out of place beside the logits
    gradients of the chunks not yet run (llmspec.estimate.loss_backward)."""

    name: ClassVar[str] = "chunk_head"
    sharded: bool
    """FSDP / ZeRO over more than one data-parallel rank."""

    @classmethod
    def static(cls, m: Model) -> Moment | None:
        return cls(m.sharded)

    def at(self, b: Backward) -> Peak | None:
        grads, logits = chunked_head_backward_bytes(b.arch, b.tr, b.T / b.tp, b.mp, self.sharded)
        if not grads:
            return None
        return Peak(b.base + b.copies_bwd + b.live_grads + b.kept + b.non_layer_b + grads + logits,
                    {"autocast_copies": b.copies_bwd, "gradients": b.live_grads + grads,
                     "activations": b.kept + b.non_layer_b, "logits_and_loss": logits})


MOMENTS: tuple[type[Moment], ...] = (Start, End, Recompute, FirstBlock, Expert, Attention, Step, ExpertStep, ChunkHead)
"""Every moment of backward, in the order that breaks a tie (the first largest is the peak)."""


def static_moments(m: Model) -> tuple[Moment, ...]:
    """The moments that can happen for the spec, with their static inputs (training_static)."""
    return tuple(x for x in (cls.static(m) for cls in MOMENTS) if x is not None)


def peak(moments: tuple[Moment, ...], b: Backward) -> tuple[str, Peak]:
    """The largest moment for one batch shape: its name and its Peak (a moment that does not happen counts 0)."""
    peaks = {cls.name: Peak(0.0, {}) for cls in MOMENTS} | {m.name: m.at(b) or Peak(0.0, {}) for m in moments}
    name = max(peaks, key=lambda k: peaks[k].total)
    return name, peaks[name]
