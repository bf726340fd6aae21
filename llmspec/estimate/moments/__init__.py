"""The moments of backward: each one a time in the backward pass where the training peak can fall (training.py).

training_memory takes the largest of them as its backward phase (the peak is a maximum, not a sum). Each moment is
one class: its fields are its static inputs (``static`` computes them in training_static and reads no key of
training.BATCH_KEYS, so a sweep shares them between batch shapes), and ``at`` gives its bytes and its breakdown for
one batch shape from the terms every moment shares (base.Backward). A new moment is one more class, in the module
of its kind (ends, recomputed, layers, steps) or a new one, and one more entry in MOMENTS.

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

from llmspec.estimate.moments.base import Backward, Model, Moment, Peak
from llmspec.estimate.moments.ends import End, Start, tied_grad_sum_bytes
from llmspec.estimate.moments.layers import Attention, ChunkHead, Expert
from llmspec.estimate.moments.recomputed import FirstBlock, Recompute
from llmspec.estimate.moments.steps import ExpertStep, Step, expert_step_in_backward, step_in_backward

__all__ = ["MOMENTS", "Attention", "Backward", "ChunkHead", "End", "Expert", "ExpertStep", "FirstBlock", "Model",
           "Moment", "Peak", "Recompute", "Start", "Step", "expert_step_in_backward", "peak", "static_moments",
           "step_in_backward", "tied_grad_sum_bytes"]

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
