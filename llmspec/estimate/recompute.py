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
(LoRA, all linears: exact); tests/estimate/test_checkpointed_backward.py measures them again. The same table on
other families' real classes (LoRA on all linears at d_model 256, vocab 256: GPT-2, GPT-NeoX, Falcon, Phi-3,
Gemma, Qwen3) agrees within 5%; OPT (+12%) and the MoE classes (+6%) come out above the measurement.

Full fine-tuning (second round of issue 9): the same moment at the FIRST block, which backward reaches last, holds
one checkpointed input and every later block's gradients (first_block_grad_numel_at_end); wherever a block has more
parameters than the micro-batch has tokens x d_model that moment is the larger. In both, the recomputed block's
16-bit weight copies are live and the head's is not (recomputed_copy_numel); with gradient accumulation a tied head's
fresh gradient waits in the autograd engine beside the accumulated one (buffered_tied_grad_numel); under sdpa's math
kernel the recomputed block's attention backward can peak instead of its MLP's (math_attention_backward_*). Old
errors against the real classes at d_model 256 (tests/estimate/test_checkpointed_backward.py): GPT-2, Llama, Gemma
with accumulation -4.0, -3.8, -5.3%; Falcon-7B's layout -13.5..-24.3%; now within 2%.
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

# Pure 16-bit with fp32 adapters on a 16-bit base (PEFT's autocast_adapter_dtype: the hf-trainer stack's lora.dtype),
# the same table (issue 9, gap a). peft casts each adapted module's input to fp32 (adapters.cast_input_bytes_per_token:
# those copies and the fp32 lora_A outputs are in the block's saved bytes), and the LoRA path's output is fp32 too:
# ``result = result + lora_B(lora_A(dropout(x))) * scaling`` (peft==0.21.2:src/peft/tuners/lora/layer.py:
# Linear.forward) adds an fp32 tensor to the 16-bit base output, so while the block is recomputed each adapted
# module makes three fp32 output-wide tensors (lora_B's output, its scaled copy, the promoted sum) before
# ``result.to(torch_result_dtype)`` casts back. With gate/up adapted the peak moves from the MLP's backward into the
# recomputation of the up projection: lora_B's fp32 output and its scaled copy (8 B x ffn) beside the base output and
# the gate's output and activation (measured: aten.mul of the (2, 128, 1024) fp32 lora_B output by the scaling is the
# peak). The coefficients are fitted on LlamaForCausalLM (LoRA r=8, 2 x 128 tokens, 3 blocks, (d_model, ffn) =
# (256, 512), (256, 1024), (512, 1024)) and predict (384, 1536) and (512, 2048) within 7 B per token; they leave out a
# rank-wide remainder of 36-96 B per token at r=8. With the down projection adapted but only some of the other
# linears (q, v, down) the measurement is up to 2,000 B per token (2%) below this all-linear fit at ffn = 4 x d_model.
# A plain MLP (GPT2LMHeadModel: no gate output and activation beside the up projection's recomputation) measures
# 2.75 x (ffn - d_model) B per token below it: the estimate reads 1.4-4.1% over there (all linears, d_model 256-512),
# where the bf16 table read about 12 x d_model per token under.
_LORA_FP32_ADAPTERS = {"none": ((2.5, 6), (6.5, 6)), "in": ((6.5, 8), (12.5, 8)), "down": ((11.25, 4.75), (19.25, 7.75))}


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
        table = _LORA_FP32_ADAPTERS if prec == "half" and _fp32_adapters(training) else _LORA[prec]
        ch, cf = table[mlp][training.lora.dropout > 0]
        if not arch.gated and prec == "amp":  # measured under AMP only (pure 16-bit and fp32: module docstring)
            cf -= _plain_mlp_share(arch, training, mlp)
    else:
        ch, cf = _FULL[prec]
    return float(ch * h + cf * f)


def _fp32_adapters(training: Training) -> bool:
    """fp32 adapters on a 16-bit base under pure 16-bit precision (adapters.adapter_dtype; an fp32 base casts nothing:
    adapters.cast_input_bytes_per_token)."""
    from llmspec.estimate.adapters import adapter_dtype

    return adapter_dtype(training) == "fp32" and training.base_dtype != "fp32"


def _plain_mlp_share(arch: Architecture, training: Training, mlp: str) -> int:
    """What a two-matrix MLP with ReLU (up -> relu -> down: OPT) holds less per ffn column at the end of the
    recomputation than the gated one the _LORA table was measured on, when the down projection carries an adapter
    (the moment the module docstring describes), in the activation dtype. The down projection's input is the
    activation's output, and ReLU saves its output for its own backward (torch==2.13.0:
    tools/autograd/derivatives.yaml, ``relu: threshold_backward(grad, result, 0)``), so that tensor is already among
    the block's saved bytes; the gated product's output, which the table counts there, is saved by nothing. Measured
    on OPTForCausalLM (LoRA on all linears or on fc2 alone, bf16-mixed with checkpointing, d_model 256, ffn 512 and
    1024: +8.7..+11.2% before; with OPT's activation set to GELU the same case measures 2 x ffn bytes per token more,
    the tensor this share removes). Applied under AMP only, where it was measured (OPT's LoRA under pure bf16 and fp32
    with checkpointing measures 4-34% above the estimate for other reasons, not traced yet)."""
    if mlp == "down" and arch.activation == "relu":
        return P.activation_bytes(training.precision)
    return 0


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


def recomputed_copy_numel(layer_params: int, largest_block_linear: int, training: Training) -> int:
    """Weights whose 16-bit autocast copies are live while a block is recomputed (full fine-tuning under AMP).

    Recomputation reruns the block's forward under the autocast state of the original forward
    (torch==2.13.0:torch/utils/checkpoint.py:_checkpoint_without_reentrant_generator, ``recompute_fn`` re-enters
    ``torch.autocast`` with the saved ``device_autocast_kwargs``), so every linear casts its fp32 weight to the
    compute dtype again (torch==2.13.0:aten/src/ATen/autocast_mode.cpp, ``cached_cast``: the cast cache is cleared
    on leaving the outermost autocast region, so the forward's copies are not reused) and ``aten.mm`` saves that copy
    for the input gradient. At the start of the MLP's backward the down projection's backward is done and its copy
    is freed; the rest of the block's copies are live: the block's parameters less its largest linear (its 1-D
    parameters are never cast; a few d_model-wide vectors counted with them). The output head's copy is not live
    then: the loss backward, which held it, is over. Measured on LlamaForCausalLM (4 x (256, 256) + 2 x (512, 256)
    bf16 copies live at the first block's MLP backward; tests/estimate/test_checkpointed_backward.py). None under
    LoRA / QLoRA (the frozen base is stored in the compute dtype; the adapters' copies are small)."""
    if training.method in ("lora", "qlora"):
        return 0
    return max(layer_params - largest_block_linear, 0)


def first_block_grad_numel_at_end(arch: Architecture, training: Training, trainable: int, embedding_numel: int,
                                  layer_params: int, largest_block_linear: int) -> int:
    """Parameters whose gradients are live while the FIRST block (the last that backward reaches) is recomputed.

    Without gradient accumulation each gradient is created by its own backward (AccumulateGrad steals the fresh
    tensor: torch==2.13.0:torch/csrc/autograd/functions/accumulate_grad.h, accumulateGrad), so at the last
    recomputed block every block after it has its gradients, while the embeddings' (token and learned positions,
    produced by aten.embedding_dense_backward after block 0) and block 0's, except its largest linear's, are not yet
    made. Moving backward by one block adds one block's gradients (4 B x its parameters under AMP) and frees one
    checkpointed input (4 B x d_model per token): for every shape where a block has more parameters than the
    micro-batch has tokens x d_model, this moment outweighs the last block's (first_block_grad_numel), which the
    estimate took alone before (Llama, GPT-2, Gemma, OPT full fine-tuning under checkpointing, 1-5% under; issue 9).
    A tied head is the embedding matrix: its gradient is live from the loss backward on. None under LoRA / QLoRA."""
    if training.method in ("lora", "qlora"):
        return 0
    tied = arch.vocab_size * arch.d_model if arch.tie_embeddings else 0
    return max(trainable - embedding_numel + tied - layer_params + largest_block_linear, 0)


def buffered_tied_grad_numel(arch: Architecture, training: Training) -> int:
    """With gradient accumulation, the tied embedding matrix's fresh head gradient while the blocks run backward.

    The tied matrix has one AccumulateGrad node fed by two uses (the output head and the token embedding). The
    engine sums a node's incoming gradients in its InputBuffer and runs the node once all have arrived
    (torch==2.13.0:torch/csrc/autograd/input_buffer.cpp, InputBuffer::add; engine.cpp, evaluate_function), so the
    head's gradient (the backward of aten._to_copy under autocast: vocab x d_model in the gradient dtype) waits
    there from the loss backward until aten.embedding_dense_backward at the very end. Without accumulation that
    waiting tensor is the head gradient first_block_grad_numel counts; with accumulation the accumulated ``.grad``
    of the earlier micro-batches is live beside it, one vocab x d_model more (measured on GemmaForCausalLM: the
    accumulated gradient and the fresh head gradient both live at the recomputed block's backward). 0 untied (an
    untied head's gradient is added into ``.grad`` in place at once) and under LoRA / QLoRA."""
    if not arch.tie_embeddings or training.method in ("lora", "qlora") or training.gradient_accumulation < 2:
        return 0
    return arch.vocab_size * arch.d_model


def math_attention_backward_bytes_per_token(arch: Architecture, training: Training, seq_len: int,
                                            family: str | None = None) -> float:
    """Under sdpa's math kernel (activations.math_attention: one K/V head on Falcon before transformers 5.25), the
    recomputed block's attention backward beyond the block's saved bytes, per token.

    The math kernel is composite (torch==2.13.0:aten/src/ATen/native/transformers/attention.cpp,
    _scaled_dot_product_attention_math: matmul, _safe_softmax, matmul in fp32), so autograd runs its backward op by
    op: the gradient of the probabilities (aten.bmm, fp32) and, from it, the gradient of the scores
    (aten._softmax_backward_data, fp32) are live together beside the saved fp32 probabilities: 2 x 4 B x n_heads x s
    per token. By then the block's MLP backward is done and its saved activations are freed: a plain MLP's activation
    input and output (2 x ffn wide, 4 under a gated one) in the activation dtype. Measured on FalconForCausalLM
    (Falcon-7B's layout, d_model 256, 4 heads, full fine-tuning bf16-mixed with checkpointing, 1 x 512 and 2 x 256:
    three (n_heads, s, s) fp32 tensors live at aten._softmax_backward_data; the estimate was 9-21% under without
    this moment). 0 for every other attention path (the fused kernels' backward keeps no score-sized tensor)."""
    if not A.math_attention(arch, family):
        return 0.0
    f = max(w for _, w in A.block_kinds(arch))
    mlp_saved = (4 if arch.gated else 2) * f * P.activation_bytes(training.precision)
    return 8.0 * arch.n_heads * seq_len - mlp_saved


def math_attention_backward_grad_numel(arch: Architecture, training: Training, family: str | None = None) -> int:
    """Full fine-tuning: gradients live at that attention backward beyond those first_block_grad_numel and
    first_block_grad_numel_at_end count (they hold the block's largest linear): the rest of the block's dense MLP
    linears, whose backward is done (measured as in math_attention_backward_bytes_per_token: both of the block's
    MLP weight gradients live at the first block's aten.bmm of the attention backward). 0 without the math kernel."""
    if training.method in ("lora", "qlora") or not A.math_attention(arch, family):
        return 0
    from llmspec.estimate.shapes import layout

    block = [m.rows * m.cols for m in layout(arch).block_linears]
    mlp = sum(m.rows * m.cols for m in layout(arch).block_linears
              if m.kind == "mlp" and not m.name.startswith(("experts.", "shared_expert.")))
    return max(mlp - max(block, default=0), 0)
