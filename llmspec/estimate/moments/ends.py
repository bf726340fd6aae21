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
