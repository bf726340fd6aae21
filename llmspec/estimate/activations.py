"""Activation memory: bytes saved for backward per token, per layer, and the logits/loss spike.

Base: Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models", section 4.1:
``s*b*h*(34 + 5*a*s/h)`` bytes per layer with 16-bit activations, dropout and eager attention; with full
recomputation only the layer input ``2*s*b*h`` is kept. That formula describes a GPT block in Megatron. A
Hugging Face Llama-style block under autocast differs (no dropout, SwiGLU, RMSNorm upcasts to fp32, an fp32
residual stream when the weights are fp32), so the coefficients below were fitted to measurements of
transformers 5.23 models under FakeTensorMode (llmspec.estimate.measure; 4 shapes x 8 set-ups, every
coefficient an integer and exact on all of them; benchmarks/memory_accuracy.md). Per token and layer, bytes:

=====================  ======  =========  ======  ============================================
set-up                 x h     x kv_width x ffn   notes
=====================  ======  =========  ======  ============================================
bf16/fp16-mixed (AMP)  30      4          8       fp32 residual stream and norm inputs
pure bf16 / fp16       20      4          8
fp32                   32      8          16
LoRA (16-bit base)     12+4k   4          6(+2)   k = adapted input groups among {q/k/v}, {o},
                                                  {gate/up}; +2 x ffn when down_proj is adapted;
                                                  + 2*r per adapted module; lora dropout > 0:
                                                  + 3 x input width per adapted module
=====================  ======  =========  ======  ============================================

plus ``4 * n_heads + 8`` (flash/sdpa logsumexp and norm statistics). Eager attention adds the scores and
softmax: ``6 * n_heads * s`` bytes per token (16-bit compute; 4 for fp32, + the tanh of soft-capped scores). The non-layer part (embedding
output, final norm, head input) is about ``15 * h`` (``11 * h`` once backward starts; ~0 under LoRA). With activation checkpointing each layer keeps only its
input (``residual_bytes * h``) and one layer is live at a time (recomputation in backward).

Logits and loss (transformers ForCausalLMLoss upcasts logits to fp32, then log_softmax and nll_loss):
10 bytes per token x vocab at the end of forward (16-bit logits + fp32 copy + fp32 log-probs), 12 at the
start of backward (their gradients), measured. Korthikanti's formula has no term for it; for small models
with large vocabularies it is the largest single part.
"""

from __future__ import annotations

from llmspec.estimate.adapters import cast_input_bytes_per_token
from llmspec.estimate.precision import DTYPE_BYTES
from llmspec.spec.models import Architecture, Training

LOGITS_FORWARD = 10  # bytes per token per vocab entry at the end of forward (8 under fp32)
LOGITS_BACKWARD = 12  # at the start of backward
NON_LAYER_H = 15  # embedding output, final norm and head input, x h bytes per token (end of forward)
NON_LAYER_H_BACKWARD = 11  # the same at the start of backward, after the loss frees its inputs

# LoRA roles of one block (llmspec.spec.families): the adapted modules whose inputs peft saves, by input group
_ATTN_IN, _MLP_IN = {"q", "k", "v", "qkv"}, {"gate", "up", "gate_up"}
_BLOCK_ROLES = _ATTN_IN | _MLP_IN | {"o", "down"}

_FULL = {  # precision family -> (x h, x kv_width, x ffn)
    "amp": (30, 4, 8),
    "half": (20, 4, 8),
    "fp32": (32, 8, 16),
}


def _family(precision: str) -> str:
    if precision == "fp32":
        return "fp32"
    if precision in ("bf16", "fp16"):
        return "half"
    return "amp"


def residual_bytes(training: Training) -> int:
    """dtype of the residual stream = dtype of the embedding weights: fp32 under fp32 and AMP full
    fine-tuning, 16-bit for pure half precision and for LoRA/QLoRA on a 16-bit base."""
    if training.precision == "fp32":
        return 4 if training.method not in ("lora", "qlora") or training.base_dtype in (None, "fp32") else 2
    if training.method in ("lora", "qlora"):
        return 4 if training.base_dtype == "fp32" else 2
    return 4 if training.precision not in ("bf16", "fp16") else 2


def ffn_width(arch: Architecture) -> int:
    """Width of the MLP activations per token in an MoE block (the only kind without MoE): ffn_dim, or
    experts_per_token x expert width (+ shared) for MoE (each token's activations are saved in the experts it
    visits)."""
    if arch.moe is None:
        return arch.ffn_dim
    m = arch.moe
    f = (m.expert_ffn_dim or arch.ffn_dim) * m.experts_per_token
    if m.shared_experts:
        f += m.shared_expert_ffn_dim or (m.expert_ffn_dim or arch.ffn_dim)
    return f


def block_kinds(arch: Architecture) -> list[tuple[int, int]]:
    """(number of blocks, MLP activation width) per kind of block: MoE.dense_layers blocks have a dense MLP of
    ffn_dim (DeepSeek first_k_dense_replace, Qwen-MoE mlp_only_layers), the others the MoE width."""
    from llmspec.estimate.params import layer_split

    dense, moe = layer_split(arch)
    if arch.moe is None:
        return [(dense, arch.ffn_dim)]
    return [(n, f) for n, f in ((dense, arch.ffn_dim), (moe, ffn_width(arch))) if n]


def blocks_bytes_per_token(arch: Architecture, training: Training, seq_len: int,
                           family: str | None = None) -> tuple[float, float]:
    """(all blocks together, the largest single block): bytes saved for backward per token."""
    scores = attention_scores_bytes_per_token(arch, training, seq_len, family)
    per = [(n, b + scores) for n, b in block_terms(arch, training, family)]
    return sum(n * b for n, b in per), max(b for _, b in per)


def block_terms(arch: Architecture, training: Training, family: str | None = None) -> list[tuple[int, float]]:
    """(number of blocks, bytes saved per token without the attention scores) per kind of block (block_kinds):
    the part of layer_bytes_per_token that does not depend on the sequence length."""
    from llmspec.estimate.params import layer_split

    moe_blocks = layer_split(arch)[1]
    kinds = block_kinds(arch)
    # the last kind is the MoE block when there is one (ffn None: its routed width and routed copies)
    return [(n, layer_static_bytes_per_token(arch, training, None if moe_blocks and i == len(kinds) - 1 else f,
                                             family)) for i, (n, f) in enumerate(kinds)]


def routed_bytes_per_token(arch: Architecture, training: Training) -> float:
    """What an MoE block saves per token beyond a dense MLP of the same activation width: the copy of each token's
    hidden state gathered for every expert it visits (``hidden_states[token_idx]``, the residual dtype; the grouped
    matmul saves it as its input) and each visited expert's output (16-bit; saved by the multiplication with the
    routing weight): experts_per_token x d_model x (residual bytes + 2). transformers integrations/moe.py
    (grouped_mm experts forward: index, _grouped_mm, ``* top_k_weights``); measured on the Mixtral, Qwen2-MoE and
    Qwen3-MoE classes under FakeTensorMode."""
    if arch.moe is None:
        return 0.0
    return arch.moe.experts_per_token * arch.d_model * (residual_bytes(training) + 2)


def moe_mlp_bytes_per_token(arch: Architecture, training: Training) -> float:
    """The part of an MoE block's saved bytes per token (full fine-tuning, layer_static_bytes_per_token) that its
    expert MLP holds: the routed width's MLP coefficient and the routed copies (routed_bytes_per_token)."""
    if arch.moe is None:
        return 0.0
    return _FULL[_family(training.precision)][2] * ffn_width(arch) + routed_bytes_per_token(arch, training)


def adapted_roles(arch: Architecture, training: Training, family: str | None = None) -> set[str]:
    """The block roles (q, k, v, qkv, o, gate, up, gate_up, down) that carry adapters, from the family registry's
    real module names: Falcon's query_key_value is "qkv", and q_proj on Falcon adapts nothing."""
    if training.lora is None:
        return set()
    from llmspec.estimate.params import lora_shapes

    roles = {s.role.rsplit(".", 1)[-1] for s in lora_shapes(arch, training.lora.targets, family)}
    return roles & _BLOCK_ROLES


def lora_expert_weight_bytes(arch: Architecture, training: Training, family: str | None = None) -> tuple[float, float]:
    """(all MoE blocks, one block): the adapted expert stacks PEFT materialises under LoRA, saved for backward.

    With the registry's peft_experts = "fused", PEFT wraps the 3-D expert parameters in lora.ParamWrapper, whose
    forward registers a parametrization ``W + scaling * lhs @ rhs`` (peft/tuners/lora/layer.py, _LoraFactorsProxy:
    one ``torch.baddbmm`` in the dtype of W): a full copy of every expert's gate_up_proj and down_proj in the
    frozen base dtype. The grouped expert matmul (transformers integrations/moe.py, torch._grouped_mm) saves that
    weight for its backward, because it now requires grad, so each MoE block keeps a copy of all its experts until
    its backward runs; the router's small parametrized weight is one more copy of d_model x n_experts. Measured on
    MixtralForCausalLM and Qwen3MoeForCausalLM under FakeTensorMode. 0 without LoRA or for other families."""
    if training.method not in ("lora", "qlora") or arch.moe is None:
        return 0.0, 0.0
    roles = adapted_roles(arch, training, family)
    from llmspec.estimate.params import layer_split, peft_experts

    if peft_experts(family) != "fused" or not roles & {"gate_up", "down"}:
        return 0.0, 0.0
    m, d = arch.moe, arch.d_model
    f_e = m.expert_ffn_dim or arch.ffn_dim
    mats = (2 * d * f_e if "gate_up" in roles else 0) + (d * f_e if "down" in roles else 0)
    base = DTYPE_BYTES.get(training.base_dtype or "", 4 if training.precision == "fp32" else 2)
    per_block = (m.n_experts * mats + d * m.n_experts) * base
    return layer_split(arch)[1] * per_block, per_block


def lora_expert_grad_bytes(arch: Architecture, training: Training, family: str | None = None) -> float:
    """The gradient of one parametrized expert stack, live during an MoE block's backward while the saved copies of
    every block still are (lora_expert_weight_bytes): the grouped matmul's backward returns a weight gradient of the
    stack's full size (down_proj, d_model x expert width per expert, first in backward; the larger gate_up_proj's
    comes once down_proj's copy and gradient are freed, which nets the same), and only then does the baddbmm's
    backward reduce it to the low-rank factors. Measured on MixtralForCausalLM under FakeTensorMode."""
    if not lora_expert_weight_bytes(arch, training, family)[1]:
        return 0.0
    m = arch.moe
    assert m is not None  # lora_expert_weight_bytes is 0 without MoE
    base = DTYPE_BYTES.get(training.base_dtype or "", 4 if training.precision == "fp32" else 2)
    return m.n_experts * arch.d_model * (m.expert_ffn_dim or arch.ffn_dim) * base


def lora_dropout_bytes_per_token(arch: Architecture, training: Training, f: int, family: str | None = None) -> float:
    """peft applies lora_dropout to each adapted module's input: a 16-bit copy and a 1-byte mask, both saved for
    backward (measured); 0 when lora.dropout = 0 (peft uses nn.Identity)."""
    if training.lora is None or training.lora.dropout <= 0:
        return 0.0
    scale = 2 if residual_bytes(training) == 4 else 1
    widths = {"o": arch.n_heads * arch.head_size, "down": f}
    return sum((2 * scale + 1) * widths.get(role, arch.d_model) for role in adapted_roles(arch, training, family))


def model_dropout_bytes_per_token(arch: Architecture, training: Training, family: str | None = None) -> float:
    """Masks of the real class's hidden-state dropouts when training.dropout > 0 (the registry's dropout_h)."""
    from llmspec.spec.families import family as registry_family

    fam = registry_family(family)
    return (fam.dropout_h * arch.d_model) if training.dropout > 0 and fam is not None else 0.0


def layer_bytes_per_token(arch: Architecture, training: Training, seq_len: int, ffn: int | None = None,
                          family: str | None = None) -> float:
    """Bytes one block saves for backward per token (no recomputation); ``ffn`` is its MLP activation width
    (default None: an MoE block, of the routed width with its routed copies, see block_kinds); ``family``
    (model.family) names the real modules."""
    return (layer_static_bytes_per_token(arch, training, ffn, family)
            + attention_scores_bytes_per_token(arch, training, seq_len, family))


def layer_static_bytes_per_token(arch: Architecture, training: Training, ffn: int | None = None,
                                 family: str | None = None) -> float:
    """layer_bytes_per_token without the attention scores: what does not depend on the sequence length."""
    h, kvw, H = arch.d_model, arch.kv_heads * arch.head_size, arch.n_heads
    h_attn = arch.n_heads * arch.head_size
    f = ffn_width(arch) if ffn is None else ffn
    routed = routed_bytes_per_token(arch, training) if ffn is None else 0.0  # an MoE block (block_kinds)
    lora = training.method in ("lora", "qlora") and training.lora is not None
    if lora:
        roles = adapted_roles(arch, training, family)
        scale = 2 if residual_bytes(training) == 4 else 1
        n_adapted = len(roles)
        per = lora_h_coefficient(roles, training) * h + scale * (
            4 * kvw + (6 + 2 * ("down" in roles)) * f + 2 * training.lora.rank * n_adapted)  # type: ignore[union-attr]
        per += lora_dropout_bytes_per_token(arch, training, f, family)
        per += cast_input_bytes_per_token(arch, training, arch.moe is not None and ffn is None, family)
    else:
        ch, ck, cf = _FULL[_family(training.precision)]
        per = ch * h + ck * kvw + cf * f
    # q and attention output scale with n_heads*head_dim when it differs from d_model (Gemma, Qwen3)
    per += 4 * (h_attn - h) if h_attn != h else 0
    if arch.qk_norm:  # Qwen3's q_norm / k_norm (RMSNorm upcasts): 6 B per element of q and k (4 under LoRA), measured
        per += (4 if lora else 6) * (h_attn + kvw)
    per += 4 * H + 8
    per += model_dropout_bytes_per_token(arch, training, family) + routed
    kind = ("lora" if lora else "full") + ("-fp32" if training.precision == "fp32" else "")
    a, b = family_fit(family, kind) if transformers_classes(training) else (0.0, 0.0)
    per += a * h + b * f
    if (a, b) == (0.0, 0.0):
        per += non_gated_mlp_bytes_per_token(arch, training, f)
    return per


def attention_scores_bytes_per_token(arch: Architecture, training: Training, seq_len: int,
                                     family: str | None = None) -> float:
    """What a block's attention saves per token that grows with the sequence length: the eager path's scores and
    probabilities, or sdpa's math-kernel fallback; 0 with a fused kernel."""
    H = arch.n_heads
    if eager_attention(training, family):
        # transformers==5.24.0:src/transformers/models/llama/modeling_llama.py:eager_attention_forward,
        # ``softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)``: the fp32 softmax output (saved by
        # aten._softmax) and, under 16-bit compute, its 16-bit cast (saved by the ``attn @ v`` matmul); under fp32 the
        # cast is a no-op and the two are one tensor (measured on LlamaForCausalLM, eager, fp32: 4 x n_heads x s, where
        # 8 was counted). Soft-capped scores (registry softcapping) also save their tanh in the compute dtype (2 or 4 B;
        # Gemma2ForCausalLM: 8 x n_heads x s in all under fp32, as measured with LoRA)
        width = 4 if training.precision == "fp32" else 2
        cap = width * H * seq_len if softcapping(family) else 0
        return (4 + (2 if width == 2 else 0)) * H * seq_len + cap
    if math_attention(arch, family):
        return math_attention_bytes_per_token(arch, seq_len)
    return 0.0


def lora_h_coefficient(roles: set[str], training: Training) -> float:
    """Bytes per token per LoRA block in units of d_model. On a 16-bit base: 12, + 4 for each adapted input group
    (attention in, attention out, MLP in), doubled when the residual stream is fp32. Under fp32 (fp32 base and
    adapters, no autocast): 16, + 4 when the attention inputs and + 4 when the MLP inputs carry adapters; an adapted
    o_proj adds nothing there, and the 16-bit terms do not double (what doubles are the kv, ffn and rank terms).
    Measured on LlamaForCausalLM and MistralForCausalLM under FakeTensorMode (exact at (d_model, ffn) = (256, 1024),
    (512, 1024), (256, 2048), 3 minus 2 blocks) for targets q; q, v; q, k, v, o; o; gate, up; down; gate, up, down;
    all-linear: fp32 measured 16-24 x d_model where doubling the 16-bit coefficient gave 24-48."""
    if training.precision == "fp32" and residual_bytes(training) == 4:
        return 16 + 4 * bool(roles & _ATTN_IN) + 4 * bool(roles & _MLP_IN)
    groups = sum(bool(roles & g) for g in (_ATTN_IN, {"o"}, _MLP_IN))
    return (12 + 4 * groups) * (2 if residual_bytes(training) == 4 else 1)


def checkpointed_copy_share(arch: Architecture, training: Training, linear_numel: int) -> float:
    """The share of the autocast weight copies still live at the start of backward under activation checkpointing:
    the blocks' copies are made again when a block is recomputed, but the output head is outside every checkpointed
    block, so its 16-bit copy (vocab x d_model) stays from the forward to the loss backward. Measured on
    GemmaForCausalLM and LlamaForCausalLM under FakeTensorMode (full fine-tuning, bf16-mixed, checkpointing: the
    measured autocast copies at the backward peak are exactly the head's). 0 under LoRA (no trainable head copy)."""
    if training.method in ("lora", "qlora") or not linear_numel:
        return 0.0
    return min(1.0, arch.vocab_size * arch.d_model / linear_numel)


def transformers_classes(training: Training) -> bool:
    """The stack trains the transformers class (the registry's activation fits were measured on it); LitGPT and
    torchtune build their own modules (llmspec/data/stacks.toml, model_code)."""
    from llmspec.spec.stacks import stack

    return stack(training.stack).model_code.value == "transformers"


def non_gated_mlp_bytes_per_token(arch: Architecture, training: Training, f: int) -> float:
    """What a two-matrix MLP (fc -> activation -> proj: GPT-2, GPT-NeoX, Phi-1/2, Falcon, OPT) saves less than the
    gated one the coefficients above describe, when no measured family fit says it already (registry families
    carry it in their fit). A gated MLP saves gate, up, act(gate) and their product (4 tensors of width f; 3 under
    LoRA, where the frozen down projection needs no input); a plain one saves the activation's input and output
    (2; 1 under LoRA): half as many in full training, 4 x f fewer bytes under LoRA. Checked on LitGPT's GptNeoxMLP
    against LLaMAMLP (litgpt==0.5.13:litgpt/model.py, one F.gelu; bf16 blocks under saved_tensors_hooks at h 256 /
    512 and f 1024 / 2048: x f coefficients 4 vs 8 full, 2 vs 6 LoRA). An activation written as several
    elementwise ops (HF's NewGELUActivation, gelu_new) saves more; the registry fits measure that per class."""
    if arch.gated:
        return 0.0
    if training.method in ("lora", "qlora") and training.lora is not None:
        return -4.0 * (2 if residual_bytes(training) == 4 else 1) * f
    return -_FULL[_family(training.precision)][2] / 2 * f


def family_fit(family: str | None, kind: str) -> tuple[float, float]:
    """The family's measured residual (x d_model, x ffn) bytes per token for "full", "full-fp32" (else "full"),
    "lora", "lora-fp32" (else "lora") or "prefill" (the registry's activation_fit; (0, 0) when the Llama coefficients
    hold)."""
    from llmspec.spec.families import family as registry_family

    fam = registry_family(family)
    if fam is None:
        return 0.0, 0.0
    return fam.activation_fit.get(kind, fam.activation_fit.get(kind.split("-")[0], (0.0, 0.0)))


def eager_attention(training: Training, family: str | None = None) -> bool:
    """training.attention = "eager", or a family whose class has no sdpa path (the registry's sdpa flag)."""
    from llmspec.spec.families import family as registry_family

    fam = registry_family(family)
    return training.attention == "eager" or (fam is not None and not fam.sdpa)


def math_attention(arch: Architecture, family: str | None = None, transformers: str | None = None) -> bool:
    """sdpa falls back to its math kernel: a family with the registry's mqa_math_sdpa, one K/V head for several
    query heads, and the old decoder architecture (one norm per block; hfmap writes multi_query for it), on a
    transformers release before the registry's mqa_math_sdpa_until (``transformers``: that version; default the
    installed one, else hfversion.ASSUMED)."""
    from llmspec.estimate.hfversion import at_least, transformers_version
    from llmspec.spec.families import family as registry_family

    fam = registry_family(family)
    new_arch = arch.parallel_attention and arch.norms_per_layer == 2
    if not (fam is not None and fam.mqa_math_sdpa and arch.kv_heads == 1 < arch.n_heads and not new_arch):
        return False
    until = fam.mqa_math_sdpa_until
    return until is None or not at_least(transformers or transformers_version()[0], until)


def math_attention_bytes_per_token(arch: Architecture, seq_len: int) -> float:
    """What sdpa's math kernel saves for backward per token and block instead of what a fused kernel saves
    (_scaled_dot_product_attention_math: q and k scaled by sqrt(scale) in fp32, the fp32 probabilities and v in
    fp32, 4 x (n_heads x s + q width + 2 x kv width), where the fused kernel keeps the 16-bit q, k, v and an fp32
    logsumexp, 2 x (q width + 2 x kv width) + 4 x n_heads)."""
    H, qw, kvw = arch.n_heads, arch.n_heads * arch.head_size, arch.kv_heads * arch.head_size
    return 4 * H * seq_len + 2 * qw + 4 * kvw - 4 * H


def checkpoint_bytes_per_token(arch: Architecture, training: Training, family: str | None = None) -> float:
    """With full recomputation a block keeps only its input (Korthikanti et al. 2022, section 4.1: 2sbh); under
    checkpoint_policy = "selective-op" also the outputs its policy saves (selective_saved_bytes_per_token)."""
    return residual_bytes(training) * arch.d_model + selective_saved_bytes_per_token(arch, training, family)


def selective_saved_bytes_per_token(arch: Architecture, training: Training, family: str | None = None) -> float:
    """Bytes per token a block keeps beside its input under checkpoint_policy = "selective-op" (0 otherwise).

    torchtitan's per-op policy (pytorch/torchtitan@582fe7d1f52ef96987a9d5265b3e2bbefc92d583:torchtitan/
    parallelisms/parallelize_llama.py: _save_list and _apply_ac_to_transformer_block's _custom_policy; the same
    list is _op_sac_save_list in torchtitan/models/llama3/infra/parallelize.py today) saves, through torch's
    create_selective_checkpoint_contexts (torch==2.13.0:torch/utils/checkpoint.py), the outputs of aten.mm except
    every second one (a per-block counter: the 1st, 3rd, 5th and 7th), of the flash / memory-efficient sdpa kernels,
    of reduce_scatter and of aten.max; every other op is recomputed in backward. In a Llama block (no biases, so
    every projection is one aten.mm, in the order q, k, v, o, gate, up, down) that is q (heads x head_dim), v
    (kv_heads x head_dim), gate (ffn_dim) and down (d_model), all in the compute dtype, plus the attention output
    (heads x head_dim, compute dtype) and its log-sum-exp (fp32, one per head); fused projections count as one
    matmul each (block_linears_in_order). reduce_scatter (tensor-parallel
    sequence sharding) and max (float8 amax scalars) add nothing per token here. A biased linear runs addmm, which
    the policy neither saves nor counts. Measured on LlamaForCausalLM under FakeTensorMode
    (tests/estimate/test_selective_checkpoint.py)."""
    if not training.activation_checkpointing or training.checkpoint_policy != "selective-op":
        return 0.0
    a = DTYPE_BYTES["fp32"] if training.precision == "fp32" else 2
    mms = [out for out, _, mm in block_linears_in_order(arch, family) if mm]
    return a * arch.n_heads * arch.head_size + 4 * arch.n_heads + a * sum(mms[0::2])


def block_linears_in_order(arch: Architecture, family: str | None = None) -> list[tuple[int, int, bool]]:
    """A block's linears in forward order as (output width, input width, runs as a plain aten.mm): q, k, v (one
    fused qkv where the family's modules have the "qkv" role: GPT-NeoX, Falcon, Phi-3, GPT-2), o, then gate and up
    (one fused gate_up: Phi-3; no gate in a plain MLP) and down. A biased linear runs aten.addmm (llmspec.spec.models
    Architecture.qkv_bias / attn_out_bias / mlp_bias)."""
    from llmspec.spec.families import modules_for

    roles = {r for rs in modules_for(family).values() for r in rs}
    d, q, kv, f = arch.d_model, arch.n_heads * arch.head_size, arch.kv_heads * arch.head_size, ffn_width(arch)
    attn = [(q + 2 * kv, d)] if "qkv" in roles else [(q, d), (kv, d), (kv, d)]
    if not arch.gated:
        mlp = [(f, d)]
    else:
        mlp = [(2 * f, d)] if "gate_up" in roles else [(f, d), (f, d)]
    return ([(o, i, not arch.qkv_bias) for o, i in attn] + [(d, q, not arch.attn_out_bias)]
            + [(o, i, not arch.mlp_bias) for o, i in mlp] + [(d, f, not arch.mlp_bias)])


def selective_recomputed_matmul_params(arch: Architecture, family: str | None = None) -> int:
    """Per block, the weights of the linears checkpoint_policy = "selective-op" recomputes in backward: every one but
    the saved matmuls (selective_saved_bytes_per_token: the 1st, 3rd, ... aten.mm; a biased linear's addmm is never
    saved). The attention kernel's output is saved, so attention is not recomputed. Experts counted as one dense
    MLP of ffn_width (an approximation for MoE)."""
    linears = block_linears_in_order(arch, family)
    saved = sum([o * i for o, i, mm in linears if mm][0::2])
    return sum(o * i for o, i, _ in linears) - saved


def checkpointed_blocks(arch: Architecture, training: Training) -> int:
    """Blocks that are checkpointed: every one, or under checkpoint_policy = "every-n" each checkpoint_every-th
    (torchtitan counts the blocks it wraps from 1 and wraps block k when k % n == 0: pytorch/torchtitan@
    582fe7d1f52ef96987a9d5265b3e2bbefc92d583:torchtitan/parallelisms/parallelize_llama.py:
    _apply_ac_to_transformer_block, ``ptd_checkpoint_wrapper._count % ac_freq == 0``)."""
    if not training.activation_checkpointing:
        return 0
    if training.checkpoint_policy == "every-n":
        return arch.n_layers // (training.checkpoint_every or 2)
    return arch.n_layers


def non_layer_bytes_per_token(arch: Architecture, training: Training, phase: str) -> float:
    """Embedding output, final norm and head input: measured ~15 h at the end of forward and ~11 h at the
    peak of backward when they are trained; ~2 h and ~0 for LoRA (frozen head saves nothing).

    LoRA with checkpointing, start of backward: the final norm still holds its fp32 upcast of the last block's
    output, 4 B x h (transformers==5.24.0:src/transformers/models/llama/modeling_llama.py:LlamaRMSNorm.forward,
    ``hidden_states.to(torch.float32)`` saved by ``pow`` and by ``* torch.rsqrt(...)``; the frozen weight's ``mul``
    saves no activation). Without checkpointing the per-block fits already count it (measured within 0.1% on
    LlamaForCausalLM at d_model 1024 / vocab 4,096); with checkpointing the blocks keep only their inputs, so the
    estimate was ~3% under there (tests/estimate/test_checkpointed_backward.py)."""
    lora = training.method in ("lora", "qlora")
    if phase == "forward":
        return (2 if lora else NON_LAYER_H) * arch.d_model
    if lora:
        return 4 * arch.d_model if training.activation_checkpointing else 0
    return NON_LAYER_H_BACKWARD * arch.d_model


def softcapping(family: str | None) -> bool:
    from llmspec.spec.families import family as registry_family

    fam = registry_family(family)
    return fam is not None and fam.softcapping


def logits_bytes_per_token(arch: Architecture, phase: str, precision: str, family: str | None = None) -> float:
    """The loss path's bytes per token (module docstring); a soft-capping family (the registry's softcapping)
    also saves the tanh of its logits for backward, in the head's compute dtype: + 2 x vocab under 16-bit compute,
    + 4 x vocab under fp32 (transformers==5.24.0:src/transformers/models/gemma2/modeling_gemma2.py:
    Gemma2ForCausalLM.forward, ``logits = torch.tanh(logits / final_logit_softcapping)`` on the head's output before
    the loss upcasts it; measured on Gemma2ForCausalLM: at fp32 the start of backward held four fp32 vocab-wide
    tensors, tanh, log-softmax and their two gradients, where 2 x vocab counted a 16-bit tanh)."""
    cap = (4 if precision == "fp32" else 2) * arch.vocab_size if softcapping(family) else 0
    if phase == "forward":
        return (8 if precision == "fp32" else LOGITS_FORWARD) * arch.vocab_size + cap
    return LOGITS_BACKWARD * arch.vocab_size + cap
