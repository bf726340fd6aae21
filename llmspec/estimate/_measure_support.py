"""Helpers of measure.py: fake-tensor workarounds, model building, optimizers, emulated sharding.

torch, transformers and peft are imported inside the functions.
"""

from __future__ import annotations

import contextlib

from llmspec.estimate import precision as P
from llmspec.estimate.shapes import layout
from llmspec.spec.models import Spec

# Warnings the libraries raise about how this module calls them, not about the user's spec or run: printed to the
# user of `llmspec estimate --measure` they were noise. Each is ignored by its category and the start of its message,
# only while a measurement runs (every other warning still shows).
LIBRARY_NOISE: tuple[tuple[type[Warning], str], ...] = (
    # transformers==5.24.0:src/transformers/utils/deprecation.py:deprecate_kwarg (the forward's past_key_values,
    # renamed `cache`); measure_inference passes the cache under the name every supported version accepts
    (FutureWarning, "`past_key_values` is deprecated"),
    # transformers==5.24.0:src/transformers/modeling_utils.py:PreTrainedModel.is_gradient_checkpointing, which
    # peft==0.21.2:src/peft/peft_model.py:PeftModel.__init__ reads
    (FutureWarning, "`is_gradient_checkpointing` is deprecated"),
    # peft==0.21.2:src/peft/tuners/tuners_utils.py:BaseTuner._check_tied_modules: about merging or converting the
    # adapter later, which a measurement never does
    (UserWarning, "Model has `tie_word_embeddings=True` and a tied layer is part of the adapter"),
    # peft==0.21.2:src/peft/tuners/lora/layer.py:dispatch_default: GPT-2's Conv1D, which peft handles by itself
    (UserWarning, "fan_in_fan_out is set to False but the target module is `Conv1D`"),
)


@contextlib.contextmanager
def quiet_library_warnings():
    """Ignore the LIBRARY_NOISE warnings (by category and message) inside the block, and nothing else."""
    import re
    import warnings

    with warnings.catch_warnings():
        for category, message in LIBRARY_NOISE:
            warnings.filterwarnings("ignore", message=re.escape(message), category=category)
        yield


@contextlib.contextmanager
def fake_friendly_transformers():
    """transformers reads tensor values to detect packed sequences; fake tensors have none. Answer
    "not packed", as a real run on unpadded, unpacked batches would (NOTES.md, traps)."""
    import torch.utils
    from transformers import masking_utils

    saved = masking_utils.find_packed_sequence_indices
    saved_swap = torch.utils.swap_tensors

    def swap(t1, t2):
        # Module.to(dtype) swaps fake parameters, which fails while FakeTensorMode holds a weakref to them;
        # assigning .data is what a real dtype change does to a parameter (NOTES.md, traps)
        try:
            saved_swap(t1, t2)
        except RuntimeError:
            t1.data = t2.data

    masking_utils.find_packed_sequence_indices = lambda position_ids: None
    torch.utils.swap_tensors = swap
    try:
        yield
    finally:
        masking_utils.find_packed_sequence_indices = saved
        torch.utils.swap_tensors = saved_swap


@contextlib.contextmanager
def flash_masks(kernel: str | None):
    """attention = "flash": FlashAttention-2 builds no dense mask (transformers==5.24.0:src/transformers/
    masking_utils.py:flash_attention_mask returns the 2-D padding mask or None; the window is a kernel argument).
    FA2 cannot run on a CPU, so sdpa runs with the mask function answering None (sdpa's is_causal path), as
    llmspec.estimate.mask assumes. Any other kernel: unchanged."""
    if kernel != "flash":
        yield
        return
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    ALL_MASK_ATTENTION_FUNCTIONS["sdpa"] = lambda *args, **kwargs: None
    try:
        yield
    finally:
        del ALL_MASK_ATTENTION_FUNCTIONS["sdpa"]


def padding_mask(batch: int, seq: int):
    """A 2-D attention_mask whose last row is one token shorter: real padding, so transformers builds the padded
    batch's dense mask (masking_utils.py:sdpa_mask; under fake tensors its value checks answer "cannot skip")."""
    import torch

    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[-1, -1] = 0
    return mask


def dtype_of(name: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


def build(spec: Spec, dtype, attn: str, dropout: float = 0.0):
    """The family's real transformers class (AutoModelForCausalLM picks it from the config's model_type)."""
    from transformers import AutoModelForCausalLM

    from llmspec.estimate.hfmap import hf_config

    cfg = hf_config(spec, attn_implementation=attn, dropout=dropout)
    if attn == "sdpa" and not sdpa_supported(cfg.model_type):
        attn = "eager"
        cfg._attn_implementation = attn
    model = AutoModelForCausalLM.from_config(cfg, dtype=dtype, attn_implementation=attn)
    return model


def sdpa_supported(model_type: str) -> bool:
    from llmspec.spec.families import family

    fam = family(model_type)
    return fam is None or fam.sdpa


def phase_sharding(parts: dict[str, int], spec: Spec) -> tuple[dict[str, int], list[str]]:
    """Apply data-parallel sharding analytically to measured categories (one rank's share)."""
    hw = spec.hardware
    said = []
    if hw is not None and hw.offload != "none":
        said.append(f"offload {hw.offload}: not applied to the measurement (one GPU's tensors, nothing moved to "
                    "CPU); compare with the estimate without offload")
    if hw is not None and hw.tensor_parallel * hw.pipeline_parallel > 1:
        parts, note = _model_parallel(parts, hw.tensor_parallel, hw.pipeline_parallel)
        said.append(note)
    if hw is None or hw.sharding == "none":
        return parts, said
    dp = max(1, hw.world_size // (hw.tensor_parallel * hw.pipeline_parallel))
    out = dict(parts)
    grads = "backward_grads_and_buffers"  # gradients are reduce-scattered as backward produces them
    shard = {"zero1": ("optimizer_states", "optimizer_step"),
             "zero2": ("optimizer_states", "optimizer_step", grads),
             "zero3": ("optimizer_states", "optimizer_step", grads, "weights", "autocast_copies"),
             "fsdp": ("optimizer_states", "optimizer_step", grads, "weights", "autocast_copies")}[hw.sharding]
    for key in shard:
        if key in out:
            out[key] = out[key] // dp
    notes = [*said, f"{hw.sharding} over {dp} ranks: measured {', '.join(shard)} divided by {dp} (analytic)"]
    if hw.sharding in ("zero3", "fsdp"):
        lay = layout(spec.arch)
        tr = spec.training
        assert tr is not None  # only measure_training calls this, after it checked [training]
        per = P.gathered_bytes(tr.method, tr.precision, tr.base_dtype, tr.lora.double_quant if tr.lora else True)
        out["gathered_layers"] = int(2 * lay.layer_params * per)
        notes.append(f"zero3/fsdp: + two all-gathered layers at {8 * per:g} bits per parameter, their stored dtype "
                     "(analytic)")
        if hw.sharding == "fsdp":  # + FSDP's unsharded root unit (llmspec.estimate.stack.fsdp_root_unit)
            from llmspec.estimate.params import count_params
            from llmspec.estimate.stack import fsdp_root_unit

            total = count_params(spec.arch, tr, family=spec.model.family).total
            out["gathered_layers"] += int(fsdp_root_unit(spec.arch, total, lay.layer_params, tr, notes))
    return out, notes


def _model_parallel(parts: dict[str, int], tp: int, pp: int) -> tuple[dict[str, int], str]:
    """One rank's share under tensor and pipeline parallelism, applied analytically to the measured categories as
    llmspec.estimate.training assumes: tensor parallelism with sequence parallelism divides weights, gradients,
    optimizer state and activations by its degree (Korthikanti et al. 2022, 4.2.2); pipeline stages divide the
    model state (the first stage still holds about n_layers layers of activations under 1F1B, 4.2.3). The
    measurement itself is of one unsharded replica (a CPU cannot run the collectives)."""
    state = ("weights", "autocast_copies", "optimizer_states", "optimizer_step", "backward_grads_and_buffers")
    out = {k: v // (tp * pp if k in state else tp) for k, v in parts.items()}
    return out, (f"tensor parallel {tp} x pipeline {pp}: the measured replica's weights, gradients and optimizer "
                 f"state divided by {tp * pp}, its activations by {tp} (analytic, as the estimate assumes)")


def rename(parts: dict[str, int]) -> dict[str, int]:
    names = {"forward": "activations", "backward": "backward_grads_and_buffers", "optimizer": "optimizer_step",
             "setup": "other"}
    out: dict[str, int] = {}
    for k, v in parts.items():
        key = names.get(k, k)
        out[key] = out.get(key, 0) + v
    return out


def optimizers(tr, params, emulated) -> list:
    """The optimizer of the trainable parameters; with training.optimizer_in_backward one per parameter, stepped by
    its post-accumulate-grad hook as soon as its gradient is ready, which then frees the gradient
    (torchtune==0.6.1:torchtune/training/memory.py:register_optim_in_bwd_hooks)."""
    if not tr.optimizer_in_backward:
        return [optimizer_for(tr, params, emulated)]
    opts = [optimizer_for(tr, [p], emulated if i == 0 else []) for i, p in enumerate(params)]
    for p, opt in zip(params, opts):
        def step(_param, opt=opt):
            opt.step()
            opt.zero_grad(set_to_none=True)

        p.register_post_accumulate_grad_hook(step)
    return opts


def optimizer_for(tr, params, emulated):
    import torch

    lr = tr.learning_rate
    if tr.optimizer in ("adamw", "adam"):
        cls = torch.optim.AdamW if tr.optimizer == "adamw" else torch.optim.Adam
        # the spec's implementation (stack default; issue 12): fused / foreach / for-loop
        impl = tr.optimizer_impl or "foreach"
        return cls(params, lr=lr, weight_decay=tr.weight_decay, foreach=impl == "foreach", fused=impl == "fused")
    if tr.optimizer == "adamw_8bit":
        emulated.append("adamw_8bit: torch AdamW with states re-counted at 1 B/element + fp32 absmax per 2048, "
                        "and its step buffers dropped (bitsandbytes' fused update; it cannot run here)")
        return torch.optim.AdamW(params, lr=lr, weight_decay=tr.weight_decay, foreach=False)
    if tr.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=tr.momentum, foreach=True)
    if tr.optimizer == "lion":
        emulated.append("lion: SGD with momentum (one fp32 state, per-tensor update) stands in")
        return torch.optim.SGD(params, lr=lr, momentum=0.9, foreach=False)
    if tr.optimizer == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(params, lr=lr, scale_parameter=False, relative_step=False, warmup_init=False)
    raise ValueError(tr.optimizer)


def enable_checkpointing(model, tr, emulated: list[str]) -> None:
    """Activation checkpointing on the model's blocks as training.checkpoint_policy says (non-reentrant).

    full (unset): transformers' own, every block. selective-op: the same checkpoint with torchtitan's per-op policy
    as its context_fn (pytorch/torchtitan@582fe7d1f52ef96987a9d5265b3e2bbefc92d583:torchtitan/parallelisms/
    parallelize_llama.py: _save_list, _apply_ac_to_transformer_block: save aten.mm outputs except every second one
    per block, the flash / efficient sdpa kernels' outputs, reduce_scatter and max; recompute the rest), through
    torch==2.13.0:torch/utils/checkpoint.py:create_selective_checkpoint_contexts. On a CPU sdpa runs
    aten._scaled_dot_product_flash_attention_for_cpu, the CPU build of the flash kernel, which stands in for the
    CUDA kernels in the list. every-n: only blocks k = n, 2n, ... (counted from 1) are checkpointed, as torchtitan's
    layer-wise option wraps them."""
    from collections import defaultdict
    from functools import partial

    import torch
    from torch.utils.checkpoint import CheckpointPolicy, create_selective_checkpoint_contexts

    kwargs: dict = {"use_reentrant": False}
    if tr.checkpoint_policy == "selective-op":
        aten = torch.ops.aten
        save = {aten.mm.default, aten._scaled_dot_product_efficient_attention.default,
                aten._scaled_dot_product_flash_attention.default, aten.max.default,
                aten._scaled_dot_product_flash_attention_for_cpu.default}

        def policy(meta, ctx, func, *args, **kw):
            key = "recompute" if ctx.is_recompute else "forward"
            if func == aten.mm.default:
                meta[key] += 1
            keep = func in save and not (func == aten.mm.default and meta[key] % 2 == 0)
            return CheckpointPolicy.MUST_SAVE if keep else CheckpointPolicy.PREFER_RECOMPUTE

        def context_fn():
            return create_selective_checkpoint_contexts(partial(policy, defaultdict(int)))

        kwargs["context_fn"] = context_fn
        emulated.append("checkpoint_policy = selective-op: torchtitan's per-op policy applied to the transformers "
                        "blocks (the CPU flash sdpa kernel saved in place of the CUDA ones)")
    model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    if tr.checkpoint_policy == "every-n":
        n = tr.checkpoint_every or 2
        layers = [m for m in model.modules() if getattr(type(m), "gradient_checkpointing", None) is not None
                  and hasattr(m, "_gradient_checkpointing_func")]
        for k, layer in enumerate(layers, start=1):
            if k % n:
                layer.gradient_checkpointing = False
