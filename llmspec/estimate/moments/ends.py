"""The start and the end of backward (llmspec.estimate.moments)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from llmspec.estimate import precision as P
from llmspec.estimate.moments.base import Backward, Moment, Peak
from llmspec.spec.models import Training


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
    # in place into a fresh gradient (the autocast cast's, or Liger's grad_weight under loss = "fused-linear":
    # liger_kernel/ops/fused_linear_cross_entropy.py returns the buffer its forward filled) / out of place to mm's view
    summed = 1.0 if P.is_amp(tr.precision) or tr.loss == "fused-linear" else 2.0
    return (summed + (tr.gradient_accumulation > 1)) * arch.vocab_size * arch.d_model * P.grad_bytes(tr.precision)


@dataclass(frozen=True)
class End(Moment):
    """The end of backward: every gradient, with the tied matrix's two gradients summed (tied_grad_sum_bytes) or one
    recomputed block; the autocast copies are freed by then."""

    name: ClassVar[str] = "end"

    def at(self, b: Backward) -> Peak:
        tied = tied_grad_sum_bytes(b.arch, b.tr) / b.mp  # reads gradient_accumulation: the batch part
        last = {"tied_gradient_sum": tied} if tied > b.recompute else {"activations": b.recompute}
        return Peak(b.base + b.grads + max(b.recompute, tied), {"autocast_copies": 0, "gradients": b.grads, **last})
