"""Steps inside backward under training.optimizer_in_backward: the head's and the first large tensor's, and a fused
MoE expert stack's (llmspec.estimate.moments)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from llmspec.estimate import activations as A
from llmspec.estimate import precision as P
from llmspec.estimate.moments.base import Backward, Model, Moment, Peak
from llmspec.spec.models import Training


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
