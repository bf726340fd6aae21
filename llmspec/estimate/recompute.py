"""The checkpointed backward's mid moment: one block recomputed while every block's checkpointed input is live.

With activation checkpointing (transformers==5.24.0:src/transformers/modeling_layers.py:GradientCheckpointingLayer
checkpoints each decoder layer's ``forward``, non-reentrant by default), the forward keeps only each block's input.
In backward, the first unpack of a block's saved tensor reruns that block's forward (torch==2.13.0:
torch/utils/checkpoint.py:_checkpoint_without_reentrant_generator, ``recompute_fn`` under
``_recomputation_hook``), which stops once the last tensor backward needs is recomputed (``early_stop``,
``_StopRecomputationError``); the recomputed tensors are freed as the block's backward consumes them. The
checkpointed input of block i is freed only when block i's backward is done, and the loss buffers are gone by
then. So while the last block (the first one backward reaches) runs, live are: the model state, the gradients
produced so far (head and final norm), the inputs of all blocks, that block's recomputed saved activations and
the temporaries of its backward. When the vocabulary is small against d_model and ffn_dim this moment, not the
loss backward, is the peak (a Llama with d_model 512 and vocab 2,048 under LoRA measured 24% above the
estimate before this term; issue 9).

Where the peak falls inside the recomputed block, measured on LlamaForCausalLM under FakeTensorMode
(llmspec.estimate.measure, per-block windows of the backward; transformers 5.24.0, peft 0.21.2, torch 2.13.0):

* the start of the MLP's backward, when no MLP linear carries an adapter (full fine-tuning, LoRA on attention
  only): the gradient of the down projection's input and the gradients of the gated product's two factors
  (aten mm / mul in the SwiGLU backward), three ffn-wide tensors in the compute dtype, beside the incoming
  gradient of the block's output. Full fine-tuning has freed the down projection's saved input by then
  (two ffn-wide tensors net) and holds its weight's gradient (``first_block_grad_numel``);
* with LoRA on the down projection, the end of the recomputation itself: peft casts the down projection's input to
  the adapter dtype before ``lora_A`` (peft==0.21.2:src/peft/tuners/lora/layer.py:Linear.forward,
  ``self._cast_input_dtype(x, lora_A.weight.dtype)``: a 4-byte ffn-wide copy under fp32 adapters on a 16-bit
  base), while the base projection's output and the whole recomputed block are live; lora_dropout adds its
  input copy and mask there (``result + lora_B(lora_A(dropout(x))) * scaling``).

sdpa's backward (aten _scaled_dot_product_flash_attention_for_cpu_backward: gradients of q, k and v) comes after
the MLP's and was never the peak at ffn_dim > d_model. The coefficients below are what is live there beyond
activations.layer_static_bytes_per_token (the block's saved bytes as fitted without checkpointing): integers
exact at (d_model, ffn_dim) = (512, 1376) and (1024, 2048), sequence 256 and 512, and checked at (8192, 28672)
(LoRA, all linears: exact); tests/estimate/test_checkpointed_backward.py measures them again.
"""

from __future__ import annotations

from llmspec.estimate import activations as A
from llmspec.estimate import precision as P
from llmspec.spec.models import Architecture, Training

# (x d_model, x ffn) bytes per token beyond the recomputed block's saved bytes, by precision family and by which
# MLP linears carry adapters ("none": attention only; "in": gate/up; "down": the down projection, with or without
# the others), (without lora_dropout, with it). Measured as the module docstring says.
_LORA = {
    "amp": {"none": ((2, 6), (4, 6)), "in": ((10, 4), (12, 4)), "down": ((10, 6), (16, 11))},
    "half": {"none": ((0, 6), (0, 6)), "in": ((0, 6), (0, 6)), "down": ((-6, 4), (4, 1))},
    "fp32": {"none": ((0, 12), (2, 12)), "in": ((0, 12), (2, 12)), "down": ((0, 8), (22, 3))},
}
_FULL = {"amp": (0, 4), "half": (2, 4), "fp32": (0, 8)}  # full fine-tuning (no adapters)


def _precision_family(training: Training) -> str:
    if training.precision == "fp32":
        return "fp32"
    return "half" if training.precision in ("bf16", "fp16") else "amp"


def checkpointed_backward_bytes_per_token(arch: Architecture, training: Training, family: str | None = None) -> float:
    """Bytes per token live during the first recomputed block's backward beyond that block's saved activations
    (layer_static_bytes_per_token): its backward temporaries and the incoming gradient (module docstring). The MLP
    width is the widest kind of block's (activations.block_kinds; an MoE block's routed width)."""
    h = arch.d_model
    f = max(w for _, w in A.block_kinds(arch))
    prec = _precision_family(training)
    if training.method in ("lora", "qlora") and training.lora is not None:
        roles = A.adapted_roles(arch, training, family)
        mlp = "down" if "down" in roles else ("in" if roles & {"gate", "up", "gate_up"} else "none")
        ch, cf = _LORA[prec][mlp][training.lora.dropout > 0]
    else:
        ch, cf = _FULL[prec]
    return float(ch * h + cf * f)


def first_block_grad_numel(arch: Architecture, training: Training, largest_block_linear: int) -> int:
    """Parameters whose gradients are live while the last block is recomputed: the output head's (the tied
    embedding matrix's when tied) and the final norm's, which backward reached first, and the block's largest
    linear (its weight gradient is produced before the MLP's input gradients are freed). None under LoRA / QLoRA
    (frozen head; the adapters' gradients are small)."""
    if training.method in ("lora", "qlora"):
        return 0
    return arch.vocab_size * arch.d_model + arch.d_model + largest_block_linear


def checkpointed_backward_grad_bytes(arch: Architecture, training: Training, largest_block_linear: int) -> float:
    """first_block_grad_numel in gradient bytes (precision.grad_bytes), before sharding and model parallelism."""
    return first_block_grad_numel(arch, training, largest_block_linear) * P.grad_bytes(training.precision)
