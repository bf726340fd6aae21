"""One layer's backward: a fused MoE block's experts, the last block's attention scores, the chunked loss's head
(llmspec.estimate.moments)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from llmspec.estimate import attn_backward as AB
from llmspec.estimate.loss_backward import chunked_head_backward_bytes
from llmspec.estimate.moments.base import Backward, Model, Moment, Peak


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
