"""The vocabulary of the family registry (``llmspec.spec.families``): what a family entry can say, as data.

The importer (``llmspec.spec.hf_import``) and the exporter (``llmspec.estimate.hfmap``) read these declarations
generically; neither knows a family by name. A fact the vocabulary cannot say is a hook: a function the registry
entry itself names (``Family.import_hook`` / ``export_hook``), defined beside that entry. This module names no
family.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from llmspec.spec.module_tree import adaptable, containers, distinct_names

if TYPE_CHECKING:
    from llmspec.spec.models import Architecture


class ConfigReader(Protocol):
    """Reads config.json keys the way transformers does (the key, its family spelling, else the class default)."""

    family: str

    def get(self, key: str, *, required: bool = True) -> Any: ...

    def count(self, key: str) -> int: ...

    def int(self, key: str, *, required: bool = True) -> int | None: ...

    def bool(self, key: str) -> bool: ...


ImportHook = Callable[[ConfigReader, dict[str, Any]], None]
"""(config reader, architecture dict being built) -> None: sets what the declarations cannot."""
ExportHook = Callable[["Architecture", dict[str, Any]], None]
"""(architecture, config dict being written) -> None: the inverse of the entry's import hook."""


@dataclass(frozen=True)
class Switch:
    """An architecture field read from one config key through a table: ``field = table[config[key]]``. The
    export writes the key whose table value is the field's value ("$key" is Switch(key, {True: True, False:
    False}))."""

    key: str
    table: Mapping[Any, Any]


@dataclass(frozen=True)
class AllOf:
    """A boolean field that is true iff every config key has the given value. The export writes them all when the
    field is true; when it is false, the first key gets the opposite boolean and the others their values."""

    keys: Mapping[str, Any]


@dataclass(frozen=True)
class Offset:
    """A field derived from another architecture field: ``field = arch[source] + by`` (learned position tables).
    The export writes nothing for it: the source field is written, and the round trip checks the result."""

    source: str
    by: int = 0


@dataclass(frozen=True)
class MoeKeys:
    """Where a mixture-of-experts family keeps its expert facts in config.json."""

    n_experts: str
    experts_per_token: str = "num_experts_per_tok"
    expert_ffn_dim: str | None = None
    """Key of one expert's width; None: the experts are ``intermediate_size`` wide (no dense MLP width then)."""
    sparse_layers: tuple[str, str] | None = None
    """(list key, step key): block i is dense iff i is in the list, or (i + 1) % step != 0, or there are no
    experts at all (n_experts = 0: a dense model)."""
    shared_expert_ffn_dim: str | None = None
    """Key of the width of one always-active shared expert (0 cannot be expressed when it is gated)."""
    shared_expert_gate: bool = False
    """The shared expert's output passes a learned sigmoid gate (hidden -> 1)."""


@dataclass(frozen=True)
class WindowKeys:
    """Where a family keeps sliding-window attention in config.json (transformers 5.24 configuration_<family>.py):
    architecture.sliding_window and sliding_window_layers (llmspec.estimate.mask sizes the dense mask from them)."""

    key: str = "sliding_window"
    """The window in tokens (null or 0: full attention)."""
    enabled: str | None = None
    """A boolean key that must be true for the window to apply (Qwen2 use_sliding_window)."""
    first_layer: str | None = None
    """Key of the first windowed block: blocks i >= it use the window (Qwen2 max_window_layers)."""
    every_other: bool = False
    """Blocks 0, 2, 4, ... use the window, the others attend fully (Gemma 2 layer_types)."""


ArchRule = Any
"""A literal, "$key" (a boolean config key), Switch, AllOf or Offset."""


@dataclass(frozen=True)
class Family:
    model_type: str
    """Hugging Face ``model_type`` (config.json), also ``model.family`` in a spec."""
    hf_class: str
    """The transformers class that ``AutoModelForCausalLM`` builds for this model_type (``--measure`` builds it)."""
    gated: bool
    """The MLP has gate, up and down matrices (SwiGLU / GeGLU), not two (fc1 / fc2)."""
    defaults: Mapping[str, Any]
    """config key -> the value transformers uses when config.json omits it ("" = none / derived)."""
    modules: Mapping[str, tuple[str, ...]]
    """LoRA target name (the real module name in the transformers class) -> the roles it covers."""
    peft_targets: tuple[str, ...] | None
    """PEFT's default target_modules for this model_type (None: PEFT has none and asks for target_modules)."""
    aliases: Mapping[str, str] = field(default_factory=dict)
    """canonical config key -> this family's spelling (read and written)."""
    legacy_aliases: Mapping[str, str] = field(default_factory=dict)
    """canonical config key -> an old spelling that is read but never written (the config class takes the
    canonical name)."""
    arch: Mapping[str, ArchRule] = field(default_factory=dict)
    """Architecture fields the family fixes or reads from config keys (see ArchRule)."""
    reject: Mapping[str, tuple[Any, str]] = field(default_factory=dict)
    """config key -> (a value a spec cannot express, what a config with it is)."""
    same_as: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """config key -> (the canonical key it must equal when set, what checkpoints where it differs have)."""
    reads_head_dim: bool = True
    """False: the class always uses hidden_size // num_attention_heads, whatever config.json says."""
    moe: MoeKeys | None = None
    """Mixture-of-experts keys (None: a dense family)."""
    import_hook: ImportHook | None = None
    """Code for what the declarations cannot say (defined beside the entry in the registry)."""
    export_hook: ExportHook | None = None
    """The inverse of import_hook (for --measure's config)."""
    dropout_keys: tuple[str, ...] = ()
    """config keys of the hidden-state dropouts of the real class (residual, embedding, MLP): training.dropout."""
    attention_dropout_keys: tuple[str, ...] = ("attention_dropout",)
    """config keys of the dropout on attention probabilities (applied inside the fused attention kernel on CUDA)."""
    quirks: str = ""
    """What the declarations and hooks above do for this family, for people."""
    dropout_h: int = 0
    """Bytes per token per block, in units of d_model, that training.dropout > 0 adds (the masks the hidden-state
    dropouts keep for backward), measured on the real class under FakeTensorMode (bf16-mixed, exact integers at
    seq 256 and 512; benchmarks/memory_accuracy.md)."""
    activation_fit: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """Bytes per token the Llama-fitted activation coefficients miss for this real class, as (x d_model, x ffn):
    "full" and "lora" per block saved for backward (bf16-mixed, LoRA on all linear layers), "lora-fp32" the same
    under fp32 precision (instead of "lora"; fitted after the blind held-out run, on the calibration shapes),
    "prefill" at the peak of a prefill. Fitted on the real class at three small shapes by benchmarks/fit_families.py (calibration),
    then checked on the held-out real widths of benchmarks/memory_accuracy.py. Empty: the Llama coefficients hold."""
    window: WindowKeys | None = None
    """Sliding-window attention keys (None: the class attends fully in every block)."""
    config_overrides: Mapping[str, Any] = field(default_factory=dict)
    """config keys a spec's architecture cannot express, set when --measure writes the config from a spec (not from
    model.hf_config): what the estimate assumes."""
    sdpa: bool = True
    """The class runs torch's scaled_dot_product_attention; False: eager attention only (s x s scores)."""
    mqa_math_sdpa: bool = False
    """With a single K/V head the class hands torch's sdpa one K/V head for n_heads queries, with neither
    enable_gqa nor repeat_kv (FalconAttention.forward, old decoder architecture with multi_query). No fused kernel
    accepts unequal head counts (torch sdp_utils, check_batch_size_and_num_heads_dense), so sdpa runs its math
    kernel (aten/native/transformers/attention.cpp, _scaled_dot_product_attention_math), which upcasts q, k, v to
    fp32 and materialises the n_heads x s x s scores and probabilities (activations.math_attention)."""
    mqa_math_sdpa_until: str | None = None
    """The first transformers release whose class no longer takes that path (None: every release does). The
    estimate reads the installed version without importing transformers (llmspec.estimate.hfversion)."""
    window_mask_built: bool = False
    """The model's forward builds a sliding-window mask for every prefill, used or not, and no window is set
    (transformers==5.24.0:src/transformers/models/qwen2_moe/modeling_qwen2_moe.py:Qwen2MoeModel.forward calls
    ``create_sliding_window_causal_mask`` beside ``create_causal_mask``; configuration_qwen2_moe.py sets
    sliding_window to 0 when use_sliding_window is false, so masking_utils.py:sdpa_mask cannot skip it,
    ``kv_length >= local_attention_size``): a (1, 1, s, s) bool mask (s^2 bytes without padding) live through the
    forward (llmspec.estimate.inference.window_mask_bytes)."""
    position_embeds_kept: str = ""
    """Learned position embeddings the model's forward keeps referenced through every block of a prefill, beside the
    sum it passes on: "batch", batch x seq x d_model (transformers==5.24.0:src/transformers/models/opt/
    modeling_opt.py:OPTDecoder.forward, ``pos_embeds = self.embed_positions(...)`` from the (batch, seq) attention
    mask); "sequence", 1 x seq x d_model (models/gpt2/modeling_gpt2.py:GPT2Model.forward, ``position_embeds =
    self.wpe(position_ids)`` with (1, seq) position ids, the same for every sequence of the batch); "": none or
    not a separate tensor. In the compute dtype (llmspec.estimate.inference.position_embeds_bytes)."""
    kv_cache_expanded: bool = False
    """With several query heads per K/V head, the class expands K and V to every query head before the cache update,
    so an HF (DynamicCache) KV cache holds n_heads, not n_kv_heads, heads per block: transformers==5.24.0:src/
    transformers/models/falcon/modeling_falcon.py:FalconAttention._split_heads (new decoder architecture,
    ``torch.broadcast_to(key, query.shape)`` + ``flatten(2, 3)``) and FalconAttention.forward (``num_kv_heads =
    self.num_heads if self.new_decoder_architecture``, then ``layer_past.update(key_layer, value_layer, ...)``).
    Engines with their own caches (vLLM, TGI, ...) keep n_kv_heads (llmspec.estimate.hfversion.kv_cache_heads)."""
    kv_cache_expanded_until: str | None = None
    """The first transformers release the expansion is not assumed for (None: every release). Set to the release
    after the last one whose source was read: later releases are unverified, and the estimate says so."""
    eager_softmax: str = "fp32"
    """What the class's own eager attention keeps live at its peak, per element of one block's (batch, n_heads, q,
    k) scores (llmspec.estimate.inference.eager_score_bytes). "fp32": ``softmax(w, dim=-1, dtype=torch.float32)
    .to(query.dtype)`` (transformers==5.24.0:src/transformers/models/llama/modeling_llama.py:eager_attention_forward
    and its copies): the masked scores are still referenced while softmax makes its fp32 copy (torch's softmax casts
    with toType when dtype differs; none under fp32) and its fp32 result. "compute": the softmax stays in the
    compute dtype (models/gpt2/modeling_gpt2.py:eager_attention_forward, ``softmax(w, dim=-1)``): two score
    tensors at once (the matmul and its scaled copy, or softmax's input and output). "compute+mask": the mask is
    added inside the softmax call (models/falcon/modeling_falcon.py:FalconAttention.forward, rotary path,
    ``F.softmax(attention_scores + attention_mask, dtype=hidden_states.dtype)``): the scores, their masked copy and
    the result, 3 x the compute dtype."""
    eager_probs_kept: int = 1
    """Blocks whose eager attention probabilities (returned by the attention module) are referenced at once: 1, the
    decoder layer's own (``hidden_states, _ = self.self_attn(...)`` keeps them through the MLP); 2 when the model's
    loop also holds the previous block's outputs while the next block runs (models/falcon/modeling_falcon.py:
    FalconModel.forward, ``outputs = block(...)`` with FalconDecoderLayer returning (output, attn_weights))."""
    softcapping: bool = False
    """The class soft-caps attention scores and final logits, ``tanh(x / cap) * cap`` (Gemma2Config
    attn_logit_softcapping = 50.0 and final_logit_softcapping = 30.0 by default; a spec cannot change them). Each
    tanh output is saved for backward in the compute dtype: + 2 x n_heads x s bytes per token and block (eager
    attention) and + 2 x vocab per token for the logits (modeling_gemma2.py, eager_attention_forward and
    Gemma2ForCausalLM.forward)."""
    peft_experts: str = "separate"
    """How PEFT 0.21 adapts the MoE experts of this class under LoRA. "fused": transformers 5 stores the experts as
    3-D parameters (gate_up_proj, down_proj), and PEFT's v4 -> v5 conversion (peft/utils/
    transformers_weight_conversion.py, _convert_peft_config_moe) maps the expert and router names onto them:
    lora.ParamWrapper adapters, one per expert, rank 2r on gate_up_proj and r on down_proj, plus the router weight.
    "none": PEFT has no conversion for the class (its model_type is not a key of transformers'
    _MODEL_TO_CONVERSION_PATTERN), so neither the 3-D experts nor the router (not nn.Linear) are adapted.
    "separate": one adapter per expert matrix (transformers 4 nn.Linear experts; families outside the registry)."""

    peft_fused: tuple[str, ...] = ()
    """Target names PEFT's MoE conversion fuses into one adapter on the experts' gate_up_proj; naming some but not
    all of them makes PEFT raise "Cannot convert PEFT target(s) ... without also targeting ..."
    (peft/utils/transformers_weight_conversion.py, _MOE_FUSED_TARGETS)."""
    tree: str = ""
    """The class's module tree, every ``named_modules()`` path in compact form (``llmspec.spec.module_tree``): the
    LoRA target names above are its adaptable leaves, every other name is a container PEFT cannot adapt (an
    attention or MLP block, a decoder layer, a norm, a dropout, the rotary embedding). Checked against the real
    class built from each preset (tests/params/test_module_tree.py)."""

    @property
    def container_names(self) -> tuple[str, ...]:
        """Module names of the tree that PEFT cannot adapt (blocks, layers, norms, dropouts, rotary embedding)."""
        return containers(self.tree, self.modules, self.peft_experts)

    @property
    def linear_names(self) -> tuple[str, ...]:
        """Module names of the block linears (what "all-linear" selects), in registry order."""
        skip = {"embed", "pos_embed", "head"}
        return tuple(n for n in distinct_names(self.modules) if not set(self.modules[n]) & skip
                     and adaptable(self.modules, self.peft_experts, n))
