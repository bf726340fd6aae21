"""Measured mode: run the spec's real transformers model under FakeTensorMode and track live bytes.

No GPU and no real memory is needed: parameters, activations, gradients and optimizer states are fake
tensors (shape, dtype, no data). A TorchDispatchMode (``_tracker.StorageTracker``) records each storage's
size rounded up to 512 B and drops it when Python frees it; the peak matches CUDA's max_memory_allocated
(checked against real CPU runs and torch.profiler, NOTES.md). Training measures the SECOND optimizer step,
when optimizer states are live through forward and backward.

What runs for real: the transformers model (sdpa attention, i.e. no s x s buffer, or eager), autocast,
loss, backward, activation checkpointing (non-reentrant), peft LoRA, gradient accumulation, grad clipping,
torch.optim AdamW/Adam/SGD with foreach=True (the CUDA default) and transformers' Adafactor.
What is emulated (and listed in ``Measurement.emulated``): NF4 storage of QLoRA block linears (bitsandbytes
cannot run here: counted at the bits of lora.double_quant and quant_block, on the linears lora.quantize names,
+ a dequantisation buffer of the largest linear in forward and backward), 8-bit optimizer states (AdamW states re-counted at 1 B + block
scales), Lion (SGD with momentum: same single fp32 state), int8/int4 inference weights, pure-16-bit master
weights, and data-parallel sharding (ZeRO / FSDP: measured weights, gradients and optimizer states divided per
phase, plus two gathered layers for ZeRO-3/FSDP). The stack's loss (full, chunked, fused-linear) and the inference engine's logits and attention are applied;
every knob that moves the estimate but cannot run here is listed in ``emulated`` (_measure_knobs). Not visible
to any CPU measurement: the CUDA context,
cuBLAS workspaces, NCCL buffers and allocator fragmentation; the analytic ``overhead_bytes`` covers them.

torch, transformers and peft are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from llmspec.estimate import precision as P
from llmspec.estimate._measure_knobs import (
    loss_notes,
    quantised,
    training_loss,
    unapplied_inference,
    unapplied_training,
)
from llmspec.estimate._measure_support import (
    build,
    dtype_of,
    enable_checkpointing,
    fake_friendly_transformers,
    flash_masks,
    optimizers,
    padding_mask,
    phase_sharding,
    quiet_library_warnings,
    rename,
)
from llmspec.estimate.adapters import adapter_dtype
from llmspec.estimate.stack import nf4_bytes
from llmspec.spec.models import Spec


@dataclass
class Measurement:
    mode: str  # "training" | "inference"
    peak_bytes: int
    peak_phase: str
    breakdown: dict[str, int]
    phases: dict[str, int] = field(default_factory=dict)
    phase_parts: dict[str, dict[str, int]] = field(default_factory=dict)
    category_peaks: dict[str, int] = field(default_factory=dict)
    emulated: list[str] = field(default_factory=list)
    seconds: float = 0.0
    model_class: str = ""
    """The transformers class that was built and run (the family's real class, e.g. OPTForCausalLM)."""
    micro_batches: int = 0
    """Micro-batches run per measured optimizer step (accumulation stops where the peak is set)."""

    def to_dict(self) -> dict:
        return {"mode": self.mode, "model_class": self.model_class, "peak_bytes": self.peak_bytes,
                "peak_phase": self.peak_phase, "breakdown": dict(self.breakdown), "phases": dict(self.phases),
                "emulated": list(self.emulated), "seconds": round(self.seconds, 2)}


def measure_training(spec: Spec, *, fake: bool = True) -> Measurement:
    """Peak bytes of one steady-state training step (the second) of the spec's model, on one GPU.

    ``fake=False`` runs the same step on real CPU tensors (tiny models only): the tests use it to check
    that fake-mode accounting equals a real run."""
    import time

    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    from llmspec.estimate._tracker import StorageTracker
    from llmspec.estimate.stack import trained_spec

    spec = trained_spec(spec)  # the head as the stack builds it (training.tie_embeddings), as the estimate counts it
    tr = spec.training
    if tr is None:
        raise ValueError("the spec has no [training] table")
    start = time.perf_counter()
    emulated: list[str] = []
    lora = tr.method in ("lora", "qlora")
    amp = P.is_amp(tr.precision)
    cdt = P.compute_dtype(tr.precision)
    if cdt == "fp8":
        cdt = "bf16"
        emulated.append("fp8-mixed measured as bf16-mixed (no Transformer Engine here)")
    if lora:
        base = tr.base_dtype or ("fp32" if tr.precision == "fp32" else ("fp16" if "fp16" in tr.precision else "bf16"))
        model_dtype = dtype_of(base)
    else:
        model_dtype = torch.float32 if (amp or tr.precision == "fp32") else dtype_of(cdt)
    attn = "eager" if tr.attention == "eager" else "sdpa"
    if spec.arch.moe is not None and model_dtype == torch.float32:
        from llmspec.estimate.hfmap import UnsupportedArchitecture

        # transformers' grouped expert matmul accepts only 16-bit operands on CPU, and its eager per-expert loop
        # routes with data-dependent shapes (nonzero) that fake tensors cannot run
        raise UnsupportedArchitecture("MoE training with fp32 weights (fp32 or AMP) cannot be measured here; "
                                      "measure with precision = \"bf16\" or LoRA on a 16-bit base")
    V = spec.arch.vocab_size
    tracker = StorageTracker(vocab_size=V)
    mode = FakeTensorMode(allow_non_fake_inputs=False) if fake else contextlib.nullcontext()
    with quiet_library_warnings(), fake_friendly_transformers(), flash_masks(tr.attention), mode:
        torch.manual_seed(0)
        model = build(spec, model_dtype, attn, dropout=tr.dropout)
        model_class = type(model).__name__
        if lora:
            from peft import LoraConfig, get_peft_model

            adapter = tr.lora
            assert adapter is not None  # Training's validator sets lora = Lora() for method lora / qlora
            targets = adapter.targets
            # peft annotates lora_alpha as int but only divides by it (scaling = alpha / r): a float alpha is valid
            cfg = LoraConfig(r=adapter.rank, lora_alpha=adapter.alpha,  # type: ignore[arg-type]
                             lora_dropout=adapter.dropout, use_dora=adapter.dora,
                             target_modules="all-linear" if "all-linear" in targets else list(targets),
                             task_type="CAUSAL_LM")
            # the adapter dtype the estimate uses (adapters.adapter_dtype: fp32 under fp32 and AMP, else the spec's
            # lora.dtype or its stack's): peft's autocast_adapter_dtype=True upcasts 16-bit adapters to fp32;
            # otherwise they are cast to that dtype (torchtune and LitGPT build them in the model dtype)
            adt = dtype_of(adapter_dtype(tr))
            model = get_peft_model(model, cfg, autocast_adapter_dtype=adt == torch.float32)
            for p in model.parameters():
                if p.requires_grad and p.dtype != adt:
                    p.data = p.data.to(adt)
        if tr.activation_checkpointing:
            enable_checkpointing(model, tr, emulated)
            if lora:
                model.enable_input_require_grads()
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        # ---- register weights (with NF4 emulation for QLoRA block linears)
        nf4 = 0.0  # bytes per parameter of a QLoRA block linear; 0 without QLoRA
        if tr.method == "qlora":
            lo = tr.lora
            assert lo is not None  # Training's validator sets lora = Lora() for method lora / qlora
            nf4 = nf4_bytes(lo.double_quant, lo.quant_block)
            which = {"all-linear": "block linears", "adapted": "adapted block linears",
                     "every-linear": "every linear, the head too"}[lo.quantize or "all-linear"]
            emulated.append(f"QLoRA: {which} counted as {lo.quant_format.upper()} ({8 * nf4:.4g} bits/param, scales "
                            f"per {lo.quant_block}); + one dequantised weight of the largest in forward/backward "
                            "(bitsandbytes cannot run here)")
        big_linear = 0
        for name, p in model.named_parameters():
            size: float | None = None
            if nf4 and quantised(name, p, tr):
                size = p.numel() * nf4
                big_linear = max(big_linear, p.numel())
            tracker.register(p, "weights", size)
            tracker.params.add(id(p.untyped_storage()))
        for b in model.buffers():
            tracker.register(b, "weights")
        opts = optimizers(tr, params, emulated)
        b, s = tr.micro_batch_size, tr.seq_len
        ids = torch.randint(0, V, (b, s))
        # packing = false: a padded batch, so transformers builds its dense mask (llmspec.estimate.mask)
        pad = padding_mask(b, s) if not tr.packing else None
        if pad is not None:
            emulated.append("packing = false: the last row padded by one token, so the batch takes the padded path")
        autocast = torch.autocast("cpu", dtype=dtype_of(cdt)) if amp else contextlib.nullcontext()

        # With accumulation, gradients are live from the second micro-batch on and every later micro-batch repeats
        # the same live set, so two micro-batches set the peak of any number of them (NOTES.md, "what dominates"):
        # running 64 took minutes and measured nothing new.
        micro = min(tr.gradient_accumulation, 2)
        if micro < tr.gradient_accumulation:
            emulated.append(f"gradient accumulation {tr.gradient_accumulation}: {micro} micro-batches run per step "
                            "(from the second on, each has the same live tensors; the peak is set by then)")

        def step():
            for _ in range(micro):
                tracker.phase = "forward"
                loss = training_loss(model, ids, tr, autocast, pad) / tr.gradient_accumulation
                tracker.phase = "backward"
                loss.backward()
                del loss
            tracker.phase = "optimizer"
            if tr.optimizer_in_backward:
                return  # each parameter stepped in backward (optimizers); torchtune allows no clipping with it
            if tr.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(params, tr.max_grad_norm, foreach=True)
            for opt in opts:
                opt.step()
                opt.zero_grad(set_to_none=True)

        with tracker:
            step()
            # steady state: re-label what survives step 1 (optimizer states) and emulate 8-bit states
            for state in (st for opt in opts for st in opt.state.values()):
                for t in state.values():
                    if isinstance(t, torch.Tensor) and t.dim() > 0:
                        size = None
                        if tr.optimizer == "adamw_8bit" and t.numel() >= P.BNB_MIN_8BIT_SIZE:
                            size = t.numel() * (1 + 4 / P.BNB_BLOCK)
                        if tr.paged_optimizer:
                            size = 0  # in CUDA unified memory: outside torch's counters
                        tracker.recategorize(t, "optimizer_states", size)
            tracker.reset_peaks()
            step()
    phases: dict[str, int] = {}
    phase_parts: dict[str, dict[str, int]] = {}
    best: tuple[str, int, dict[str, int]] = ("forward", 0, {})
    for phase, (_total, sums) in tracker.peaks.items():
        parts = {k: v for k, v in sums.items() if v}
        parts = rename(parts)
        if (tr.optimizer == "adamw_8bit" or tr.paged_optimizer) and phase == "optimizer":
            parts.pop("optimizer_step", None)  # bitsandbytes' fused 8-bit update needs no full-size buffers
        if big_linear and phase != "optimizer":
            # Lightning's quantiser (lora.quantize = "every-linear") dequantises to fp16, then casts (stack.py)
            every = tr.lora is not None and tr.lora.quantize == "every-linear"
            parts["dequant_buffer"] = big_linear * (model_dtype.itemsize + (2 if every else 0))
        parts, notes = phase_sharding(parts, spec)
        if tr.precision in ("bf16", "fp16") and tr.master_weights_fp32:
            parts["master_weights"] = sum(p.numel() for p in params) * 4
        phases[phase] = sum(parts.values())
        phase_parts[phase] = parts
        if phases[phase] > best[1]:
            best = (phase, phases[phase], parts)
        for n in notes if phase == "optimizer" else ():
            emulated.append(n)
    if tr.paged_optimizer:
        emulated.append("paged_optimizer: optimizer states and step buffers counted 0 (bitsandbytes keeps them in "
                        "CUDA unified memory, outside torch's allocated counters; it cannot run here)")
    emulated += loss_notes(tr) + unapplied_training(spec)
    if tr.precision in ("bf16", "fp16") and tr.master_weights_fp32:
        emulated.append("master_weights_fp32: fp32 master copy added analytically (states measured in 16-bit)")
    return Measurement("training", best[1], best[0], best[2], phases, phase_parts,
                       rename(tracker.category_peaks), emulated, time.perf_counter() - start, model_class, micro)


def measure_inference(spec: Spec) -> Measurement:
    """Peak bytes of a generation prefill: inference.batch_size x the prompt (inference.lengths) through the real
    class with a KV cache and ``logits_to_keep=1`` (what HF generate does), on one GPU. The KV cache of the tokens
    generated after the prompt and tensor parallelism are applied to the measured parts analytically (listed in
    ``emulated``): no process group exists here."""
    import time

    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    from llmspec.estimate._tracker import StorageTracker
    from llmspec.estimate.inference import inference_tp, lengths
    from llmspec.estimate.mask import window_held_tokens
    from llmspec.estimate.stack import served_spec

    spec = served_spec(spec)  # the head as the engine builds it (inference.tie_embeddings), as the estimate counts it
    inf = spec.inference
    if inf is None:
        from llmspec.spec.models import Inference

        inf = Inference()
    start = time.perf_counter()
    emulated: list[str] = []
    wdt = inf.precision if inf.precision in ("fp32", "bf16", "fp16") else "bf16"
    if wdt != inf.precision:
        emulated.append(f"{inf.precision}: block linears counted at {P.INFERENCE_WEIGHT_BYTES[inf.precision]} B"
                        " + scales; compute in bf16")
    prompt, kv_len = lengths(spec)
    V = spec.arch.vocab_size
    tracker = StorageTracker(vocab_size=V)
    with quiet_library_warnings(), fake_friendly_transformers(), flash_masks(inf.attention), FakeTensorMode():
        model = build(spec, dtype_of(wdt), "eager" if inf.attention == "eager" else "sdpa")
        model_class = type(model).__name__
        model.eval()
        for name, p in model.named_parameters():
            size = None
            if wdt != inf.precision and p.dim() == 2 and "embed" not in name and "lm_head" not in name:
                size = p.numel() * (P.INFERENCE_WEIGHT_BYTES[inf.precision] + P.INFERENCE_SCALE_BYTES.get(inf.precision, 0))
            tracker.register(p, "weights", size)
        for b in model.buffers():
            tracker.register(b, "weights")
        ids = torch.randint(0, V, (inf.batch_size, prompt))
        padded = inf.padded and inf.batch_size > 1 and inf.kv_allocation != "paged"
        pad = padding_mask(inf.batch_size, prompt) if padded else None
        from transformers import DynamicCache

        with tracker, torch.no_grad():
            tracker.phase = "forward"
            cache = DynamicCache(config=model.config)
            # logits = "all" (a plain forward, lm-eval loglikelihood): every position's; else the last (generate)
            keep = 0 if inf.logits == "all" else 1
            out = model(input_ids=ids, attention_mask=pad, past_key_values=cache, use_cache=True, logits_to_keep=keep)
            kv = 0
            grown = 0.0  # the KV cache at kv_len tokens: full blocks grow to kv_len, windowed ones to their window
            for layer in getattr(cache, "layers", []):
                window = getattr(layer, "sliding_window", None) if inf.backend == "hf" else None
                held = kv_len if window is None else window_held_tokens(window, prompt, kv_len)
                for t in (getattr(layer, "keys", None), getattr(layer, "values", None)):
                    if isinstance(t, torch.Tensor):
                        kv += t.untyped_storage().nbytes()
                        grown += t.untyped_storage().nbytes() / prompt * held
            del out
    _total, sums = tracker.peaks["forward"]
    parts = {("activations" if k == "forward" else k): v for k, v in sums.items() if v}
    if kv:
        parts["activations"] = parts.get("activations", 0) - kv
        if kv_len > prompt:
            emulated.append(f"KV cache of the {kv_len - prompt} generated tokens: the prompt's measured KV bytes per "
                            f"token x {kv_len} tokens (a windowed block of the hf cache: at most its window)")
            kv = int(grown)
        kv_prec = inf.kv_cache_precision or ("fp32" if inf.precision == "fp32" else "bf16")
        kv = int(kv * P.DTYPE_BYTES[kv_prec] / dtype_of(wdt).itemsize)
        parts["kv_cache"] = kv
    emulated += unapplied_inference(spec)
    tp = inference_tp(spec)
    if tp > 1:
        kv_split = min(tp, spec.arch.kv_heads)
        parts = {k: (v // kv_split if k == "kv_cache" else v // tp) for k, v in parts.items()}
        emulated.append(f"tensor parallel {tp}: measured weights and activations divided by {tp}, the KV cache by "
                        f"{kv_split} (its KV heads); one process measured, no collectives")
    peak = sum(parts.values())
    return Measurement("inference", peak, "forward", parts, {"forward": peak}, {"forward": parts}, {}, emulated,
                       time.perf_counter() - start, model_class, 1)
