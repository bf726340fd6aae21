"""The dense attention mask: when transformers builds one, how big it is and how long it lives (issues 9 and 12).

A transformers model builds one mask per kind of attention in its forward (``create_causal_mask`` for full
attention, ``create_sliding_window_causal_mask`` for windowed blocks) and hands it to every block of that kind.
Rules (transformers==5.24.0:src/transformers/masking_utils.py):

* sdpa (``sdpa_mask``): no mask at all, sdpa's ``is_causal`` instead, when no token of the batch is padding and,
  for a window, kv_length < window (``_ignore_causal_mask_sdpa``: ``local_attention_size is not None and
  kv_length >= local_attention_size`` returns False). Otherwise a bool (batch, 1, seq, seq) mask: per row with
  padding (``padding_mask_function``: b x s^2 bytes), one (1, 1, s, s) expanded over the batch for a window alone
  (s^2 bytes). torch's sdpa turns a bool mask into an additive one of the query's dtype on every call
  (torch==2.13.0:aten/src/ATen/native/transformers/attention.cpp:convert_boolean_attn_mask): b x s^2 x compute
  bytes per masked block, which the kernel saves for backward.
* eager (``eager_mask``): always a float mask of the embeddings' dtype, b x s^2 x that many bytes
  (``torch.where(mask, 0, min_dtype)``); ``attn_weights + mask`` saves nothing of it.
* flash (``flash_attention_mask``): the 2-D padding mask only (FlashAttention-2 unpads; the window is a kernel
  argument): no dense mask.

On a GPU (ASSUMED, no GPU here): sdpa with a mask cannot use the flash kernel (torch==2.13.0:aten/src/ATen/native/
transformers/sdp_utils_cpp.h:check_for_attn_mask, "Flash Attention does not support non-null attn_mask") and runs
the memory-efficient kernel, which saves the additive mask as attn_bias for backward (torch==2.13.0:tools/autograd/
derivatives.yaml:_scaled_dot_product_efficient_attention); the CPU flash kernel that --measure runs saves it too.

Lifetimes, measured on LlamaForCausalLM and MistralForCausalLM (sliding_window set) under FakeTensorMode with
llmspec's tracker (training: forward + backward, bf16-mixed; prefill: no grad):

* training, no checkpointing: the bool mask dies with forward; each masked block's additive mask is saved until
  that block's backward: L_masked x b x s^2 x compute bytes at the end of forward and the start of backward.
* training, checkpointing (non-reentrant): each checkpointed block keeps its inputs, the bool mask among them, until
  backward ends; the recomputed block converts it again: + b x s^2 x compute bytes while it runs. Eager: the float
  mask is kept the same way.
* prefill: the bool mask through the forward, plus one block's additive mask at a time.

Only a stack whose model code is transformers' builds these masks: torchtune's padded_collate_sft and LitGPT's
GPT.forward pass no padding mask (right padding under ``is_causal``).
"""

from __future__ import annotations

from dataclasses import dataclass

from llmspec.estimate import activations as A
from llmspec.estimate import precision as P
from llmspec.spec.models import Spec, Training


@dataclass(frozen=True)
class MaskBytes:
    """Bytes of the dense masks at the moments the estimate's phases look at (0 when no mask is built)."""

    kept: float = 0.0
    """Live from the end of forward to the start of backward (saved additive masks, or the checkpointed inputs)."""
    recompute: float = 0.0
    """Extra while one checkpointed block is recomputed in backward (its additive mask)."""
    note: str = ""


def masked_blocks(spec: Spec, seq: int, padded: bool) -> int:
    """Blocks whose sdpa call gets a dense mask: every block with padding, else the windowed ones from seq = window."""
    arch = spec.arch
    window = arch.window_layers
    if padded:
        return arch.n_layers
    return window if arch.sliding_window is not None and seq >= arch.sliding_window else 0


def _bool_bytes(spec: Spec, seq: int, batch: int, padded: bool) -> float:
    """The bool masks the forward builds (one per kind of attention that needs one)."""
    arch = spec.arch
    kinds = 0.0
    if padded and arch.n_layers > arch.window_layers:
        kinds += batch  # the full-attention mask, per row
    if arch.window_layers and (padded or seq >= (arch.sliding_window or 0)):
        kinds += batch if padded else 1  # the window's mask: per row with padding, else (1, 1, s, s) expanded
    return kinds * seq * seq


def uses_transformers_masks(spec: Spec) -> bool:
    from llmspec.spec.stacks import stack

    tr = spec.training or Training()
    return stack(tr.stack).model_code.value == "transformers"


def _dtype_bytes(tr: Training) -> tuple[float, float]:
    """(query dtype bytes, embeddings' dtype bytes): 16-bit compute but fp32 under fp32; the embeddings keep the
    weights' dtype (fp32 under AMP full training, the base dtype under LoRA)."""
    compute = 4 if tr.precision == "fp32" else 2
    if tr.method in ("lora", "qlora"):
        embed = P.DTYPE_BYTES[tr.base_dtype] if tr.base_dtype else compute
    else:
        embed = 4 if tr.precision == "fp32" or P.is_amp(tr.precision) else 2
    return compute, embed


def training_mask(spec: Spec) -> MaskBytes:
    """The dense masks of one training micro-batch (module docstring). Reads seq_len and micro_batch_size: the
    batch part of the estimate (training.BATCH_KEYS)."""
    tr = spec.training or Training()
    compute_bytes, embed_bytes = _dtype_bytes(tr)
    arch = spec.arch
    s, b = tr.seq_len, tr.micro_batch_size
    padded = not tr.packing
    if not uses_transformers_masks(spec):
        return MaskBytes(note="padded batches: the stack's own model code passes no padding mask (is_causal, no "
                         "dense mask)" if padded else "")
    ckpt = tr.activation_checkpointing
    if A.eager_attention(tr, spec.model.family):
        kinds = 1 + (arch.window_layers > 0 and arch.window_layers < arch.n_layers)
        mask = kinds * b * s * s * embed_bytes
        if not ckpt:  # freed with forward: it never meets the end-of-forward or backward peaks
            return MaskBytes()
        return MaskBytes(kept=mask, note=f"eager attention with checkpointing: {kinds} float mask(s) of {b} x "
                         f"{s:,}^2 kept through backward ({mask / 2**20:,.1f} MiB)")
    if tr.attention == "flash":
        return MaskBytes()
    blocks = masked_blocks(spec, s, padded)
    if not blocks:
        return MaskBytes()
    additive = b * s * s * compute_bytes
    bool_mask = _bool_bytes(spec, s, b, padded)
    why = "padded batches" if padded else f"seq_len {s:,} >= sliding_window {arch.sliding_window:,}"
    if ckpt:
        kept, recompute = bool_mask, additive
        what = f"the bool mask kept by the checkpoints + one recomputed block's additive mask ({additive / 2**20:,.1f} MiB)"
    else:
        kept, recompute = blocks * additive, 0.0
        what = f"{blocks} blocks' additive masks saved for backward ({kept / 2**20:,.1f} MiB)"
    return MaskBytes(kept=kept, recompute=recompute,
                     note=f"sdpa with {why}: a dense (batch, 1, seq, seq) mask; {what} (llmspec.estimate.mask)")


def prefill_mask(spec: Spec, prompt: int, batch: int, compute_bytes: float) -> tuple[float, float, list[str]]:
    """(bool-mask bytes, live through the prefill; one block's additive mask, live inside attention only), notes."""
    inf = spec.inference
    if inf is None:
        return 0.0, 0.0, []
    notes = []
    if inf.padded and inf.kv_allocation == "paged":
        notes.append(f"inference.padded does not apply to {inf.backend}: a paged engine schedules ragged batches "
                     "and pads nothing (ignored)")
    padded = inf.padded and batch > 1 and inf.kv_allocation != "paged"
    if inf.attention != "sdpa" or A.eager_attention(spec.training or Training(), spec.model.family):
        return 0.0, 0.0, notes  # flash: no dense mask; eager: its masks are in inference.attention_peak / engine.py
    if not masked_blocks(spec, prompt, padded):
        return 0.0, 0.0, notes
    arch = spec.arch
    bool_mask = _bool_bytes(spec, prompt, batch, padded)
    additive = batch * prompt * prompt * compute_bytes
    why = "padded prompts" if padded else f"prompt {prompt:,} >= sliding_window {arch.sliding_window:,}"
    return bool_mask, additive, notes + [
        f"sdpa with {why}: a dense (batch, 1, prompt, prompt) bool mask ({bool_mask / 2**20:,.1f} MiB) and, inside "
        f"each block's attention, its additive copy ({additive / 2**20:,.1f} MiB; llmspec.estimate.mask)"]


def window_held_tokens(window: int, prompt: int, kv_len: int) -> int:
    """Tokens a windowed block's HF cache holds at its largest: the prompt after prefill, at most the window later
    (transformers==5.24.0:src/transformers/cache_utils.py:DynamicSlidingWindowLayer.update keeps the last
    sliding_window - 1 tokens as a view of the step's concatenated states, so the prefill's storage stays whole until
    the first decode step)."""
    return max(prompt, min(kv_len, window))


def kv_tokens(spec: Spec, prompt: int, kv_len: int) -> float:
    """KV tokens per sequence, averaged over blocks, that the engine holds: with the hf backend the windowed blocks
    hold window_held_tokens (DynamicCache(config=...) builds a sliding-window layer for each: cache_utils.py:
    DynamicCache.__init__, layer_types); with litgpt a windowed block's static cache is min(kv_len, window) tokens
    (litgpt==0.5.13:litgpt/model.py:CausalSelfAttention.build_kv_cache, effective_cache_size = min(max_seq_length,
    sliding_window_size): a ring buffer); other engines are estimated at kv_len in every block."""
    from llmspec.spec.models import Inference

    arch = spec.arch
    inf = spec.inference or Inference()
    if not arch.window_layers or inf.backend not in ("hf", "litgpt") or arch.sliding_window is None:
        return float(kv_len)
    held = (min(kv_len, arch.sliding_window) if inf.backend == "litgpt"
            else window_held_tokens(arch.sliding_window, prompt, kv_len))
    return (kv_len * (arch.n_layers - arch.window_layers) + held * arch.window_layers) / arch.n_layers
