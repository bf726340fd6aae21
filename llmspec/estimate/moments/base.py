"""The types every moment of backward shares (llmspec.estimate.moments): what the static parts read (Model), what
one batch shape gives them (Backward), what a moment returns (Peak) and the moment's own class (Moment)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from llmspec.estimate import activations as A
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
    kept_above: float = 0.0
    """checkpoint_policy every-n: the saved activations of the blocks above the last checkpointed one, whose backward
    has run (and freed them) before that block is recomputed."""

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
