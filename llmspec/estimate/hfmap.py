"""Architecture -> Hugging Face config (for ``--measure``; transformers imported lazily by the caller).

The mapping picks the transformers class whose module structure the Architecture describes:
Llama (RMSNorm, SwiGLU, RoPE, no biases; Mistral/TinyLlama are Llama-shaped), Qwen2 (+ q/k/v bias),
Qwen3 (+ qk_norm), GPT-2 (learned positions, LayerNorm, GELU, biases), and for MoE Mixtral, Qwen3-MoE or
Qwen2-MoE, only when the class builds exactly the spec's parameters (``_moe_config``); anything else raises
UnsupportedArchitecture and needs ``model.hf_config``.
"""

from __future__ import annotations

import json
from pathlib import Path

from llmspec.spec.models import Spec


class UnsupportedArchitecture(ValueError):
    pass


def config_dict(spec: Spec) -> dict:
    """A config.json-style dict for the spec's architecture."""
    if spec.model.hf_config and spec.source is not None and getattr(spec.source, "path", None):
        path = Path(spec.source.path).parent / spec.model.hf_config
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    a = spec.arch
    common = dict(vocab_size=a.vocab_size, hidden_size=a.d_model, num_hidden_layers=a.n_layers,
                  num_attention_heads=a.n_heads, max_position_embeddings=a.context_length,
                  tie_word_embeddings=a.tie_embeddings, use_cache=False)
    if a.position == "learned" and a.norm == "layernorm" and not a.gated:
        if a.head_dim not in (None, a.d_model // a.n_heads) or a.kv_heads != a.n_heads:
            raise UnsupportedArchitecture("GPT-2 style models need head_dim = d_model / n_heads and no GQA")
        return dict(model_type="gpt2", vocab_size=a.vocab_size, n_embd=a.d_model, n_layer=a.n_layers,
                    n_head=a.n_heads, n_inner=a.ffn_dim, n_positions=a.learned_positions or a.context_length,
                    activation_function="gelu_new", tie_word_embeddings=True, use_cache=False,
                    resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    if a.position != "rope" or a.norm != "rmsnorm" or a.activation != "swiglu" or a.parallel_attention:
        raise UnsupportedArchitecture(
            f"no built-in transformers mapping for norm={a.norm}, activation={a.activation}, position={a.position},"
            " parallel_attention; set model.hf_config to the model's config.json"
        )
    rope = dict(num_key_value_heads=a.kv_heads, head_dim=a.head_size, intermediate_size=a.ffn_dim,
                rms_norm_eps=1e-5, hidden_act="silu", attention_dropout=0.0)
    if a.moe is not None:
        return _moe_config(a, common, rope)
    if a.qk_norm:
        return dict(model_type="qwen3", **common, **rope, attention_bias=a.qkv_bias)
    if a.qkv_bias and not a.attn_out_bias:
        return dict(model_type="qwen2", **common, **rope)
    return dict(model_type="llama", **common, **rope, attention_bias=a.qkv_bias, mlp_bias=a.mlp_bias)


def _moe_config(a, common: dict, rope: dict) -> dict:
    """The transformers MoE class that builds exactly this architecture, else UnsupportedArchitecture.

    Mixtral: routed experts only in every block, no biases, no qk_norm. Qwen3-MoE: + qk_norm, attention_bias on
    q/k/v/o, dense blocks via mlp_only_layers. Qwen2-MoE: q/k/v bias, one gated shared expert, mlp_only_layers.
    MoE.dense_layers are the first blocks (DeepSeek's first_k_dense_replace), mapped to mlp_only_layers."""
    m = a.moe
    expert_f = m.expert_ffn_dim or a.ffn_dim
    dense = list(range(m.dense_layers))
    why = []
    if m.router_bias:
        why.append("a router bias")
    if a.mlp_bias:
        why.append("MLP biases")
    if m.shared_experts > 1:
        why.append(f"{m.shared_experts} shared experts")
    if m.shared_experts and not m.shared_expert_gate:
        why.append("an ungated shared expert")
    if not why and m.shared_experts == 1 and not a.qk_norm and not a.attn_out_bias:
        return dict(model_type="qwen2_moe", **common, **rope, qkv_bias=a.qkv_bias, num_experts=m.n_experts,
                    num_experts_per_tok=m.experts_per_token, moe_intermediate_size=expert_f,
                    shared_expert_intermediate_size=m.shared_expert_ffn_dim or expert_f,
                    mlp_only_layers=dense, decoder_sparse_step=1)
    if not why and not m.shared_experts and a.qk_norm and a.qkv_bias == a.attn_out_bias:
        return dict(model_type="qwen3_moe", **common, **rope, attention_bias=a.qkv_bias, num_experts=m.n_experts,
                    num_experts_per_tok=m.experts_per_token, moe_intermediate_size=expert_f,
                    mlp_only_layers=dense, decoder_sparse_step=1)
    if not why and not m.shared_experts and not (dense or a.qk_norm or a.qkv_bias or a.attn_out_bias):
        rope["intermediate_size"] = expert_f
        return dict(model_type="mixtral", **common, **rope, num_local_experts=m.n_experts,
                    num_experts_per_tok=m.experts_per_token)
    if not why:
        why.append(f"qk_norm={a.qk_norm}, qkv_bias={a.qkv_bias}, attn_out_bias={a.attn_out_bias}, "
                   f"shared_experts={m.shared_experts}, dense_layers={m.dense_layers} together")
    raise UnsupportedArchitecture(
        f"no built-in transformers MoE class (Mixtral, Qwen2-MoE, Qwen3-MoE) has {', '.join(why)}; set "
        "model.hf_config to the model's config.json for --measure")


def hf_config(spec: Spec, attn_implementation: str = "sdpa"):
    """A transformers PretrainedConfig for the spec."""
    from transformers import AutoConfig

    raw = dict(config_dict(spec))
    model_type = raw.pop("model_type")
    raw.pop("architectures", None)
    raw.pop("quantization_config", None)
    raw["use_cache"] = False
    cfg = AutoConfig.for_model(model_type, **raw)
    cfg._attn_implementation = attn_implementation
    return cfg
