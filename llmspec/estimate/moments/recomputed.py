"""With activation checkpointing, a recomputed block's backward, at the last block and at the first
(llmspec.estimate.recompute; llmspec.estimate.moments)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from llmspec.estimate import activations as A
from llmspec.estimate import precision as P
from llmspec.estimate import recompute as R
from llmspec.estimate.moments.base import Backward, Model, Moment, Peak


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
        return b.kept - b.kept_above

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
