"""The spec's stack and engine knobs in measure.py: the loss variants that run here, and a note for every knob the
measurement cannot apply (so estimate and measurement never differ without a word).

torch is imported inside the functions.
"""

from __future__ import annotations

import math

from llmspec.spec.models import Spec, Training


def training_loss(model, ids, tr: Training, autocast, attention_mask=None):
    """The micro-batch's loss as the spec's ``training.loss`` computes it.

    * full: the model's own loss (transformers ForCausalLMLoss: every position's logits upcast to fp32);
    * chunked: the head applied to ``loss_chunks`` chunks of the sequence and each chunk's logits upcast to fp32 for
      its cross-entropy one at a time, as torchtune==0.6.1:torchtune/modules/loss/ce_chunked_output_loss.py:
      CEWithChunkedOutputLoss.forward (with TransformerDecoder's chunked output: ``[output(chunk) for chunk in
      h.chunk(n, dim=1)]``) and LitGPT's chunked_cross_entropy do;
    * fused-linear: Liger's fused linear cross-entropy, emulated (fused_linear_ce).
    """

    if tr.loss in (None, "full"):
        with autocast:
            return model(input_ids=ids, labels=ids, attention_mask=attention_mask).loss
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    with autocast:
        hidden = base.base_model(input_ids=ids, attention_mask=attention_mask).last_hidden_state
        head = base.get_output_embeddings()
        if tr.loss == "chunked":
            from llmspec.estimate.stack import loss_chunk_count

            return chunked_ce(hidden, head, ids, loss_chunk_count(tr))
        return fused_linear_ce(hidden.reshape(-1, hidden.size(-1)), head.weight)


def chunked_ce(hidden, head, labels, n: int):
    """torchtune's chunked output and CEWithChunkedOutputLoss.forward (ce_chunked_output_loss.py): the head on each
    of n sequence chunks (all 16-bit chunk logits live), then one chunk at a time upcast to fp32 for its
    cross-entropy (sum), divided by the tokens that are not ignore_index."""
    import torch

    logits = [head(c) for c in hidden.chunk(n, dim=1)]
    tokens = (labels != -100).sum()
    targets = [c.reshape(-1) for c in labels.chunk(n, dim=1)]
    total = sum(torch.nn.functional.cross_entropy(lc.reshape(-1, lc.size(-1)).float(), y, reduction="sum")
                for lc, y in zip(logits, targets))
    return total / tokens


def fused_linear_ce(x, weight):
    """Liger's FusedLinearCrossEntropy (liger_kernel/ops/fused_linear_cross_entropy.py:
    fused_linear_cross_entropy_forward) with the same buffers, in torch: its Triton kernel cannot run on a CPU.
    Forward allocates grad_input (like the hidden states), grad_weight when the head trains, an fp32 per-token loss,
    and per chunk of ``next_power_of_2(ceil(tokens / ceil(V / H)))`` tokens the chunk's logits (about tokens x
    hidden elements), which the kernel overwrites in place with their gradient (here: an in-place op stands for
    it) before ``grad_logits @ weight`` fills grad_input. Backward only scales the saved gradients in place."""
    import torch

    class _FusedLinearCE(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            bt, h = x.shape
            inc = math.ceil(w.shape[0] / h)
            chunk = min(1 << max(0, math.ceil(bt / inc) - 1).bit_length(), bt)
            grad_input = torch.zeros_like(x)
            grad_weight = torch.zeros_like(w) if w.requires_grad else None
            loss = torch.zeros(bt, dtype=torch.float32)
            for start in range(0, bt, chunk):
                xc = x[start:start + chunk]
                logits = xc @ w.t()
                logits.mul_(1.0)  # the kernel: loss into loss[start:], the logits' gradient in place
                grad_input[start:start + chunk] = logits @ w
                if grad_weight is not None:
                    grad_weight.addmm_(logits.t().to(xc.dtype), xc)
                del logits
            ctx.save_for_backward(grad_input, *(() if grad_weight is None else (grad_weight,)))
            return loss.sum()

        @staticmethod
        def backward(ctx, g):
            grads = [t.mul_(g.to(t.dtype)) for t in ctx.saved_tensors]
            return grads[0], (grads[1] if len(grads) > 1 else None)

    return _FusedLinearCE.apply(x, weight)


def quantised(name: str, p, tr: Training) -> bool:
    """Whether a frozen parameter is a QLoRA 4-bit weight under lora.quantize: every block linear (bitsandbytes via
    transformers), only the adapted ones (torchtune's Qwen2 builders: peft's base_layer of an adapted module), or every nn.Linear,
    the head too (Lightning)."""
    if p.requires_grad or p.dim() != 2 or "embed" in name:
        return False
    how = (tr.lora.quantize if tr.lora is not None else None) or "all-linear"
    if how == "adapted":
        return ".base_layer." in name
    return how == "every-linear" or "lm_head" not in name


def loss_notes(tr: Training) -> list[str]:
    if tr.loss == "chunked":
        from llmspec.estimate.stack import loss_chunk_count

        return [f"loss chunked: head and fp32 cross-entropy run in {loss_chunk_count(tr)} chunks "
                "(torchtune CEWithChunkedOutputLoss; run here)"]
    if tr.loss == "fused-linear":
        return ["loss fused-linear: Liger's FusedLinearCrossEntropy emulated in torch with its buffers (grad_input, "
                "per-chunk logits of about tokens x hidden elements, fp32 per-token loss); its Triton kernel cannot "
                "run here"]
    return []


def unapplied_training(spec: Spec) -> list[str]:
    """A note for each [training] / [training.lora] knob that changes the estimate but that the measurement does not
    apply (a CPU cannot run it). Knobs with no memory effect, and those measure_training applies, are not listed."""
    tr = spec.training
    assert tr is not None
    out = []
    if tr.compile:
        out.append("compile = true: not applied (torch.compile cannot run under fake tensors); the estimate's "
                   "factor is assumed (llmspec.estimate.stack.COMPILE_FACTOR)")
    if tr.activation_offload:
        out.append("activation_offload = true: not applied (no CPU/GPU split here: saved activations stay counted); "
                   "the estimate keeps about two layers' worth")
    hw = spec.hardware
    if hw is not None and hw.sharding == "fsdp" and tr.gradient_accumulation > 1 and tr.sync_each_batch is False:
        out.append("sync_each_batch = false: FSDP no_sync's unsharded gradients not applied (gradients divided as "
                   "if reduce-scattered each micro-batch)")
    if hw is not None and hw.deepspeed is not None and hw.sharding in ("zero1", "zero2", "zero3"):
        out.append("hardware.deepspeed: its optimizer and buckets are not applied (torch's optimizer measured)")
    lo = tr.lora
    if tr.method == "qlora" and lo is not None:
        if lo.quant_chunk is not None:
            out.append("lora.quant_chunk: the torchao load phase is not measured (the estimate's 'load' phase)")
        if lo.quant_saves_input:
            out.append("lora.quant_saves_input: not applied (bitsandbytes < 0.43.2 kept each 4-bit matmul's input; "
                       "the matmuls here are 16-bit)")
    return out


def unapplied_inference(spec: Spec) -> list[str]:
    """A note for each [inference] knob the prefill measurement does not apply."""
    inf = spec.inference
    if inf is None:
        return []
    out = []
    if inf.kv_allocation == "paged":
        out.append(f"engine {inf.backend}: measured as an HF prefill of the asked-for sequences; its paged KV pool, "
                   "profile step and CUDA graphs are the estimate's (not measured)")
    if inf.kv_cache_precision and inf.kv_cache_precision != ("fp32" if inf.precision == "fp32" else "bf16"):
        out.append(f"kv_cache_precision = {inf.kv_cache_precision}: KV cache re-counted at its bytes per element "
                   "(measured in the model dtype)")
    if inf.precision == "int4" and inf.quant_format != "int4-groups":
        out.append(f"quant_format = {inf.quant_format}: bitsandbytes scales, dequantisation buffer and head not "
                   "applied (int4 groups counted)")
    elif inf.precision == "int4" and inf.weight_group_size not in (None, 128):
        out.append(f"weight_group_size = {inf.weight_group_size}: not applied (scales counted per 128 weights)")
    if inf.mask_buffer == "dense" and inf.kv_allocation == "static":
        out.append("mask_buffer = dense: the engine's square bool causal mask of the cache length is the estimate's "
                   "(the HF prefill measured here builds none)")
    if inf.kv_cache_growth is not None and inf.kv_allocation == "dynamic":
        out.append(f"kv_cache_growth = {inf.kv_cache_growth}: the decode step's cache copy is the estimate's (the "
                   "measurement is a prefill)")
    if inf.quant_kernel != "none" and inf.precision == "int4" and inf.quant_format == "int4-groups":
        out.append(f"quant_kernel = {inf.quant_kernel}: AutoGPTQ's g_idx and kernel buffers (act_order = "
                   f"{'true' if inf.act_order else 'false'}) are the estimate's (not measured: the kernels need CUDA)")
    from llmspec.estimate.inference import inference_tp

    if inf.shard_embeddings is False and inference_tp(spec) > 1:
        out.append("shard_embeddings = false: not applied (the measurement divides every weight by the tensor "
                   "parallel degree; the estimate keeps the embedding and head whole)")
    return out
