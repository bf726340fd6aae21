"""The family registry: every fact llmspec knows about a model family, in one place (litgpt ``config.py`` style).

One :class:`Family` per Hugging Face ``model_type``. Every consumer reads this table: the config.json importer
(``llmspec.spec.hf_import``), parameter counts and LoRA shapes (``llmspec.estimate.params``), the model that
``--measure`` builds (``llmspec.estimate.hfmap``), ``llmspec init`` and the lint rules. Adding a family means
adding an entry here and a real config.json under ``llmspec/data/presets/``; tests are parametrised over the table.
Per-family config quirks are declarations (``llmspec.spec.family_types``: key spellings, fixed and switched fields,
derived fields, values a spec cannot express, MoE keys) that the importer and exporter read generically; what
needs code is a hook named by the entry and defined beside it. No other module names a family
(tests/params/test_registry_only.py).

Sources: transformers 5.24 ``models/<family>/configuration_<family>.py`` (``defaults``: what transformers uses
when config.json leaves a key out) and ``modeling_<family>.py`` (module names, biases, norms); PEFT 0.21
``peft/utils/constants.py`` ``TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`` (``peft_targets``). Class names
are strings: the lint path never imports transformers. Tests check the defaults against the transformers config
classes, the class names and module names against the real classes built on the meta device, and the presets
against their config.json files.

Presets are popular checkpoints. Each names its Hugging Face repository and ships that repository's config.json
verbatim in ``llmspec/data/presets/`` (``llmspec init --preset NAME``, ``extends = "preset:NAME"``).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmspec.spec.family_types import AllOf, ConfigReader, Family, MoeKeys, Offset, Switch, WindowKeys

if TYPE_CHECKING:
    from llmspec.spec.models import Architecture

__all__ = ["FAMILIES", "Family", "PRESETS", "Preset", "UnknownPreset", "family", "modules_for", "preset",
           "preset_spec", "tree_for"]

PRESET_DIR = Path(__file__).resolve().parent.parent / "data" / "presets"

# LoRA target names -> the roles they cover (llmspec.estimate.params turns roles into matrix shapes). Roles:
# q, k, v, o, qkv (fused), gate, up, gate_up (fused), down, router, shared_gate, embed (token embedding), pos_embed
# (learned positions), head (output projection). PEFT adapts embeddings with its Embedding LoRA layer and lm_head
# like any linear; "all-linear" leaves the head out (peft.tuners.tuners_utils._maybe_include_all_linear_layers).
_SEPARATE = {"q_proj": ("q",), "k_proj": ("k",), "v_proj": ("v",), "o_proj": ("o",),
             "gate_proj": ("gate",), "up_proj": ("up",), "down_proj": ("down",),
             "embed_tokens": ("embed",), "lm_head": ("head",)}
# The MoE names assumed when the family is unknown: the router "gate", Qwen2-MoE's shared_expert_gate, and the
# transformers-4 Mixtral expert names (aliases of gate_proj / up_proj / down_proj there).
_MOE = {"gate": ("router",), "shared_expert_gate": ("shared_gate",), "w1": ("gate",), "w3": ("up",), "w2": ("down",)}
# transformers 5 stores the experts as fused 3-D parameters (MixtralExperts / Qwen*MoeExperts: no expert modules),
# and PEFT 0.21 reaches them only through its v4 -> v5 conversion (peft/utils/transformers_weight_conversion.py,
# _MOE_TARGET_MODULE_MAPPING): mixtral maps gate, w1, w3, w2; the "qwen2_moe" pattern (qwen3_moe) gate, gate_proj,
# up_proj, down_proj. Any other expert name matches nothing (Mixtral's gate_proj: "Target modules ... not found").
_MOE_ROUTER = {"gate": ("router",)}
_MIXTRAL = {"q_proj": ("q",), "k_proj": ("k",), "v_proj": ("v",), "o_proj": ("o",), **_MOE_ROUTER,
            "w1": ("gate",), "w3": ("up",), "w2": ("down",), "embed_tokens": ("embed",), "lm_head": ("head",)}
_QWEN_MOE = {**_SEPARATE, **_MOE_ROUTER}
_NEOX = {"query_key_value": ("qkv",), "dense": ("o",), "dense_h_to_4h": ("up",), "dense_4h_to_h": ("down",),
         "lm_head": ("head",)}


# Module trees (llmspec.spec.module_tree): the named_modules() of each class, from its modeling_<family>.py.
_ATTN = "q_proj k_proj v_proj o_proj"
_GATED_MLP = "gate_proj up_proj down_proj act_fn"
_NORMS = "input_layernorm post_attention_layernorm"


def _decoder_tree(attn: str = _ATTN, mlp: str = _GATED_MLP, layer: str = _NORMS) -> str:
    """LlamaForCausalLM's tree (and its descendants'): model.layers.#.{self_attn, mlp, norms}, lm_head."""
    return f"model(embed_tokens layers(#(self_attn({attn}) mlp({mlp}) {layer})) norm rotary_emb) lm_head"


# Qwen*MoeSparseMoeBlock: router "gate" and fused experts (their act_fn) in sparse blocks, a dense Qwen*MoeMLP in
# the others (mlp_only_layers / decoder_sparse_step); Qwen2MoeSparseMoeBlock adds shared_expert (an MLP) and
# shared_expert_gate.
_MOE_MLP = "gate_proj?dense up_proj?dense down_proj?dense act_fn?dense gate?moe experts?moe(act_fn)"


def _llama_like(model_type: str, hf_class: str, defaults: dict, arch: dict, *, moe: MoeKeys | None = None,
                peft=("q_proj", "v_proj"), tree: str = _decoder_tree(),
                modules: Mapping[str, tuple[str, ...]] = _SEPARATE, **kw) -> Family:
    return Family(model_type, hf_class, True, defaults, modules, peft, arch=arch, moe=moe, tree=tree, **kw)


# Qwen2MoeDecoderLayer / Qwen3MoeDecoderLayer: layer i gets the sparse block iff i not in mlp_only_layers and
# num_experts > 0 and (i + 1) % decoder_sparse_step == 0; otherwise a dense MLP of intermediate_size.
_QWEN_MOE_LAYERS = ("mlp_only_layers", "decoder_sparse_step")


def _falcon_import(r: ConfigReader, arch: dict[str, Any]) -> None:
    # FalconAttention: new_decoder_architecture -> (2 * num_kv_heads + num_heads) * head_dim for fused qkv;
    # multi_query -> one k/v head; else 3 * hidden. FalconDecoderLayer norms: parallel_attn with
    # num_ln_in_parallel_attn == 2 (the new-architecture default) -> ln_attn + ln_mlp; parallel_attn otherwise ->
    # input_layernorm only; sequential -> input + post_attention layernorm.
    new_arch = r.bool("new_decoder_architecture")
    if new_arch:
        arch["n_kv_heads"] = r.int("num_key_value_heads", required=False) or arch["n_heads"]
    elif r.bool("multi_query"):
        arch["n_kv_heads"] = 1
    else:
        arch["n_kv_heads"] = arch["n_heads"]
    n_ln = r.int("num_ln_in_parallel_attn", required=False)
    if n_ln is None and new_arch:
        n_ln = 2
    if not arch["parallel_attention"]:
        arch["norms_per_layer"] = 2
    else:
        arch["norms_per_layer"] = 2 if n_ln == 2 else 1


def _falcon_export(a: Architecture, cfg: dict[str, Any]) -> None:
    # the inverse: multi_query -> one k/v head; new_decoder_architecture -> num_kv_heads, and
    # num_ln_in_parallel_attn norms (ln_attn + ln_mlp); otherwise n_head k/v heads
    two_norms = a.parallel_attention and a.norms_per_layer == 2
    new = two_norms or a.kv_heads not in (1, a.n_heads)
    cfg.update(new_decoder_architecture=new, multi_query=a.kv_heads == 1 and not new,
               num_ln_in_parallel_attn=a.norms_per_layer if new else None)


_ROPE = {"norm": "rmsnorm"}
_ATTN_BIAS = {"qkv_bias": "$attention_bias", "attn_out_bias": "$attention_bias"}

FAMILIES: dict[str, Family] = {f.model_type: f for f in [
    # LlamaAttention: q/k/v/o_proj bias=config.attention_bias; LlamaMLP: bias=config.mlp_bias.
    _llama_like("llama", "LlamaForCausalLM", dict(
        vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads="", head_dim="", hidden_act="silu", max_position_embeddings=2048,
        tie_word_embeddings=False, attention_bias=False, mlp_bias=False),
        {**_ROPE, **_ATTN_BIAS, "mlp_bias": "$mlp_bias"}),
    _llama_like("mistral", "MistralForCausalLM", dict(
        vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=8, head_dim="", hidden_act="silu", max_position_embeddings=131072,
        tie_word_embeddings=False, sliding_window=4096), _ROPE,
        # MistralConfig defaults to a 4096-token sliding window (Mistral-7B-v0.1; later versions set null): the
        # importer carries it into architecture.sliding_window, --measure writes it back (llmspec.estimate.mask)
        window=WindowKeys()),
    # MixtralSparseMoeBlock: router MixtralTopKRouter "gate" (experts x hidden, no bias), MixtralExperts (fused
    # gate_up_proj / down_proj parameters of intermediate_size).
    _llama_like("mixtral", "MixtralForCausalLM", dict(
        vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=8, head_dim="", hidden_act="silu", max_position_embeddings=131072,
        tie_word_embeddings=False, num_local_experts=8, num_experts_per_tok=2),
        _ROPE, moe=MoeKeys("num_local_experts"), aliases={"num_local_experts": "num_experts"},
        quirks="MoE from num_local_experts (experts of intermediate_size)",
        tree=_decoder_tree(mlp="gate experts(act_fn)"), modules=_MIXTRAL, peft_fused=("w1", "w3"),
        peft_experts="fused",  # peft adds "mixtral" to the conversion patterns itself
        window=WindowKeys()),  # MixtralModel: create_sliding_window_causal_mask when config.sliding_window is set
    # Qwen2Attention: q/k/v_proj bias=True, o_proj bias=False (not configurable).
    _llama_like("qwen2", "Qwen2ForCausalLM", dict(
        vocab_size=151936, hidden_size=4096, intermediate_size=22016, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=32, head_dim="", hidden_act="silu", max_position_embeddings=32768,
        tie_word_embeddings=False, use_sliding_window=False, sliding_window=None, max_window_layers=28),
        {**_ROPE, "qkv_bias": True},
        # Qwen2Config.__post_init__: layer_types "sliding_attention" for i >= max_window_layers with use_sliding_window
        window=WindowKeys(enabled="use_sliding_window", first_layer="max_window_layers")),
    # Qwen2MoeSparseMoeBlock: router, experts of moe_intermediate_size, one shared_expert MLP of
    # shared_expert_intermediate_size and a shared_expert_gate Linear(hidden, 1, bias=False).
    _llama_like("qwen2_moe", "Qwen2MoeForCausalLM", dict(
        vocab_size=151936, hidden_size=2048, intermediate_size=5632, num_hidden_layers=24, num_attention_heads=16,
        num_key_value_heads=16, head_dim="", hidden_act="silu", max_position_embeddings=32768,
        tie_word_embeddings=False, decoder_sparse_step=1, moe_intermediate_size=1408,
        shared_expert_intermediate_size=5632, num_experts_per_tok=4, num_experts=60, mlp_only_layers=[],
        qkv_bias=True), {**_ROPE, "qkv_bias": "$qkv_bias"}, peft=None,
        moe=MoeKeys("num_experts", expert_ffn_dim="moe_intermediate_size", sparse_layers=_QWEN_MOE_LAYERS,
                    shared_expert_ffn_dim="shared_expert_intermediate_size", shared_expert_gate=True),
        quirks="dense blocks from mlp_only_layers / decoder_sparse_step; one gated shared expert",
        # Qwen2MoeConfig layer_types: windows on blocks with (i + 1) % 2 and i < max_window_layers (not expressible)
        reject={"use_sliding_window": (True, "Qwen2-MoE with use_sliding_window = true (windows on every other block "
                                             "below max_window_layers)")},
        tree=_decoder_tree(mlp=_MOE_MLP + f" shared_expert?shared({_GATED_MLP}) shared_expert_gate?shared_gate"),
        modules={**_QWEN_MOE, "shared_expert_gate": ("shared_gate",)},
        window_mask_built=True,
        peft_experts="none"),  # transformers maps qwen3_moe etc. -> "qwen2_moe", but has no "qwen2_moe" key
    # Qwen3Attention: q_norm / k_norm = RMSNorm(head_dim).
    _llama_like("qwen3", "Qwen3ForCausalLM", dict(
        vocab_size=151936, hidden_size=4096, intermediate_size=22016, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=32, head_dim=128, hidden_act="silu", max_position_embeddings=32768,
        tie_word_embeddings=False, attention_bias=False, use_sliding_window=False, sliding_window=None,
        max_window_layers=28), {**_ROPE, "qk_norm": True, **_ATTN_BIAS},
        tree=_decoder_tree(attn=_ATTN + " q_norm k_norm"),
        # Qwen3Config.__post_init__: as Qwen2 (blocks i >= max_window_layers with use_sliding_window)
        window=WindowKeys(enabled="use_sliding_window", first_layer="max_window_layers")),
    # No head_dim field: Qwen3MoeAttention uses getattr(config, "head_dim", hidden_size // num_attention_heads).
    _llama_like("qwen3_moe", "Qwen3MoeForCausalLM", dict(
        vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_hidden_layers=24, num_attention_heads=32,
        num_key_value_heads=4, head_dim="", hidden_act="silu", max_position_embeddings=32768,
        tie_word_embeddings=False, attention_bias=False, decoder_sparse_step=1, moe_intermediate_size=768,
        num_experts_per_tok=8, num_experts=128, mlp_only_layers=[], use_sliding_window=False, sliding_window=None),
        {**_ROPE, "qk_norm": True, **_ATTN_BIAS},
        # Qwen3MoeModel: create_sliding_window_causal_mask for every block when use_sliding_window
        window=WindowKeys(enabled="use_sliding_window"),
        moe=MoeKeys("num_experts", expert_ffn_dim="moe_intermediate_size", sparse_layers=_QWEN_MOE_LAYERS),
        peft=None, quirks="dense blocks from mlp_only_layers / decoder_sparse_step",
        tree=_decoder_tree(attn=_ATTN + " q_norm k_norm", mlp=_MOE_MLP), modules=_QWEN_MOE,
        peft_fused=("gate_proj", "up_proj"),
        peft_experts="fused"),  # _MODEL_TO_CONVERSION_PATTERN["qwen3_moe"] = "qwen2_moe"
    # GemmaRMSNorm scales by (1 + weight): still one weight vector per norm.
    _llama_like("gemma", "GemmaForCausalLM", dict(
        vocab_size=256000, hidden_size=3072, intermediate_size=24576, num_hidden_layers=28, num_attention_heads=16,
        num_key_value_heads=16, head_dim=256, hidden_act="gelu_pytorch_tanh", max_position_embeddings=8192,
        tie_word_embeddings=True, attention_bias=False), {**_ROPE, **_ATTN_BIAS}, activation_fit={"lora": (2, 0), "lora-fp32": (4, 0)}),
    # Gemma2DecoderLayer: input, post_attention, pre_feedforward and post_feedforward RMSNorms.
    _llama_like("gemma2", "Gemma2ForCausalLM", dict(
        vocab_size=256000, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26, num_attention_heads=8,
        num_key_value_heads=4, head_dim=256, hidden_activation="gelu_pytorch_tanh", max_position_embeddings=8192,
        tie_word_embeddings=True, attention_bias=False, sliding_window=4096), {**_ROPE, "norms_per_layer": 4, **_ATTN_BIAS},
        aliases={"hidden_act": "hidden_activation"}, quirks="eager attention (logit soft-capping)",
        tree=_decoder_tree(layer=_NORMS + " pre_feedforward_layernorm post_feedforward_layernorm"),
        # refitted (benchmarks/fit_families.py, calibration shapes) once the soft-capping tanh had its own term
        # (it was (23, 1) / (13, 1))
        # "full-fp32": under fp32 a block holds 8 x d_model per token more than the bf16-mixed "full" fit (FITTED, not
        # derived: Gemma2ForCausalLM, full fine-tuning in fp32, 3 blocks minus 2 at d_model 128 with ffn 2 and 4 x
        # d_model, 1 x 512 tokens: 8.05 x d_model per token at both; bf16-mixed matches the "full" fit there)
        activation_fit={"full": (20, 0), "full-fp32": (28, 0), "lora": (10, 0), "lora-fp32": (20, 0)},
        # Gemma2PreTrainedModel._supports_sdpa = False (attention logit soft-capping): eager attention
        sdpa=False, softcapping=True,
        # Gemma2Config layer_types: "sliding_attention" on blocks 0, 2, 4, ...
        window=WindowKeys(every_other=True)),
    # Phi3Attention: fused qkv_proj and o_proj without bias; Phi3MLP: fused gate_up_proj and down_proj.
    Family("phi3", "Phi3ForCausalLM", True, dict(
        vocab_size=32064, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads="", head_dim="", hidden_act="silu", max_position_embeddings=4096,
        tie_word_embeddings=False),
        {"qkv_proj": ("qkv",), "o_proj": ("o",), "gate_up_proj": ("gate_up",), "down_proj": ("down",),
         "embed_tokens": ("embed",), "lm_head": ("head",)}, None, arch=_ROPE,
        dropout_keys=("resid_pdrop", "embd_pdrop"), dropout_h=4,
        activation_fit={"lora": (-2, 0), "lora-fp32": (12, 0), "prefill": (0, 2)},
        tree=_decoder_tree(attn="o_proj qkv_proj", mlp="gate_up_proj down_proj activation_fn",
                           layer=_NORMS + " resid_attn_dropout resid_mlp_dropout"),
        # Phi3Model: create_sliding_window_causal_mask when config.sliding_window is set (Phi-3-mini-4k: 2047)
        window=WindowKeys()),
    # GPT2Attention / GPT2MLP: Conv1D layers (c_attn, c_proj, c_fc, c_proj) with biases; wpe has n_positions rows.
    Family("gpt2", "GPT2LMHeadModel", False, dict(
        vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, n_inner="", num_key_value_heads="",
        head_dim="", activation_function="gelu_new", tie_word_embeddings=True, add_cross_attention=False),
        {"c_attn": ("qkv",), "c_proj": ("o", "down"), "c_fc": ("up",), "wte": ("embed",), "wpe": ("pos_embed",),
         "lm_head": ("head",)}, ("c_attn",),
        aliases={"hidden_size": "n_embd", "num_hidden_layers": "n_layer", "num_attention_heads": "n_head",
                 "max_position_embeddings": "n_positions", "intermediate_size": "n_inner",
                 "hidden_act": "activation_function"},
        arch={"norm": "layernorm", "qkv_bias": True, "attn_out_bias": True, "mlp_bias": True, "position": "learned",
              "learned_positions": Offset("context_length")},
        reject={"add_cross_attention": (True, "GPT-2 with add_cross_attention = true (an encoder-decoder)")},
        dropout_keys=("resid_pdrop", "embd_pdrop"), attention_dropout_keys=("attn_pdrop",), dropout_h=6,
        # GPT2Model.forward keeps position_embeds (1 x seq x d_model) through the blocks: position_embeds_kept; the
        # prefill fit (batch 4 x 256) had absorbed it as 0.5 x d_model per token (it was (2, 2))
        position_embeds_kept="sequence",
        activation_fit={"full": (-14, 2), "lora": (-10, 2), "lora-fp32": (0, 4), "prefill": (1.5, 2)},
        eager_softmax="compute",  # modeling_gpt2.py:eager_attention_forward: softmax(attn_weights, dim=-1)
        quirks="learned positions = n_positions",
        tree="transformer(wte wpe drop h(#(ln_1 attn(c_attn c_proj attn_dropout resid_dropout) ln_2 "
             "mlp(c_fc c_proj act dropout))) ln_f) lm_head"),
    # GPTNeoXAttention: query_key_value and dense with bias=config.attention_bias; GPTNeoXMLP: nn.Linear with bias.
    Family("gpt_neox", "GPTNeoXForCausalLM", False, dict(
        vocab_size=50432, hidden_size=6144, num_hidden_layers=44, num_attention_heads=64, num_key_value_heads="",
        head_dim="", intermediate_size=24576, hidden_act="gelu", max_position_embeddings=2048,
        tie_word_embeddings=False, use_parallel_residual=True, attention_bias=True),
        {**_NEOX, "embed_in": ("embed",)}, ("query_key_value",),
        arch={"norm": "layernorm", **_ATTN_BIAS, "mlp_bias": True, "parallel_attention": "$use_parallel_residual"},
        dropout_keys=("hidden_dropout",), dropout_h=6,
        activation_fit={"full": (-12, -4), "lora": (-8, -4), "lora-fp32": (8, -8), "prefill": (2.1, -2.4)},
        tree="gpt_neox(embed_in emb_dropout layers(#(input_layernorm post_attention_layernorm post_attention_dropout "
             "post_mlp_dropout attention(query_key_value dense) mlp(dense_h_to_4h dense_4h_to_h act))) "
             "final_layer_norm rotary_emb) lm_head"),
    # FalconLinear layers take bias=config.bias; LayerNorm has weight and bias. n_embed, n_head and n_layer are the
    # names of the original RefinedWeb configs.
    Family("falcon", "FalconForCausalLM", False, dict(
        vocab_size=65024, hidden_size=4544, num_hidden_layers=32, num_attention_heads=71, num_key_value_heads="",
        head_dim="", ffn_hidden_size="", activation="gelu", max_position_embeddings=2048, tie_word_embeddings=True,
        alibi=False, new_decoder_architecture=False, multi_query=True, parallel_attn=True, bias=False,
        num_ln_in_parallel_attn=""),
        {**_NEOX, "word_embeddings": ("embed",)}, ("query_key_value",),
        aliases={"num_key_value_heads": "num_kv_heads", "intermediate_size": "ffn_hidden_size",
                 "hidden_act": "activation"},
        # FalconConfig.__init__ takes hidden_size / num_hidden_layers / num_attention_heads: the RefinedWeb
        # spellings are read from old config.json files only
        legacy_aliases={"hidden_size": "n_embed", "num_hidden_layers": "n_layer", "num_attention_heads": "n_head"},
        arch={"norm": "layernorm", "qkv_bias": "$bias", "attn_out_bias": "$bias", "mlp_bias": "$bias",
              "parallel_attention": "$parallel_attn", "position": Switch("alibi", {True: "alibi", False: "rope"})},
        reads_head_dim=False,  # FalconConfig.head_dim is always hidden_size // num_attention_heads
        import_hook=_falcon_import, export_hook=_falcon_export,
        dropout_keys=("hidden_dropout",), dropout_h=1, mqa_math_sdpa=True,
        # modeling_falcon.py: FalconAttention.forward (rotary path) masks inside the softmax call, and FalconModel.forward
        # keeps the previous block's (output, attn_weights) while the next block runs
        eager_softmax="compute+mask", eager_probs_kept=2,
        # transformers 5.25.0 FalconAttention.forward calls the shared attention interface (ALL_ATTENTION_FUNCTIONS:
        # sdpa_attention_forward repeats K/V or passes enable_gqa), so sdpa's fused kernel runs (measured there:
        # benchmarks/memory_accuracy.md, "Falcon and transformers 5.25")
        mqa_math_sdpa_until="5.25.0",
        # transformers==5.24.0:src/transformers/models/falcon/modeling_falcon.py:FalconAttention._split_heads: the new
        # decoder architecture broadcasts each K/V head to its query heads and flattens (a copy) before
        # layer_past.update, so the HF cache holds n_heads K/V heads (16x for Falcon-40B). Read in 5.24.0 only; 5.25.0
        # rewrote FalconAttention and its source was not read here: from 5.25.0 on the estimate assumes n_kv_heads
        # and says the fact is unverified there
        kv_cache_expanded=True, kv_cache_expanded_until="5.25.0",
        # refitted (benchmarks/fit_families.py, calibration shapes) once sdpa's math kernel had its own term: the
        # same residual as GPT-NeoX's parallel LayerNorm / GELU block (it was (-3.2, -2.55) / (0.8, -2.55))
        # "prefill": fitted on the new decoder architecture (Falcon-40B's layout, where sdpa's fused kernel runs and
        # the MLP sets the peak) at benchmarks/fit_families.py's (h, ffn) = (256, 1024) and (256, 2048), 4 x 256
        # tokens, after the KV-cache fix (kv_cache_expanded): residuals -1533 and -3581 B/token = 2 h - 2 ffn (the
        # non-gated GELU MLP keeps 4 ffn, not the SwiGLU 6 ffn; GPT-NeoX's and OPT's prefill fits have -2.4 and -2.0
        # x ffn too). At ffn = 2 h, (512, 1024), Falcon's own attention moment (_split_heads copies q, k and v)
        # sets the peak instead: not modelled (-7.0% at d_model 512, 3 x 1024)
        activation_fit={"full": (-12, -4), "lora": (-8, -4), "lora-fp32": (-5, -8), "prefill": (2, -2)},
        quirks="kv heads from new_decoder_architecture / multi_query; norms from num_ln_in_parallel_attn; alibi",
        # FalconDecoderLayer: sequential -> input + post_attention layernorm; parallel with two norms -> ln_attn +
        # ln_mlp; parallel with one -> input_layernorm. FalconModel builds rotary_emb even with alibi.
        tree="transformer(word_embeddings h(#(self_attention(query_key_value dense attention_dropout) "
             "mlp(dense_h_to_4h act dense_4h_to_h) input_layernorm?no_norm_pair post_attention_layernorm?sequential "
             "ln_attn?norm_pair ln_mlp?norm_pair)) ln_f rotary_emb) lm_head"),
    # OPTAttention: q/k/v/out_proj bias=enable_bias; fc1/fc2 bias=enable_bias; OPTLearnedPositionalEmbedding has
    # max_position_embeddings + 2 rows (offset 2, from fairseq).
    Family("opt", "OPTForCausalLM", False, dict(
        vocab_size=50272, hidden_size=768, num_hidden_layers=12, ffn_dim=3072, num_attention_heads=12,
        num_key_value_heads="", head_dim="", max_position_embeddings=2048, do_layer_norm_before=True,
        _remove_final_layer_norm=False, word_embed_proj_dim="", activation_function="relu", enable_bias=True,
        layer_norm_elementwise_affine=True, tie_word_embeddings=True),
        {"q_proj": ("q",), "k_proj": ("k",), "v_proj": ("v",), "out_proj": ("o",), "fc1": ("up",),
         "fc2": ("down",), "embed_tokens": ("embed",), "embed_positions": ("pos_embed",), "lm_head": ("head",)},
        ("q_proj", "v_proj"),
        aliases={"intermediate_size": "ffn_dim", "hidden_act": "activation_function"},
        arch={"qkv_bias": "$enable_bias", "attn_out_bias": "$enable_bias", "mlp_bias": "$enable_bias",
              "position": "learned", "learned_positions": Offset("context_length", 2),  # OPTLearnedPositionalEmbedding
              "norm": Switch("layer_norm_elementwise_affine", {True: "layernorm", False: "nonparametric"}),
              "final_norm": AllOf({"do_layer_norm_before": True, "_remove_final_layer_norm": False})},
        same_as={"word_embed_proj_dim": ("hidden_size", "the project_in/project_out layers of such checkpoints "
                                         "(e.g. opt-350m)")},
        dropout_keys=("dropout",), dropout_h=4,
        # OPTDecoder.forward keeps pos_embeds (batch x seq x d_model) through the blocks: position_embeds_kept; the
        # prefill fit had absorbed it as 2 x d_model per token (it was (-0.5, -2.0))
        position_embeds_kept="batch",
        activation_fit={"full": (-10, -6), "lora": (-6, -4), "lora-fp32": (0, -12), "prefill": (-2.5, -2.0)},
        quirks="learned positions = max_position_embeddings + 2; word_embed_proj_dim must equal hidden_size",
        # OPTDecoder: final_layer_norm only with do_layer_norm_before and not _remove_final_layer_norm
        tree="model(decoder(embed_tokens embed_positions final_layer_norm?final_norm layers(#(self_attn(k_proj "
             "v_proj q_proj out_proj) activation_fn self_attn_layer_norm fc1 fc2 final_layer_norm)))) lm_head"),
    # OlmoLayerNorm: F.layer_norm without weight or bias (no parameters).
    _llama_like("olmo", "OlmoForCausalLM", dict(
        vocab_size=50304, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads="", head_dim="", hidden_act="silu", max_position_embeddings=2048,
        tie_word_embeddings=False, attention_bias=False), {"norm": "nonparametric", **_ATTN_BIAS}, peft=None,
        activation_fit={"full": (-8, 0)}),
]}

# Names used when model.family is not set: the separate-projection layout most families share.
GENERIC_MODULES: Mapping[str, tuple[str, ...]] = {**_SEPARATE, **_MOE}
# ... and the module tree then assumed: Llama's, with a router and experts when the architecture has MoE blocks.
GENERIC_TREE = _decoder_tree(mlp=_MOE_MLP)


def family(model_type: str | None) -> Family | None:
    return FAMILIES.get(model_type or "")


def modules_for(model_type: str | None) -> Mapping[str, tuple[str, ...]]:
    """LoRA target name -> roles for a family; the separate q/k/v/o layout when the family is unknown."""
    fam = family(model_type)
    return fam.modules if fam is not None else GENERIC_MODULES


def tree_for(model_type: str | None) -> str:
    """The family's module tree (llmspec.spec.module_tree); Llama's (with MoE blocks) when the family is unknown."""
    fam = family(model_type)
    return fam.tree if fam is not None else GENERIC_TREE


@dataclass(frozen=True)
class Preset:
    name: str
    """What users type: llmspec init --preset NAME, extends = "preset:NAME" (case-insensitive)."""
    repo: str
    """The Hugging Face repository whose config.json this is (the source)."""
    file: str
    """llmspec/data/presets/<file>.json: that config.json, verbatim."""

    def config(self) -> dict[str, Any]:
        return json.loads((PRESET_DIR / f"{self.file}.json").read_text(encoding="utf-8"))


PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("Llama-2-7B", "meta-llama/Llama-2-7b-hf", "Llama-2-7b-hf"),  # llama, MHA
    Preset("Llama-3-8B", "meta-llama/Meta-Llama-3-8B", "Meta-Llama-3-8B"),  # llama, GQA, 128k vocabulary
    Preset("Mistral-7B", "mistralai/Mistral-7B-v0.1", "Mistral-7B-v0.1"),  # mistral, GQA
    Preset("Mixtral-8x7B", "mistralai/Mixtral-8x7B-v0.1", "Mixtral-8x7B-v0.1"),  # mixtral, 8 experts top-2
    Preset("Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B", "Qwen2.5-0.5B"),  # qwen2, q/k/v biases, tied embeddings
    Preset("Qwen2.5-7B", "Qwen/Qwen2.5-7B", "Qwen2.5-7B"),  # qwen2, untied
    Preset("Qwen3-8B", "Qwen/Qwen3-8B", "Qwen3-8B"),  # qwen3, q/k RMSNorm
    Preset("Qwen3-30B-A3B", "Qwen/Qwen3-30B-A3B", "Qwen3-30B-A3B"),  # qwen3_moe
    Preset("Qwen1.5-MoE-A2.7B", "Qwen/Qwen1.5-MoE-A2.7B", "Qwen1.5-MoE-A2.7B"),  # qwen2_moe, shared expert
    Preset("Gemma-7B", "google/gemma-7b", "gemma-7b"),  # gemma, head_dim 256, GeGLU, tied
    Preset("Gemma-2-9B", "google/gemma-2-9b", "gemma-2-9b"),  # gemma2, 4 norms per layer
    Preset("Phi-3-mini-4k", "microsoft/Phi-3-mini-4k-instruct", "Phi-3-mini-4k-instruct"),  # phi3, fused
    Preset("GPT-2", "openai-community/gpt2", "gpt2"),  # gpt2, learned positions, Conv1D
    Preset("Pythia-1.4B", "EleutherAI/pythia-1.4b", "pythia-1.4b"),  # gpt_neox, parallel residual
    Preset("Falcon-7B", "tiiuae/falcon-7b", "falcon-7b"),  # falcon, multi-query, 1 norm per layer
    Preset("Falcon-40B", "tiiuae/falcon-40b", "falcon-40b"),  # falcon, new decoder architecture
    Preset("OPT-1.3B", "facebook/opt-1.3b", "opt-1.3b"),  # opt, learned positions + 2, relu
    Preset("OLMo-1B", "allenai/OLMo-1B-hf", "OLMo-1B-hf"),  # olmo, non-parametric layer norm
]}


class UnknownPreset(ValueError):
    """A preset name that is not in PRESETS (the message has a did-you-mean and the list)."""


def preset(name: str) -> Preset:
    by_lower = {p.lower(): p for p in PRESETS}
    found = by_lower.get(name.strip().lower())
    if found is not None:
        return PRESETS[found]
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.5)
    hint = f'did you mean "{by_lower[close[0]]}"? ' if close else ""
    raise UnknownPreset(f"unknown preset {name!r}; {hint}presets: {', '.join(PRESETS)}")


@lru_cache(maxsize=64)
def _preset_arch(name: str) -> tuple[str, str]:
    from llmspec.spec.hf_import import architecture_from_hf

    family_name, arch = architecture_from_hf(PRESETS[name].config())
    return family_name, json.dumps(arch)


def preset_spec(name: str) -> dict[str, Any]:
    """The spec tables a preset stands for: [model] name, family and architecture (a fresh dict each call)."""
    p = preset(name)
    family_name, arch = _preset_arch(p.name)
    return {"model": {"name": p.name, "family": family_name, "architecture": json.loads(arch)}}
