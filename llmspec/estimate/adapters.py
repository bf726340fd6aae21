"""What adapters save for backward beyond plain LoRA's block terms (issue 12): DoRA and LoRA on the output head.
Used by llmspec.estimate.stack.apply_static."""

from __future__ import annotations

from llmspec.estimate import precision as P
from llmspec.spec.models import Architecture, Training


def adapter_dtype(tr: Training) -> str:
    """The LoRA adapters' weight dtype (and so their gradients' and optimizer states'): fp32 under fp32 and AMP
    (the trainable weights of those precisions, precision.trainable_weight_bytes); under pure bf16 / fp16 the spec's
    lora.dtype, which the training stack's preset fills when the spec leaves it unset (HF Trainer + PEFT: fp32 via
    autocast_adapter_dtype; torchtune, LitGPT: the model dtype), else the model dtype. The estimate
    (stack.apply_static) and the measurement (measure.measure_training) both read it."""
    if tr.precision not in ("bf16", "fp16"):
        return "fp32"
    return (tr.lora.dtype if tr.lora is not None else None) or tr.precision


def lora_output_bytes(tr: Training) -> tuple[int, int]:
    """(base output, LoRA-path output) bytes per element of an adapted module's output. The base layer computes in
    the compute dtype. peft casts the module input to the adapter dtype (peft==0.21.2:src/peft/tuners/lora/
    layer.py:Linear.forward, ``x = self._cast_input_dtype(x, lora_A.weight.dtype)``), so lora_A / lora_B run in the
    adapter dtype, unless autocast runs them in the compute dtype (AMP). bf16-mixed with fp32 adapters: 2 and 2;
    pure bf16 with fp32 adapters (PEFT's default): 2 and 4; torchtune / LitGPT (bf16 adapters): 2 and 2."""
    obytes = P.activation_bytes(tr.precision)
    if P.is_amp(tr.precision) or tr.lora is None:
        return obytes, obytes
    return obytes, 4 if adapter_dtype(tr) == "fp32" else 2


def cast_input_bytes_per_token(arch: Architecture, tr: Training, moe_block: bool = False,
                               family: str | None = None) -> float:
    """What one block's adapters save per token beyond the LoRA coefficients (activations.lora_h_coefficient and the
    registry's "lora" fits, both measured under bf16-mixed), from the dtype their input is cast to.

    peft==0.21.2:src/peft/tuners/lora/layer.py:Linear.forward casts the module input to the adapter dtype before
    the adapter (``x = self._cast_input_dtype(x, lora_A.weight.dtype)``, then ``lora_B(lora_A(dropout(x)))``): each
    adapted module makes its own copy of its input. lora_A saves that copy (or the dropout's output, of the same
    dtype) for its weight gradient, and lora_B saves lora_A's rank-wide output; the sum with the base output saves
    nothing. Under bf16-mixed autocast then casts the fp32 copy back to bf16 for lora_A
    (torch==2.13.0:aten/src/ATen/autocast_mode.cpp, linear on the lower-precision list): 2 bytes per input element
    and per rank element saved, which is what the fits hold. In pure bf16 / fp16 with fp32 adapters (the hf-trainer
    stack's lora.dtype, peft's autocast_adapter_dtype) no autocast runs, and lora_A and lora_B save fp32 tensors: 2
    bytes more per input element and per rank element of every adapted module (q, k and v each keep their own copy
    of the same input). A dropout's mask is the same as under bf16-mixed (it is taken of the fp32 copy both times).
    Measured with llmspec's fake-tensor tracker on LlamaForCausalLM, Qwen2ForCausalLM and GPT2LMHeadModel
    (tests/estimate/test_lora_fp32.py). ``moe_block``: the block's MLP is the MoE one (block_kinds), whose separately
    adapted experts see experts_per_token of the tokens; PEFT's fused expert parameters (lora.ParamWrapper) cast no
    input. Modules outside the blocks (lm_head: stack.apply_static) are not counted here.

    With 16-bit adapters on a 16-bit base (lora.dtype = the precision: torchtune, LitGPT, or set) the cast copies
    nothing: every adapted module reads the same 16-bit input tensor, saved once for all the modules that share it,
    and the attention output (o_proj's input) is saved by a fused attention kernel already. So without lora_dropout the
    block saves 2 x d_model less per adapted module reading the attention input or the MLP input beyond the first of
    each group (q, k, v; gate, up; one group where one norm feeds both, parallel attention), and 2 x o_proj's input
    width less when o_proj is adapted; the down projection's input is its own group and is saved as under
    bf16-mixed. Measured the same way on LlamaForCausalLM, Qwen2ForCausalLM, GPT2LMHeadModel and FalconForCausalLM
    (-8, -8, -2 and -2 x d_model per block, all linears; tests/estimate/test_lora_fp32.py). With lora_dropout each module saves its own dropout output, as bf16-mixed's autocast copies: 0. MoE
    blocks' modules: 0 (not measured). 0 in every other case."""
    if tr.lora is None or tr.precision not in ("bf16", "fp16") or tr.base_dtype == "fp32":
        return 0.0  # under AMP and fp32 the fits hold; an fp32 base's inputs are fp32 already
    if adapter_dtype(tr) != "fp32":
        return _shared_input_bytes_per_token(arch, tr, moe_block, family)
    from llmspec.estimate.params import lora_shapes, peft_experts

    k = arch.moe.experts_per_token if arch.moe is not None else 1
    fused = peft_experts(family) == "fused"
    rank = tr.lora.rank
    extra = 4 - 2  # fp32 input copy and lora_A output instead of autocast's 16-bit ones
    per = 0.0
    for s in lora_shapes(arch, tr.lora.targets, family):
        role = s.role
        if role in ("embed", "pos_embed", "head"):
            continue
        expert = role.startswith("expert.")
        in_moe = expert or role.startswith("shared.") or role in ("router", "shared_gate")
        if role in ("gate", "up", "gate_up", "down") and moe_block or in_moe and not moe_block or expert and fused:
            continue  # a module of the other kind of block, or fused experts
        per += extra * (s.d_in + rank * s.rank_factor) * (k if expert else 1)
    return per


def _shared_input_bytes_per_token(arch: Architecture, tr: Training, moe_block: bool, family: str | None) -> float:
    """The 16-bit-adapter case of cast_input_bytes_per_token (negative: bytes the bf16-mixed fits count and a pure
    16-bit run with 16-bit adapters does not save)."""
    assert tr.lora is not None
    if tr.lora.dropout > 0 or moe_block:
        return 0.0
    from llmspec.estimate.params import lora_shapes

    one_norm = arch.parallel_attention and arch.norms_per_layer == 1  # one norm output feeds attention and MLP
    groups: dict[str, list[int]] = {}
    for s in lora_shapes(arch, tr.lora.targets, family):
        role = s.role
        if role in ("q", "k", "v", "qkv") or one_norm and role in ("gate", "up", "gate_up"):
            groups.setdefault("attention-in", []).append(s.d_in)
        elif role in ("gate", "up", "gate_up"):
            groups.setdefault("mlp-in", []).append(s.d_in)
        elif role == "o":
            groups.setdefault("o", []).append(s.d_in)
    from llmspec.estimate.activations import math_attention

    # o_proj's input is the attention output, which a fused kernel saves already; sdpa's math fallback (Falcon's
    # multi-query class) saves its probabilities and v instead, so there o_proj's input is saved as under bf16-mixed
    saved = {} if math_attention(arch, family) else {"o": 0}
    return 2.0 * sum(saved.get(name, max(widths)) - sum(widths) for name, widths in groups.items())


def dora_bytes_per_token(arch: Architecture, tr: Training, shapes) -> float:
    """Bytes per token DoRA saves beyond LoRA. peft==0.21.2:src/peft/tuners/lora/dora.py:DoraLinearLayer.forward
    returns ``(mag_norm_scale - 1) * base_result + mag_norm_scale * lora_result * scaling``: autograd saves
    base_result (base output, compute dtype) and ``lora_result * scaling`` (LoRA-path dtype) for the magnitude's
    gradient, out_features wide each (torchtune==0.6.1:torchtune/modules/peft/dora.py:DoRALinear.forward saves the
    same two). Every adapted module's without checkpointing; with it, one block's (recomputed in backward) plus that
    block's largest backward transient: the output gradient and one product for the magnitude's gradient, in the
    promoted dtype (fp32 when the magnitude or the LoRA output is fp32). Experts count for the tokens routed to
    them (experts_per_token of n_experts). Modules outside the blocks (lm_head, embeddings) are always kept.
    Measured with llmspec's fake-tensor tracker on LlamaForCausalLM + peft use_dora (tests/stacks/
    test_dora_measured.py): 4.0 bytes per output element under bf16-mixed, as this gives."""
    from llmspec.estimate.params import layer_split

    obytes, lbytes = lora_output_bytes(tr)
    dense, moe = layer_split(arch)
    k = arch.moe.experts_per_token if arch.moe is not None else 1
    attn = mlp = moe_mlp = outside = 0.0
    widest = 0
    for s in shapes:
        role = s.role
        if role in ("embed", "pos_embed", "head"):
            outside += s.d_out * s.copies
            continue
        widest = max(widest, s.d_out)
        if role in ("q", "k", "v", "o", "qkv"):
            attn += s.d_out
        elif role.startswith("expert."):
            moe_mlp += s.d_out * k
        elif role.startswith("shared.") or role in ("router", "shared_gate"):
            moe_mlp += s.d_out
        else:
            mlp += s.d_out
    every = attn * arch.n_layers + mlp * dense + moe_mlp * moe
    if not tr.activation_checkpointing:
        return (obytes + lbytes) * (every + outside)
    one = max(attn + mlp if dense else 0.0, attn + moe_mlp if moe else 0.0)
    mbytes = 4 if tr.precision == "fp32" or (tr.lora is not None and tr.lora.dtype == "fp32") else 2  # magnitude
    return (obytes + lbytes) * (one + outside) + 2 * max(obytes, lbytes, mbytes) * widest
