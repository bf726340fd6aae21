"""The spec: pydantic models for every table of an llmspec TOML file.

These models are the source of truth. The JSON Schema in ``schemas/`` is generated from them
(``llmspec schema``), and each attribute docstring becomes the key's documentation there.
Cross-field checks that are *advice* (e.g. n_heads not divisible by n_kv_heads) belong to lint rules,
not here: a spec is invalid only when it cannot be read as a model and a run at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from llmspec.spec.sweep import Sweep
from llmspec.spec.types import Bytes, Count, Strict

Activation = Literal["gelu", "gelu_new", "gelu_tanh", "relu", "silu", "swiglu", "geglu", "reglu"]
Norm = Literal["rmsnorm", "layernorm", "layernorm_nobias", "nonparametric"]
Position = Literal["rope", "learned", "alibi", "none"]
Method = Literal["pretrain", "full", "lora", "qlora"]
TrainPrecision = Literal["fp32", "bf16-mixed", "fp16-mixed", "bf16", "fp16", "fp8-mixed"]
Optimizer = Literal["adamw", "adam", "adamw_8bit", "sgd", "adafactor", "lion"]
InferencePrecision = Literal["fp32", "bf16", "fp16", "fp8", "int8", "int4"]
HalfOrFull = Literal["fp32", "bf16", "fp16"]
Task = Literal["chat", "classification", "extraction", "creative", "code", "summarization", "qa"]
Sharding = Literal["none", "zero1", "zero2", "zero3", "fsdp"]
Offload = Literal["none", "optimizer", "optimizer+params"]
StackName = Literal["hf-trainer", "trl", "axolotl", "llamafactory", "torchtune", "litgpt", "lightning", "pytorch",
                   "accelerate", "torchtitan"]

GATED_ACTIVATIONS = frozenset({"swiglu", "geglu", "reglu"})


class MoE(Strict):
    """Mixture-of-experts feed-forward layers (Mixtral, Qwen-MoE style): every block's MLP is a routed set."""

    n_experts: int = Field(ge=1, le=4096)
    """Routed experts per MoE layer."""
    experts_per_token: int = Field(ge=1, le=4096)
    """Experts each token is routed to (top-k)."""
    expert_ffn_dim: int | None = Field(default=None, ge=1, le=1_000_000)
    """Hidden size of one expert's MLP; defaults to architecture.ffn_dim (Mixtral). Qwen3-MoE sets it apart."""
    shared_experts: int = Field(default=0, ge=0, le=64)
    """Always-active shared experts per layer (Qwen2-MoE, DeepSeek-MoE style)."""
    shared_expert_ffn_dim: int | None = Field(default=None, ge=1, le=1_000_000)
    """Hidden size of the shared expert(s), in total; defaults to expert_ffn_dim."""
    shared_expert_gate: bool = False
    """A learned sigmoid gate (d_model -> 1) on the shared expert output (Qwen2-MoE)."""
    router_bias: bool = False
    """Whether the router (d_model -> n_experts) has a bias."""
    dense_layers: int = Field(default=0, ge=0, le=10_000)
    """Blocks whose MLP is dense (width architecture.ffn_dim) instead of MoE, e.g. DeepSeek's first_k_dense_replace
    or Qwen-MoE's mlp_only_layers; the rest are MoE."""

    @model_validator(mode="after")
    def _top_k_within_experts(self) -> MoE:
        if self.experts_per_token > self.n_experts:
            raise ValueError(
                f"experts_per_token ({self.experts_per_token}) cannot exceed n_experts ({self.n_experts})"
            )
        return self


class Architecture(Strict):
    """The network itself: a decoder-only transformer, described precisely enough to count its parameters."""

    n_layers: int = Field(ge=1, le=10_000)
    """Transformer blocks."""
    d_model: int = Field(ge=1, le=1_000_000)
    """Hidden size (residual stream width)."""
    n_heads: int = Field(ge=1, le=10_000)
    """Query heads per attention layer."""
    n_kv_heads: int | None = Field(default=None, ge=1, le=10_000)
    """Key/value heads (GQA when fewer than n_heads, MQA when 1); defaults to n_heads."""
    head_dim: int | None = Field(default=None, ge=1, le=100_000)
    """Per-head dimension; defaults to d_model / n_heads (Gemma and Qwen3 set it independently)."""
    ffn_dim: int = Field(ge=1, le=10_000_000)
    """Hidden size of the feed-forward layer (intermediate_size)."""
    activation: Activation = "swiglu"
    """Feed-forward type: gated (swiglu, geglu, reglu: three matrices) or plain (gelu, relu, silu: two)."""
    vocab_size: int = Field(ge=1, le=10_000_000)
    """Rows of the embedding matrix."""
    context_length: int = Field(ge=1, le=100_000_000)
    """Maximum sequence length the model supports (max_position_embeddings)."""
    tie_embeddings: bool = False
    """Whether the output head shares the input embedding matrix."""
    norm: Norm = "rmsnorm"
    """Normalisation: rmsnorm (weight), layernorm (weight and bias), layernorm_nobias, nonparametric (OLMo)."""
    norms_per_layer: int = Field(default=2, ge=0, le=16)
    """Norm layers per block: 2 in most models, 1 for Falcon-7B's parallel block, 4 in Gemma 2."""
    final_norm: bool = True
    """A norm after the last block, before the head."""
    qk_norm: bool = False
    """Per-head RMSNorm on queries and keys (Qwen3, OLMo 2)."""
    qkv_bias: bool = False
    """Bias on the query, key and value projections (GPT-2, Qwen2, GPT-NeoX, OPT)."""
    attn_out_bias: bool = False
    """Bias on the attention output projection (GPT-2, GPT-NeoX, OPT)."""
    mlp_bias: bool = False
    """Biases on the feed-forward projections (GPT-2, GPT-NeoX, OPT)."""
    position: Position = "rope"
    """Position encoding: rope, learned (absolute embedding table), alibi or none."""
    learned_positions: int | None = Field(default=None, ge=1, le=100_000_000)
    """Rows of a learned position table; defaults to context_length (OPT adds an offset of 2)."""
    parallel_attention: bool = False
    """Attention and MLP read the same input in parallel (GPT-J, GPT-NeoX, Falcon)."""
    moe: MoE | None = None
    """Mixture-of-experts MLPs; absent for dense models."""

    # --- sliding-window attention (issues 9 and 12): read from config.json by the importer, sizes the dense mask ---
    sliding_window: int | None = Field(default=None, ge=1, le=100_000_000)
    """Sliding-window attention: each query attends to at most this many keys (config.json sliding_window:
    Mistral-7B-v0.1 4096, Phi-3-mini-4k 2047, Gemma 2 4096). Unset: full causal attention in every block. From
    seq_len = window on, sdpa needs an explicit (batch, 1, seq, seq) mask (llmspec.estimate.mask)."""
    sliding_window_layers: int | None = Field(default=None, ge=0, le=10_000)
    """Blocks that use the window, the rest attending fully (Qwen2 with use_sliding_window: the blocks from
    max_window_layers on). Unset: every block (Mistral, Mixtral, Phi-3), or every other with
    sliding_window_alternate."""
    sliding_window_alternate: bool = False
    """The window is on every other block, starting with the first (Gemma 2 layer_types): ceil(n_layers / 2)."""

    @model_validator(mode="after")
    def _some_moe_layers(self) -> Architecture:
        if self.moe is not None and self.moe.dense_layers >= self.n_layers:
            raise ValueError(
                f"moe.dense_layers ({self.moe.dense_layers}) must be below n_layers ({self.n_layers}); "
                "drop the [model.architecture.moe] table for a dense model"
            )
        return self

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads if self.n_kv_heads is not None else self.n_heads

    @property
    def head_size(self) -> int:
        """head_dim, or d_model // n_heads when it is not set."""
        return self.head_dim if self.head_dim is not None else self.d_model // self.n_heads

    @property
    def gated(self) -> bool:
        return self.activation in GATED_ACTIVATIONS

    @property
    def window_layers(self) -> int:
        """Blocks with sliding-window attention: 0 without a window, else sliding_window_layers or every block."""
        if self.sliding_window is None:
            return 0
        if self.sliding_window_alternate:
            return (self.n_layers + 1) // 2
        return min(self.n_layers, self.n_layers if self.sliding_window_layers is None else self.sliding_window_layers)


class Model(Strict):
    """What is being trained or evaluated."""

    name: str = Field(min_length=1, max_length=200)
    """A name for people and reports."""
    family: str | None = Field(default=None, max_length=64)
    """Model family (llama, mistral, qwen2, gpt2, ...); informational, and set by `llmspec init --from-hf`."""
    parameters: Count | None = Field(default=None, le=10**15)
    """Declared parameter count, e.g. "6.74B"; lint checks it against the architecture."""
    hf_config: str | None = Field(default=None, max_length=4096)
    """Path to a Hugging Face config.json to import the architecture from (relative to this file)."""
    weights: str | None = Field(default=None, max_length=4096)
    """Checkpoint directory or file that eval loads (relative to this file), a hub id, or `llmspec:tiny-base` /
    `llmspec:tiny-finetuned`, the project's built-in demo models (built offline on first use)."""
    tokenizer: str | None = Field(default=None, max_length=4096)
    """Tokenizer path or hub id, when it is not beside the weights."""
    trust_remote_code: bool = False
    """Run the checkpoint's own Python code when loading it. Eval also needs --trust-remote-code."""
    architecture: Architecture | None = None
    """The architecture; required unless hf_config is given."""

    @model_validator(mode="after")
    def _architecture_or_config(self) -> Model:
        if self.architecture is None and self.hf_config is None:
            raise ValueError(
                "[model] needs either a [model.architecture] table or hf_config = \"path/to/config.json\""
            )
        return self


class Lora(Strict):
    """Low-rank adapters (LoRA / QLoRA)."""

    rank: int = Field(default=16, ge=1, le=65_536)
    """Adapter rank r."""
    alpha: float = Field(default=32, gt=0, le=1e6)
    """Scaling numerator: the update is scaled by alpha / rank."""
    dropout: float = Field(default=0.0, ge=0, lt=1)
    """Dropout on the adapter input."""
    double_quant: bool = True
    """QLoRA: double-quantise the NF4 block scales (bitsandbytes bnb_4bit_use_double_quant): about 4.127
    bits/param when true, 4.5 when false."""
    targets: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"], max_length=64
    )
    """Modules that get adapters, by Hugging Face name (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj,
    down_proj), or ["all-linear"]. Unset on a stack whose adapters are PEFT's (hf-trainer and the stacks on it,
    pytorch, accelerate): PEFT's default for model.family (Llama q_proj, v_proj; GPT-2 c_attn; ...); on litgpt its
    finetune script's default (q_proj, v_proj); otherwise, or for a family PEFT has no default for, q_proj,
    k_proj, v_proj, o_proj."""

    # --- adapter and QLoRA knobs (issue 12); dtype and quantize default to the training stack's ---
    dtype: HalfOrFull | None = None
    """Adapter weight dtype (and so their gradients and optimizer states). Unset: the stack's (HF Trainer +
    PEFT: fp32 via autocast_adapter_dtype; torchtune and LitGPT: the model dtype)."""
    dora: bool = False
    """DoRA (weight-decomposed LoRA, peft use_dora): a magnitude vector per adapted module, and each adapted
    module keeps its base and LoRA outputs for backward."""
    quantize: Literal["all-linear", "adapted", "every-linear"] | None = None
    """QLoRA: which linears are 4-bit: every block linear (bitsandbytes via transformers; torchtune's Llama,
    Mistral, Gemma, Gemma 2 and Phi-3 builders), only those that carry an adapter (torchtune's Qwen2 builders), or
    every nn.Linear with the output head (Lightning's BitsandbytesPrecision, LitGPT: it quantises from fp16, so
    each dequantised weight is an fp16 copy cast to the compute dtype). Unset: the stack's (torchtune: by
    model.family, as above), else all-linear."""
    quant_format: Literal["nf4", "fp4"] = "nf4"
    """QLoRA 4-bit format (bitsandbytes bnb_4bit_quant_type; torchtune and torchao: nf4). Both are 4 bits plus
    block scales."""
    quant_block: int = Field(default=64, ge=16, le=4096)
    """QLoRA quantisation block size (bitsandbytes blocksize 64; torchao NF4 block_size 64)."""
    quant_saves_input: bool = False
    """QLoRA: each 4-bit matmul keeps its 16-bit input for backward (bitsandbytes before 0.43.2: MatMul4Bit saved
    ctx.tensors = (A, B); later versions save (None, B) when the weight is frozen)."""

    # --- QLoRA load-time quantisation (issue 12: the torchtune QLoRA tutorial) ---
    quant_chunk: int | None = Field(default=None, ge=0, le=2**40)
    """QLoRA with torchao NF4 (torchtune): weight elements torchao's to_nf4 quantises at a time when the model is
    built and its checkpoint loaded on the GPU; 0 = each weight in one piece (torchao 0.1), which holds 16 bf16
    differences and their absolute values (64 bytes) per element. Unset: the stack's (torchtune: 1,048,576,
    torchao's CHUNK_SIZE); stacks that quantise with bitsandbytes have no value and no load phase."""


class Data(Strict):
    """Dataset files (relative to this file). Read only by opt-in checks such as `llmspec lint --data`."""

    train: str | None = Field(default=None, max_length=4096)
    """Training data file."""
    eval: str | None = Field(default=None, max_length=4096)
    """Held-out evaluation data file."""


class Training(Strict):
    """The training run: method, precision, optimizer, schedule, batch and data."""

    method: Method = "full"
    """pretrain (from scratch), full (fine-tune all weights), lora, or qlora (4-bit NF4 base + LoRA)."""
    precision: TrainPrecision = "bf16-mixed"
    """fp32; bf16-mixed / fp16-mixed (AMP: fp32 weights, grads and optimizer states, 16-bit compute);
    bf16 / fp16 (everything in half precision); fp8-mixed (Transformer Engine style)."""
    master_weights_fp32: bool = False
    """With pure bf16/fp16: keep an fp32 master copy of trainable weights (DeepSpeed style)."""
    base_dtype: HalfOrFull | None = None
    """LoRA only: dtype of the frozen base weights; unset: the stack's (LitGPT: fp32 under bf16-mixed, the model
    is built in the precision plugin's dtype), else bf16 (fp16 under fp16-mixed, fp32 under fp32)."""
    optimizer: Optimizer = "adamw"
    """adamw, adam, adamw_8bit (bitsandbytes), sgd, adafactor or lion."""
    momentum: float = Field(default=0.0, ge=0, lt=1)
    """SGD momentum; 0 means plain SGD with no state."""
    learning_rate: float = Field(default=1e-4, gt=0, le=10)
    """Peak learning rate."""
    lr_schedule: Literal["cosine", "linear", "constant", "wsd", "inverse_sqrt"] = "cosine"
    """Learning-rate schedule after warmup."""
    warmup_ratio: float | None = Field(default=None, ge=0, le=1)
    """Warmup as a share of all optimizer steps."""
    warmup_steps: int | None = Field(default=None, ge=0, le=10**9)
    """Warmup in optimizer steps (alternative to warmup_ratio)."""
    weight_decay: float = Field(default=0.0, ge=0, le=10)
    """Decoupled weight decay."""
    dropout: float = Field(default=0.0, ge=0, lt=1)
    """Dropout probability in the model."""
    max_grad_norm: float | None = Field(default=1.0, gt=0, le=1e6)
    """Gradient clipping norm; omit to disable."""
    epochs: float = Field(default=1, gt=0, le=100_000)
    """Passes over the training data (may be fractional)."""
    max_steps: int | None = Field(default=None, ge=1, le=10**10)
    """Stop after this many optimizer steps, whatever epochs says."""
    micro_batch_size: int = Field(default=1, ge=1, le=1_000_000)
    """Sequences per GPU per forward/backward pass."""
    gradient_accumulation: int = Field(default=1, ge=1, le=1_000_000)
    """Micro-batches accumulated per optimizer step."""
    seq_len: int = Field(default=2048, ge=1, le=100_000_000)
    """Training sequence length in tokens."""
    dataset_tokens: Count | None = Field(default=None, le=10**16)
    """Unique training tokens in one epoch, e.g. "40M"."""
    dataset_examples: Count | None = Field(default=None, le=10**13)
    """Training examples in one epoch (with mean_example_tokens, an alternative to dataset_tokens)."""
    mean_example_tokens: float | None = Field(default=None, gt=0, le=100_000_000)
    """Mean tokens per training example."""
    packing: bool = True
    """Whether examples are packed into full seq_len sequences."""
    activation_checkpointing: bool = False
    """Recompute activations in backward instead of storing them (per block; what is kept: checkpoint_policy)."""
    checkpoint_policy: Literal["full", "selective-op", "every-n"] | None = None
    """With activation_checkpointing = true, what each block keeps for backward. full (unset): only its input, the
    whole block recomputed. selective-op: torchtitan's per-op policy (activation_checkpoint.mode = "selective",
    selective_ac_option = "op"): the block input plus the outputs of every other matmul (q, v, gate and down
    projections in a Llama block), of the attention kernel (output and log-sum-exp) and of max; the rest is
    recomputed. every-n: torchtitan's layer-wise option (selective_ac_option = "N"): every checkpoint_every-th
    block is fully checkpointed, the others keep all their activations."""
    checkpoint_every: int | None = Field(default=None, ge=1, le=1_000_000)
    """For checkpoint_policy = "every-n": checkpoint one block in this many (torchtitan selective_ac_option;
    unset: 2). 1 is full checkpointing."""
    attention: Literal["flash", "sdpa", "eager"] | None = None
    """Attention kernel: flash (FlashAttention-2: padding and windows handled inside the kernel), sdpa (torch's
    scaled_dot_product_attention: no s*s scores stored, but a padded batch or a sliding window at seq_len >= window
    needs a dense (batch, 1, seq, seq) mask) or eager (materialises the scores). Unset: the stack's (HF Trainer:
    sdpa, transformers' default attn_implementation)."""
    validation_split: float | None = Field(default=None, ge=0, lt=1)
    """Share of the data held out for validation."""
    early_stopping: bool = False
    """Stop when the validation loss stops improving."""
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    """Random seed."""
    lora: Lora | None = None
    """Adapter settings; required for method = "lora" / "qlora"."""

    # --- training stack and its memory knobs (issue 12): unset knobs take the stack's default ---
    stack: StackName = "hf-trainer"
    """What runs the training loop: hf-trainer (default; trl, axolotl and llamafactory run on it), torchtune,
    litgpt, lightning, pytorch, accelerate or torchtitan. Its defaults are in llmspec/data/stacks.toml, each with
    its source; DeepSpeed and FSDP are sharding backends (hardware.sharding), not stacks."""
    optimizer_impl: Literal["fused", "foreach", "for-loop"] | None = None
    """torch optimizer implementation: fused (no temporary), foreach (a state-sized temporary at the step) or
    for-loop (one tensor's temporary at a time). Unset: the stack's (HF Trainer: fused)."""
    paged_optimizer: bool | None = None
    """bitsandbytes paged optimizer: states live in CUDA unified memory, outside torch's allocated/reserved
    counters (nvidia-smi shows them until the driver pages them out)."""
    optimizer_in_backward: bool | None = None
    """Step each parameter's optimizer inside backward and free its gradient (torchtune optimizer_in_bwd);
    needs gradient_accumulation = 1."""
    loss: Literal["full", "chunked", "fused-linear"] | None = None
    """Cross-entropy: full (every position's logits upcast to fp32, HF), chunked (logits kept 16-bit, upcast one
    chunk at a time: torchtune, LitGPT) or fused-linear (head and loss fused per chunk, no full logits: Liger,
    Cut Cross-Entropy)."""
    loss_chunks: int | None = Field(default=None, ge=1, le=1_000_000)
    """Chunks of the sequence for loss = "chunked" (torchtune num_output_chunks: 8)."""
    loss_chunk_tokens: int | None = Field(default=None, ge=1, le=100_000_000)
    """Alternatively, tokens per loss chunk (LitGPT lm_head_chunk_size: 128)."""
    compile: bool | None = None
    """torch.compile on the model (and loss). Its memory effect cannot be measured on a CPU: the estimate applies
    an assumed factor and labels it so."""
    activation_offload: bool | None = None
    """Move saved activations to CPU memory during forward and back in backward (torchtune
    enable_activation_offloading, TRL activation_offloading)."""
    # --- FSDP gradient accumulation (issue 12): unset takes the stack's default ---
    sync_each_batch: bool | None = None
    """FSDP with gradient_accumulation > 1: reduce-scatter gradients on every micro-batch (true: each rank keeps
    its gradient shard) or only on the last one (false: each rank keeps the full unsharded gradient of every FSDP
    unit with a trainable parameter; HF Trainer / accelerate and LitGPT do this). Under LoRA that is only the
    adapters' where the stack makes them units of their own (HF Trainer's PEFT wrap policy, FSDP2 in LitGPT and
    torchtune), each block's whole gradient where adapters sit inside their block's unit. Unset: the stack's."""
    fsdp_lora_units: Literal["adapters", "blocks", "per-parameter"] | None = None
    """How FSDP wraps a LoRA/QLoRA model, which decides what sync_each_batch = false keeps: "adapters" (each
    adapter layer its own FSDP unit: PEFT's fsdp_auto_wrap_policy, which HF Trainer applies), "per-parameter"
    (FSDP2 fully_shard: torchtune, LitGPT 0.5) or "blocks" (one FSDP1 unit per block with the adapters inside:
    the block's whole gradient is kept, frozen weights included). Unset: the stack's."""

    tie_embeddings: bool | None = None
    """Whether the trained model shares its output head with the token embedding. Unset: the stack's; where the
    stack has no default, model.architecture.tie_embeddings (the checkpoint's). LitGPT's GPT keeps its own lm_head
    even for checkpoints that tie them in HF (the converter copies the embedding into it): false, a vocab x d_model
    matrix more, with its gradient and optimizer states."""

    data: Data | None = None
    """Dataset file paths."""

    @model_validator(mode="after")
    def _checkpoint_policy_needs_checkpointing(self) -> Training:
        if self.checkpoint_policy is not None and not self.activation_checkpointing:
            raise ValueError("training.checkpoint_policy needs training.activation_checkpointing = true")
        if self.checkpoint_every is not None and self.checkpoint_policy != "every-n":
            raise ValueError('training.checkpoint_every needs training.checkpoint_policy = "every-n"')
        return self

    @model_validator(mode="after")
    def _adapter_for_adapter_methods(self) -> Training:
        if self.method in ("lora", "qlora") and self.lora is None:
            self.lora = Lora()
        return self

    @model_validator(mode="after")
    def _stack_defaults(self) -> Training:
        # Fill every knob the spec leaves unset from the stack preset, without marking it as set by the user
        # (stack_sources reads model_fields_set to tell the two apart).
        from llmspec.spec.stacks import KNOBS, stack, value_for

        # precision first: a default may depend on it (stacks.resolve); one that depends on the device count is
        # resolved here for one device, and by Spec._stack_device_defaults for the spec's hardware
        for knob, default in sorted(stack(self.stack).defaults.items(), key=lambda kv: kv[0] != "precision"):
            table, name = KNOBS[knob]
            target = self if table == "training" else self.lora
            if name == "checkpoint_policy" and not self.activation_checkpointing:
                continue  # a checkpoint policy only means something with checkpointing (torchtitan mode 'none')
            if target is not None and name not in target.model_fields_set:
                target.__dict__[name] = value_for(default, self.precision)
        # fitlint (issue 12): a knob whose supported values follow another training knob (stacks.toml supports
        # `by`, e.g. torchtune's adapters in the model dtype) takes the one value allowed for it when the spec leaves
        # it unset; one that follows model.family is filled by Spec._family_stack_defaults
        self.fill_implied(lambda knob: getattr(self, KNOBS[knob][1])
                          if knob in KNOBS and KNOBS[knob][0] == "training" else None)
        return self

    def fill_implied(self, read: Callable[[str], Any]) -> None:
        """Set each knob the spec leaves unset whose stack supports one value only, given ``read(by)``
        (llmspec.spec.stacks.implied), without marking it as set by the user."""
        from llmspec.spec.stacks import KNOBS, implied

        for knob, (value, _source) in implied(self.stack, read).items():
            table, name = KNOBS[knob]
            target = self if table == "training" else self.lora
            if target is not None and name not in target.model_fields_set:
                target.__dict__[name] = value

    def stack_sources(self) -> dict[str, str]:
        """Knob -> source, for each knob whose value came from the stack preset rather than the spec: its default,
        or, for a knob with no default, the supports entry that allows it one value only (fill_implied)."""
        from llmspec.spec.stacks import KNOBS, stack

        preset = stack(self.stack)
        implied = {k: s.source for k, s in preset.supports.items() if s.by and k not in preset.defaults}
        out = {}
        for knob, source in [*((k, d.source) for k, d in preset.defaults.items()), *implied.items()]:
            table, name = KNOBS[knob]
            target = self if table == "training" else self.lora
            if target is not None and name not in target.model_fields_set \
                    and (knob not in implied or getattr(target, name) is not None) \
                    and not (knob == "checkpoint_policy" and getattr(target, name) is None):
                out[knob] = source
        return out

    @property
    def tokens_per_epoch(self) -> int | None:
        """dataset_tokens, else dataset_examples x mean_example_tokens, else None."""
        if self.dataset_tokens is not None:
            return self.dataset_tokens
        if self.dataset_examples is not None and self.mean_example_tokens is not None:
            return int(self.dataset_examples * self.mean_example_tokens)
        return None


class Sampling(Strict):
    """Decoding parameters the model is served and evaluated with."""

    task: Task | None = None
    """What the output is used for; rules such as "high temperature for extraction" depend on it."""
    temperature: float = Field(default=1.0, ge=0, le=1000)
    """Softmax temperature; 0 means greedy decoding."""
    top_p: float | None = Field(default=None, ge=0, le=1000)
    """Nucleus sampling mass, in (0, 1]."""
    top_k: int | None = Field(default=None, ge=0, le=100_000_000)
    """Sample from the k most likely tokens; 0 disables."""
    min_p: float | None = Field(default=None, ge=0, le=1)
    """Drop tokens below min_p x the top probability."""
    repetition_penalty: float | None = Field(default=None, gt=0, le=100)
    """Penalty on repeated tokens (1.0 = none)."""
    max_new_tokens: int = Field(default=256, ge=1, le=100_000_000)
    """Generation budget per request."""
    max_prompt_tokens: int | None = Field(default=None, ge=1, le=100_000_000)
    """Longest prompt the application sends."""
    stop: list[str] = Field(default_factory=list, max_length=64)
    """Stop sequences."""


class Inference(Strict):
    """How the model is served: precision, batch and context."""

    precision: InferencePrecision = "bf16"
    """Weight precision: fp32, bf16, fp16, fp8, int8 or int4 (weight-only quantisation for int8/int4)."""
    kv_cache_precision: Literal["fp32", "bf16", "fp16", "fp8", "int8"] | None = None
    """KV-cache dtype; defaults to the activation dtype (fp16/bf16, or fp32 for fp32)."""
    batch_size: int = Field(default=1, ge=1, le=1_000_000)
    """Concurrent sequences."""
    seq_len: int | None = Field(default=None, ge=1, le=100_000_000)
    """Tokens per sequence held in the KV cache (prompt + output); defaults to context_length."""
    backend: Literal["hf", "vllm", "tgi", "trtllm", "llama.cpp", "litgpt", "torchao-generate", "autoawq"] = "hf"
    """Serving engine (litgpt: LitGPT's generate scripts, base.py, sequentially.py and tp.py; torchao-generate:
    torchao's gpt-fast torchao/_models/llama/generate.py; autoawq: AutoAWQ's fused modules and generate)."""
    tensor_parallel: int | None = Field(default=None, ge=1, le=4096)
    """GPUs the model is sharded over when served; defaults to hardware.tensor_parallel, else hardware.count."""

    # --- engine knobs (issue 12): unset ones take the backend's default (llmspec/data/engines.toml) ---
    prompt_tokens: int | None = Field(default=None, ge=1, le=100_000_000)
    """Prompt length per sequence (the prefill); the KV cache holds seq_len. Defaults to seq_len."""
    kv_allocation: Literal["dynamic", "static", "paged"] | None = None
    """dynamic (grows with the tokens held, HF), static (seq_len preallocated per sequence: llama.cpp, HF
    StaticCache) or paged (a block pool filling the memory fraction: vLLM, TGI, TensorRT-LLM)."""
    logits: Literal["all", "last"] | None = None
    """Prefill logits for every prompt position (a plain forward, lm-eval loglikelihood) or the last only."""
    attention: Literal["flash", "sdpa", "eager"] | None = None
    """Prefill attention kernel; eager materialises n_heads x prompt^2 scores per sequence."""
    weight_group_size: int | None = Field(default=None, ge=16, le=65_536)
    """int4 weight quantisation group (one fp16 scale and a 4-bit zero point per group): GPTQ/AWQ 128, torchao
    int4 weight-only 64. Defaults to 128."""
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)
    """Paged engines: the share of GPU memory the engine may use (vLLM 0.9; TGI cuda_memory_fraction 1.0;
    TensorRT-LLM free_gpu_memory_fraction: 0.9 of what its profile run leaves free)."""
    max_num_seqs: int | None = Field(default=None, ge=1, le=1_000_000)
    """Paged engines: most sequences scheduled at once (vLLM 256; TensorRT-LLM max_batch_size 2048)."""
    max_num_batched_tokens: int | None = Field(default=None, ge=1, le=100_000_000)
    """Paged engines: tokens per forward step, which sizes the profiled activation peak (vLLM 8192)."""
    block_size: int | None = Field(default=None, ge=1, le=65_536)
    """Paged engines: tokens per KV block (vLLM 16, TensorRT-LLM 32); a sequence takes whole blocks."""
    cuda_graph_memory: Bytes | None = Field(default=None, le=2**45)
    """Memory held by captured CUDA graphs; ASSUMED 0.5 GiB for vLLM, TGI and TensorRT-LLM (not measurable here)."""
    tie_embeddings: bool | None = None
    """Whether the served model shares its output head with the token embedding. Unset: the engine's; where the
    engine has no default, model.architecture.tie_embeddings (the checkpoint's). LitGPT's GPT keeps its own lm_head
    even for checkpoints that tie them in HF: false, a vocab x d_model matrix more."""
    kv_cache_tokens: Annotated[int, Field(ge=1, le=100_000_000)] | Literal["context_length"] | None = None
    """Static KV caches: the tokens preallocated per sequence, whatever the run holds. Unset: seq_len (HF
    StaticCache, llama.cpp n_ctx, torchao generate.py's prompt + max_new_tokens); "context_length": the model's
    context length (AutoAWQ's fused modules size their cache from max_position_embeddings). Ignored by dynamic and
    paged caches."""
    mask_buffer: Literal["none", "dense"] | None = None
    """A causal mask the engine builds once for its static cache and keeps for the run: dense = a bool
    (kv_cache_tokens x kv_cache_tokens) matrix (torchao generate.py's setup_caches without --linear_causal_mask),
    none = masks built per forward only (counted in the prefill, llmspec.estimate.mask). Unset: the engine's, else
    none."""
    kv_cache_growth: Literal["layer", "whole"] | None = None
    """Dynamic HF caches: what a decode step holds while it grows the cache by one token. layer = the layer's old K
    (or V) beside its concatenated copy (transformers 5.24 DynamicLayer.update rebinds each tensor to a torch.cat, so
    the old one is freed at once); whole = the old and the new cache of every layer at the end of the step's forward
    (the legacy tuple cache of transformers <= 4.35: each attention returns torch.cat([past, new]) while generate
    still holds the previous step's tuple). Unset: the engine's (hf: layer), else layer. Ignored by static and paged
    caches."""
    quant_kernel: Literal["none", "exllama", "exllamav2", "cuda-old", "triton"] = "none"
    """int4-groups weights run by an AutoGPTQ kernel (AutoGPTQ 0.5.0's QuantLinear, as optimum and transformers'
    GPTQ integration load it): each quantised linear keeps its int32 g_idx (4 B per input feature); exllama a
    persistent fp16 temp_dq of the largest linear (and, with act_order, a temp_state of 2048 x its largest
    dimension); exllamav2 one fp16 scratch of the largest linear's dequantised weight plus an output buffer of 2048 x
    8 rows; cuda-old dequantises each weight (5 B per weight at its peak) in a prefill of at least 128 tokens;
    triton nothing more. none = no kernel named: only the packed weights, scales and zero points."""
    act_order: bool = False
    """GPTQ checkpoints quantised with desc_act (act-order): exllama keeps a temp_state of 2048 x the largest
    dimension; exllamav2 a q_perm and q_invperm (int16 per input feature) per linear."""
    shard_embeddings: bool | None = None
    """Under tensor or pipeline parallelism, whether the token embedding and the output head are split over the
    GPUs like the blocks (unset: the engine's, else true) or kept whole on one GPU: LitGPT's tp.py replicates them on
    every rank and sequentially.py keeps them on the root GPU with the first stage of blocks (false)."""

    # --- 4-bit weight layout (issue 12): bitsandbytes formats besides int4 groups ---
    quant_format: Literal["int4-groups", "nf4", "fp4"] = "int4-groups"
    """int4 weights: int4-groups (GPTQ/AWQ/torchao: a scale and zero point per weight_group_size weights) or
    bitsandbytes nf4 / fp4 (an fp32 absmax per 64 weights, or 8-bit with double_quant; each matmul dequantises its
    weight into a 16-bit transient)."""
    double_quant: bool = False
    """bitsandbytes nf4 / fp4: quantise the absmax scales to 8 bits (bnb_4bit_use_double_quant, LitGPT bnb.nf4-dq)."""
    quantize_head: bool = False
    """bitsandbytes nf4 / fp4: the output head is 4-bit too, quantised from fp16 as Lightning's
    BitsandbytesPrecision does (LitGPT): a dequantised weight is an fp16 copy plus its cast to the compute dtype."""

    # --- padded prompts (issue 12: the dense attention-mask buffer) ---
    padded: bool = False
    """The prompts of a batch differ in length and are padded to the longest (HF generate and lm-eval's hf model
    with batch_size > 1): under sdpa the prefill builds a dense (batch, 1, prompt, prompt) mask
    (llmspec.estimate.mask). Paged engines (vllm, tgi, trtllm) run ragged batches and pad nothing."""

    @model_validator(mode="after")
    def _engine_defaults(self) -> Inference:
        from llmspec.spec.stacks import engine

        for name, default in engine(self.backend).items():
            if name not in self.model_fields_set:
                self.__dict__[name] = default.value
        return self

    def engine_sources(self) -> dict[str, str]:
        """Knob -> source for each engine knob whose value came from the backend's preset."""
        from llmspec.spec.stacks import engine

        return {k: d.source for k, d in engine(self.backend).items() if k not in self.model_fields_set}


class DeepSpeed(Strict):
    """DeepSpeed's own settings when hardware.sharding is zero1/zero2/zero3 (issue 12)."""

    optimizer: Literal["fused-adam", "cpu-adam"] | None = None
    """DeepSpeed's Adam: fused-adam (GPU, multi-tensor, no state-sized temporary) or cpu-adam (the step runs on
    the CPU; needs offload = "optimizer"). Unset: the torch optimizer of the stack."""
    reduce_bucket_size: int | Literal["auto"] = "auto"
    """Gradient reduction bucket, in elements. "auto" is what the HF integration fills in: hidden_size^2
    (transformers integrations/deepspeed.py, trainer_config_finalize); DeepSpeed's own default is 5e8."""
    prefetch_bucket_size: int | Literal["auto"] = "auto"
    """ZeRO-3 parameter prefetch bucket, in elements; "auto" = 0.9 x hidden_size^2 (same source); DeepSpeed's own
    default is 5e7."""


class Hardware(Strict):
    """Where it runs, and what it may cost."""

    accelerator: str = Field(default="A100-80GB", min_length=1, max_length=64)
    """Accelerator name from the catalog (A100-80GB, H100-SXM, L4, RTX-4090, MI300X, ...); `llmspec
    accelerators` lists them. Extend the catalog in llmspec.toml."""
    count: int = Field(default=1, ge=1, le=100_000)
    """GPUs per node."""
    nodes: int = Field(default=1, ge=1, le=100_000)
    """Nodes."""
    memory: Bytes | None = Field(default=None, gt=0, le=2**50)
    """Override the accelerator's memory, e.g. "40GiB" for a MIG slice or a shared card."""
    sharding: Sharding = "none"
    """Data-parallel state sharding: none (DDP), zero1 (optimizer), zero2 (+ gradients), zero3 / fsdp (+ weights)."""
    offload: Offload = "none"
    """CPU offload: none, optimizer (ZeRO-Offload), optimizer+params (ZeRO-Infinity style)."""
    tensor_parallel: int = Field(default=1, ge=1, le=4096)
    """Tensor-parallel degree."""
    pipeline_parallel: int = Field(default=1, ge=1, le=4096)
    """Pipeline-parallel degree."""
    mfu: float = Field(default=0.4, ge=0.001, le=1)
    """Assumed model FLOP utilisation for time estimates (0.3-0.5 is typical for dense training; at least 0.001,
    below which the time of any run overflows into meaningless figures)."""
    budget_gpu_hours: float | None = Field(default=None, gt=0, le=1e12)
    """GPU-hour budget for the run."""
    budget_hours: float | None = Field(default=None, gt=0, le=1e9)
    """Wall-clock budget in hours."""
    price_per_gpu_hour: float | None = Field(default=None, ge=0, le=1e6)
    """Price of one GPU-hour, in the budget's currency."""
    budget_usd: float | None = Field(default=None, gt=0, le=1e15)
    """Money budget."""

    # --- sharding backend settings (issue 12) ---
    deepspeed: DeepSpeed | None = None
    """DeepSpeed settings (optimizer, bucket sizes) for sharding = "zero1"/"zero2"/"zero3"."""

    @property
    def world_size(self) -> int:
        return self.count * self.nodes


class Gate(Strict):
    """One pass/fail condition on an eval metric."""

    metric: str = Field(pattern=r"^[^/\s]+/[^/\s]+$", max_length=256)
    """"task/metric", e.g. "support_qa/f1"; the metric's direction (higher or lower is better) comes from it."""
    min: float | None = None
    """Fail when the metric is below this (for higher-is-better metrics)."""
    max: float | None = None
    """Fail when the metric is above this (for lower-is-better metrics such as perplexity)."""
    max_drop: float | None = Field(default=None, ge=0)
    """Allowed regression against the baseline results, in drop_unit."""
    drop_unit: Literal["points", "percent"] = "points"
    """points: absolute metric units (0.02 = 2 accuracy points); percent: relative to the baseline value."""
    mode: Literal["regression", "non_inferiority"] = "regression"
    """regression: fail only on a proven drop beyond max_drop; non_inferiority: pass only when a drop beyond
    max_drop is ruled out."""

    @model_validator(mode="after")
    def _some_condition(self) -> Gate:
        if self.min is None and self.max is None and self.max_drop is None:
            raise ValueError(f"gate {self.metric!r} sets none of min, max or max_drop")
        return self


class Eval(Strict):
    """The evaluations that gate the checkpoint (`llmspec eval`)."""

    suites: list[str] = Field(default_factory=lambda: ["smoke"], max_length=256)
    """Suite names (suites/NAME.toml, built in or beside the spec) or paths to suite files."""
    model: str | None = Field(default=None, max_length=4096)
    """Checkpoint to evaluate; defaults to [model].weights."""
    adapter: str | None = Field(default=None, max_length=4096)
    """A PEFT adapter applied on top of the model."""
    backend: Literal["hf", "vllm"] = "hf"
    """lm-eval model backend."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    """auto: cuda if present, else mps, else cpu."""
    batch_size: int | Literal["auto"] | None = None
    """Per-device batch size; default "auto" on a GPU and 1 on the CPU."""
    data_parallel: int | None = Field(default=None, ge=1, le=100_000)
    """Data-parallel replicas; defaults from [hardware]."""
    tensor_parallel: int | None = Field(default=None, ge=1, le=4096)
    """Tensor-parallel degree (vLLM); defaults to [hardware].tensor_parallel."""
    limit: int | None = Field(default=None, ge=1)
    """Evaluate only the first N documents of each task."""
    num_fewshot: int | None = Field(default=None, ge=0, le=1000)
    """Override the few-shot count of every task."""
    chat_template: bool = False
    """Apply the tokenizer's chat template to prompts."""
    # lm-eval 0.4.13 evaluator.simple_evaluate passes numpy_random_seed to np.random.seed (evaluator.py line 204),
    # which accepts 0 <= seed <= 2**32 - 1; llmspec passes this one seed as every lm-eval seed (eval/lmeval.py).
    seed: int = Field(default=1234, ge=0, le=2**32 - 1)
    """Seed for sampling and few-shot selection (0 to 2**32 - 1, the range numpy's seeding accepts)."""
    allow_pickle: bool = False
    """Allow pickle-format weights (.bin/.pt); safetensors is required otherwise."""
    trust_suite_code: bool = False
    """Run the Python a user suite carries (!function, metric scripts, unsandboxed templates). Eval also needs
    --trust-suite-code; llmspec's own suites are always trusted."""
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    """Family-wise error rate for baseline comparisons (one-sided, Holm-corrected across gates)."""
    gates: list[Gate] = Field(default_factory=list, max_length=1024)
    """Pass/fail conditions."""


class Meta(Strict):
    """Who owns the spec and what it is for."""

    owner: str | None = Field(default=None, max_length=256)
    """Team or person responsible."""
    description: str | None = Field(default=None, max_length=10_000)
    """What the run is for."""
    tags: list[str] = Field(default_factory=list, max_length=64)
    """Free-form labels."""
    links: list[str] = Field(default_factory=list, max_length=64)
    """Related documents: tickets, dashboards, model cards."""


class Spec(Strict):
    """One model and one run."""

    version: Literal[1] = 1
    """Spec format version."""
    extends: str | None = Field(default=None, max_length=4096)
    """A base spec (relative path) whose keys this file overrides, deep-merged."""
    meta: Meta | None = None
    """Ownership and description."""
    model: Model
    """The model."""
    training: Training | None = None
    """The training run, if any."""
    sampling: Sampling | None = None
    """Decoding parameters."""
    inference: Inference | None = None
    """Serving setup."""
    hardware: Hardware | None = None
    """Accelerators and budgets."""
    eval: Eval | None = None
    """Evaluation gates."""

    # -- sweeps (issue 14): a space over this spec's keys; see llmspec.spec.sweep --------------------------
    sweep: Sweep | None = None
    """A hyperparameter sweep over this spec's keys (`llmspec sweep plan` / `run`)."""

    _source: object = PrivateAttr(default=None)

    # -- stack knobs whose only supported value follows model.family (issue 12: torchtune's QLoRA layout) ----------
    @model_validator(mode="after")
    def _family_stack_defaults(self) -> Spec:
        if self.training is not None:
            self.training.fill_implied(lambda knob: self.model.family if knob == "family" else None)
        return self

    # -- PEFT's default adapter targets (issue 12): a stack whose adapters are PEFT's, lora.targets unset ---------
    @model_validator(mode="after")
    def _peft_default_targets(self) -> Spec:
        targets = peft_default_targets(self)
        if targets is not None and self.training is not None and self.training.lora is not None:
            self.training.lora.__dict__["targets"] = list(targets)  # not marked as set: it came from PEFT
        return self

    # -- stack defaults that depend on the device count (stacks.toml `by = "devices"`; issue 12) ------------------
    @model_validator(mode="after")
    def _stack_device_defaults(self) -> Spec:
        # Training alone resolved them for one device; here they follow hardware.count x hardware.nodes. The training
        # table is copied before it changes: a sweep point shares its other tables with the base spec.
        from llmspec.spec.stacks import KNOBS, stack, value_for

        tr = self.training
        if tr is None:
            return self
        devices = self.hardware.world_size if self.hardware is not None else 1
        for knob, default in stack(tr.stack).defaults.items():
            table, name = KNOBS[knob]
            if default.by != "devices" or table != "training" or name in tr.model_fields_set:
                continue
            value = value_for(default, tr.precision, devices)
            if getattr(tr, name) != value:
                tr = tr.model_copy()
                tr.__dict__[name] = value
                self.__dict__["training"] = tr
        return self

    @property
    def source(self):
        """The :class:`llmspec.spec.source.SourceMap` this spec was loaded from (positions of every key)."""
        return self._source

    @property
    def arch(self) -> Architecture:
        """The architecture (resolved from hf_config by the loader when needed)."""
        assert self.model.architecture is not None, "load specs with llmspec.load_spec"
        return self.model.architecture


def peft_default_targets(spec: Spec) -> tuple[str, ...] | None:
    """The default lora.targets when the spec leaves them unset: PEFT's default target_modules for the spec's
    model_type when its stack builds adapters with PEFT (peft LoraModel._prepare_adapter_config reads
    TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING), or the stack's own default (stacks.toml `lora_targets`,
    e.g. LitGPT's lora_query / lora_value); None otherwise (then lora.targets' own default holds)."""
    from llmspec.spec.families import family
    from llmspec.spec.stacks import stack

    tr = spec.training
    if tr is None or tr.lora is None or "targets" in tr.lora.model_fields_set:
        return None
    preset = stack(tr.stack)
    if preset.adapters.value != "peft":
        return tuple(preset.lora_targets.value) if preset.lora_targets.value else None
    fam = family(spec.model.family)
    if fam is None or fam.peft_targets is None:
        return None
    return fam.peft_targets
