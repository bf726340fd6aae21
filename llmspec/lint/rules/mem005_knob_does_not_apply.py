from __future__ import annotations

from llmspec.lint.rule import Rule

_LORA = ("rank", "alpha", "dropout", "targets", "double_quant", "dtype", "dora", "quantize", "quant_format",
         "quant_block", "quant_saves_input", "quant_chunk")
_QLORA = ("double_quant", "quantize", "quant_format", "quant_block", "quant_saves_input", "quant_chunk")
_BNB_INFERENCE = ("quant_format", "double_quant", "quantize_head")


class KnobDoesNotApply(Rule):
    """A memory knob is set where it has no effect: for another method, loss, optimizer or sharding backend.

    The estimate ignores such a knob, and so does the real stack; the spec then claims a setting that the run
    does not have. Checked: adapter knobs without LoRA, QLoRA knobs without QLoRA, loss chunks without a
    chunked loss, an optimizer implementation or paging for an optimizer that has none, an optimizer step in
    backward with gradient accumulation (torchtune requires gradient_accumulation_steps = 1), and DeepSpeed
    settings without a ZeRO sharding or CPU Adam without optimizer offload; sync_each_batch without FSDP and
    gradient accumulation; fsdp_lora_units without FSDP or without adapters; inference.padded on a paged engine
    or for one sequence; paged-KV settings (vLLM's gpu_memory_utilization, max_num_seqs, ...) for an engine
    without a paged pool, an int4 group size for weights that are not int4, and bitsandbytes layout settings
    (quant_format, double_quant, quantize_head) for weights that are not int4 or not a bitsandbytes format;
    any [training.lora] setting (rank, alpha, targets, ...) when the method trains no adapters, and QLoRA's
    double_quant under plain LoRA; base_dtype (LoRA's frozen base) under a method that trains every weight;
    master_weights_fp32 under a precision that already keeps fp32 weights; SGD momentum for another optimizer;
    inference.shard_embeddings when the model is served on one GPU (no tensor or pipeline parallelism);
    kv_cache_tokens and mask_buffer on a dynamic or paged cache, kv_cache_growth on a static or paged one,
    quant_kernel on weights that are not int4-groups, and act_order without a quant_kernel or on such weights;
    checkpoint_every larger than the number of blocks (every-n then checkpoints none of them).

    Why:
    A knob that does nothing is usually a sign the author meant something else (e.g. loss_chunks with the
    default full loss). Sources: torchtune recipes/full_finetune_single_device.py (optimizer_in_bwd with
    gradient accumulation raises); bitsandbytes paged optimizers exist for Adam/AdamW (bitsandbytes.optim).

    Bad:
    ```toml
    [training]
    method = "full"
    loss_chunks = 8

    [training.lora]
    dora = true
    ```

    Good:
    ```toml
    [training]
    method = "lora"
    loss = "chunked"
    loss_chunks = 8

    [training.lora]
    dora = true
    ```
    """

    code = "MEM005"
    name = "knob-does-not-apply"
    severity = "warning"

    def check(self, ctx):
        tr = ctx.spec.training
        if tr is not None:
            yield from self._training(ctx, tr)
        inf = ctx.spec.inference
        if inf is not None and inf.kv_allocation != "paged":
            for name in ("gpu_memory_utilization", "max_num_seqs", "max_num_batched_tokens", "block_size",
                         "cuda_graph_memory"):
                if name in inf.model_fields_set:
                    yield self.finding(ctx, ("inference", name),
                                       f"{name} sizes a paged KV pool, but backend = {inf.backend!r} allocates its cache "
                                       f"{inf.kv_allocation}ally", fix=f'remove {name}, or use backend = "vllm"')
        if inf is not None and "weight_group_size" in inf.model_fields_set and inf.precision != "int4":
            yield self.finding(ctx, ("inference", "weight_group_size"),
                               f"weight_group_size applies to int4 weights, not precision = {inf.precision!r}",
                               fix='remove weight_group_size, or set precision = "int4"')
        if inf is not None:
            yield from self._bnb_inference(ctx, inf)
            yield from self._cache_and_kernel(ctx, inf)
        if inf is not None and "shard_embeddings" in inf.model_fields_set:
            from llmspec.estimate.inference import inference_tp

            pp = ctx.spec.hardware.pipeline_parallel if ctx.spec.hardware is not None else 1
            if inference_tp(ctx.spec) == 1 and pp == 1:
                yield self.finding(ctx, ("inference", "shard_embeddings"),
                                   "shard_embeddings says whether tensor or pipeline parallelism splits the embedding "
                                   "and head, but this model is served on one GPU (tensor_parallel = 1, "
                                   "pipeline_parallel = 1)", fix="remove shard_embeddings")
        if inf is not None and inf.padded and (inf.kv_allocation == "paged" or inf.batch_size == 1):
            why = (f"backend = {inf.backend!r} schedules ragged batches and pads nothing" if inf.kv_allocation == "paged"
                   else "a batch of one sequence has nothing to pad")
            yield self.finding(ctx, ("inference", "padded"), f"padded = true has no effect: {why}",
                               fix="remove padded")
        hw = ctx.spec.hardware
        if tr is not None and "sync_each_batch" in tr.model_fields_set and (
                hw is None or hw.sharding != "fsdp" or tr.gradient_accumulation == 1):
            yield self.finding(ctx, ("training", "sync_each_batch"),
                               "sync_each_batch decides when FSDP reduces gradients under gradient accumulation; this "
                               "run has no FSDP sharding or no accumulation", fix="remove sync_each_batch")
        if tr is not None and "fsdp_lora_units" in tr.model_fields_set and (
                hw is None or hw.sharding != "fsdp" or tr.method not in ("lora", "qlora")):
            why = ("this run has no FSDP sharding" if hw is None or hw.sharding != "fsdp"
                   else f"method = {tr.method!r} trains no adapters")
            yield self.finding(ctx, ("training", "fsdp_lora_units"),
                               f"fsdp_lora_units says how FSDP wraps a LoRA/QLoRA model; {why}",
                               fix="remove fsdp_lora_units" + ("" if why.startswith("method") else
                                                               ', or set hardware.sharding = "fsdp"'))
        if hw is not None and hw.deepspeed is not None:
            if hw.sharding not in ("zero1", "zero2", "zero3"):
                yield self.finding(ctx, ("hardware", "deepspeed"),
                                   f"[hardware.deepspeed] is set but sharding = {hw.sharding!r} is not a DeepSpeed ZeRO "
                                   "stage, so it has no effect", fix='set sharding = "zero1", "zero2" or "zero3"')
            elif hw.deepspeed.optimizer == "cpu-adam" and hw.offload == "none":
                yield self.finding(ctx, ("hardware", "deepspeed", "optimizer"),
                                   'deepspeed.optimizer = "cpu-adam" runs the step on the CPU, but offload = "none" '
                                   "keeps the states on the GPU", fix='set hardware.offload = "optimizer"')

    def _bnb_inference(self, ctx, inf):
        for name in _BNB_INFERENCE:
            if name not in inf.model_fields_set:
                continue
            if inf.precision != "int4":
                yield self.finding(ctx, ("inference", name),
                                   f"{name} describes 4-bit weights, not precision = {inf.precision!r}",
                                   fix=f'remove {name}, or set precision = "int4"')
            elif name != "quant_format" and inf.quant_format == "int4-groups":
                yield self.finding(ctx, ("inference", name),
                                   f"{name} applies to bitsandbytes nf4 / fp4, not quant_format = \"int4-groups\"",
                                   fix=f'remove {name}, or set quant_format = "nf4"')

    def _cache_and_kernel(self, ctx, inf):
        # the estimate ignores these knobs in these cases (llmspec.estimate.inference.inference_memory and
        # cache_growth, llmspec.estimate.engine), and so does the engine
        alloc = inf.kv_allocation
        for name in ("kv_cache_tokens", "mask_buffer"):
            if name in inf.model_fields_set and alloc != "static":
                yield self.finding(ctx, ("inference", name),
                                   f"{name} sizes a static KV cache, but backend = {inf.backend!r} allocates its cache "
                                   f"{'on demand (dynamic)' if alloc == 'dynamic' else 'as a paged block pool'} "
                                   "(the estimate ignores it)",
                                   fix=f'remove {name}, or set kv_allocation = "static"')
        if "kv_cache_growth" in inf.model_fields_set and alloc != "dynamic":
            yield self.finding(ctx, ("inference", "kv_cache_growth"),
                               f"kv_cache_growth describes how a dynamic cache grows, but backend = {inf.backend!r} "
                               f"allocates its cache {'as a paged block pool' if alloc == 'paged' else 'up front (static)'}"
                               " (the estimate ignores it)", fix="remove kv_cache_growth")
        int4_groups = inf.precision == "int4" and inf.quant_format == "int4-groups"
        weights = (f"precision = {inf.precision!r}" if inf.precision != "int4"
                   else f"quant_format = {inf.quant_format!r}")
        if inf.quant_kernel != "none" and not int4_groups:
            yield self.finding(ctx, ("inference", "quant_kernel"),
                               f"quant_kernel names an AutoGPTQ kernel for int4-groups (GPTQ) weights, not {weights} "
                               "(the estimate ignores it)",
                               fix='remove quant_kernel, or set precision = "int4" with quant_format = "int4-groups"')
        if inf.act_order and (inf.quant_kernel == "none" or not int4_groups):
            why = (f"the weights are {weights}, not int4-groups (GPTQ)" if not int4_groups
                   else "no quant_kernel is named, and only exllama / exllamav2 keep act-order buffers")
            yield self.finding(ctx, ("inference", "act_order"),
                               f"act_order describes a GPTQ checkpoint run by an AutoGPTQ kernel, but {why} "
                               "(the estimate ignores it)",
                               fix="remove act_order" + ("" if not int4_groups else ', or set quant_kernel = "exllama" '
                                                                                     'or "exllamav2"'))

    def _training(self, ctx, tr):
        lora_set = tr.lora.model_fields_set if tr.lora is not None else set()
        if tr.method not in ("lora", "qlora"):
            for name in sorted(lora_set & set(_LORA)):
                yield self.finding(ctx, ("training", "lora", name),
                                   f"lora.{name} is set but method = {tr.method!r} trains no adapters",
                                   fix=f'remove lora.{name}, or set method = "lora" / "qlora"')
        elif tr.method == "lora":
            for name in sorted(lora_set & set(_QLORA)):
                yield self.finding(ctx, ("training", "lora", name),
                                   f"lora.{name} describes QLoRA's 4-bit base, but method = \"lora\" keeps it 16-bit",
                                   fix=f'remove lora.{name}, or set method = "qlora"')
        n_layers = ctx.spec.arch.n_layers
        if (tr.activation_checkpointing and tr.checkpoint_policy == "every-n" and tr.checkpoint_every is not None
                and tr.checkpoint_every > n_layers):
            # llmspec.estimate.activations.checkpointed_blocks: n_layers // checkpoint_every (torchtitan's count)
            yield self.finding(ctx, ("training", "checkpoint_every"),
                               f"checkpoint_every = {tr.checkpoint_every:,} is more than the model's {n_layers} blocks: "
                               f"0 of {n_layers} blocks are checkpointed (n_layers // checkpoint_every), so "
                               "activation_checkpointing = true saves no memory",
                               fix=f"set checkpoint_every between 1 and {n_layers} (2 checkpoints half the blocks), "
                                   'or set checkpoint_policy = "full"')
        if "base_dtype" in tr.model_fields_set and tr.method not in ("lora", "qlora"):
            yield self.finding(ctx, ("training", "base_dtype"),
                               f"base_dtype is the dtype of LoRA's frozen base weights, but method = {tr.method!r} "
                               "trains every weight in training.precision", fix="remove base_dtype")
        if tr.master_weights_fp32 and tr.precision not in ("bf16", "fp16"):
            yield self.finding(ctx, ("training", "master_weights_fp32"),
                               f"master_weights_fp32 adds an fp32 copy to pure bf16/fp16 training, but precision = "
                               f"{tr.precision!r} is not pure bf16/fp16 (the estimate counts no copy)",
                               fix='remove master_weights_fp32, or set precision = "bf16"')
        if "momentum" in tr.model_fields_set and tr.momentum and tr.optimizer != "sgd":
            yield self.finding(ctx, ("training", "momentum"),
                               f"momentum is SGD's (one state per parameter when > 0), but optimizer = {tr.optimizer!r} "
                               "keeps its own moments", fix='remove momentum, or set optimizer = "sgd"')
        for name in ("loss_chunks", "loss_chunk_tokens"):
            if name in tr.model_fields_set and tr.loss != "chunked":
                yield self.finding(ctx, ("training", name),
                                   f"{name} is set but loss = {tr.loss!r} is not chunked",
                                   fix='set loss = "chunked", or remove ' + name)
        if "optimizer_impl" in tr.model_fields_set and tr.optimizer not in ("adam", "adamw", "sgd"):
            yield self.finding(ctx, ("training", "optimizer_impl"),
                               f"optimizer_impl applies to torch's Adam, AdamW and SGD, not optimizer = {tr.optimizer!r}",
                               fix="remove optimizer_impl")
        if tr.paged_optimizer and "paged_optimizer" in tr.model_fields_set and tr.optimizer not in ("adam", "adamw",
                                                                                                     "adamw_8bit"):
            yield self.finding(ctx, ("training", "paged_optimizer"),
                               f"bitsandbytes pages Adam/AdamW states; optimizer = {tr.optimizer!r} has no paged variant",
                               fix="remove paged_optimizer, or use adamw / adamw_8bit")
        if tr.optimizer_in_backward and tr.gradient_accumulation > 1:
            yield self.finding(ctx, ("training", "optimizer_in_backward"),
                               f"an optimizer step in backward cannot accumulate gradients (gradient_accumulation = "
                               f"{tr.gradient_accumulation})", fix="set gradient_accumulation = 1, or drop optimizer_in_backward")


RULE = KnobDoesNotApply
